// Launches Debian's Chromium through playwright-core for the web tests (never downloads a browser).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Path of the system Chromium the web tests drive. */
export const CHROMIUM = '/usr/bin/chromium';

/** Skip reason when no system Chromium is installed (false when tests can run). */
export const NO_BROWSER: string | false =
  !existsSync(CHROMIUM) && `needs ${CHROMIUM} (apt-get install chromium); no browser is downloaded`;

/** Starts a headless Chromium with no background network; playwright gives it a fresh temporary profile (user data dir). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
