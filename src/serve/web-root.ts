// Finds the built web pages (dist/web, made by `npm run build`) from wherever this code runs: src/ under tsx
// or the bundled dist/refit.mjs.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding index.html, runs.html and plan.html, or null when the pages are not built. */
export function findWebRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidates = [join(dir, 'dist', 'web'), ...(basename(dir) === 'dist' ? [join(dir, 'web')] : [])];
    for (const c of candidates) if (existsSync(join(c, 'index.html'))) return c;
    dir = dirname(dir);
  }
  return null;
}
