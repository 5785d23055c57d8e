// writeReport: renders a run folder into its report.html (atomic write), with Chart.js inlined from the
// installed package.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RefitError, fsError } from '../errors.ts';
import { renderReportHtml } from './html.ts';
import { readRunParts } from './read-run.ts';
import { summarizeRun } from './run-data.ts';

let chartJsCache: string | undefined;

/**
 * The Chart.js UMD bundle's source. Resolved from the installed package at runtime (the CLI bundle keeps npm
 * packages external, so this works from src/ under tsx and from dist/refit.mjs alike).
 */
export function chartJsSource(): string {
  if (chartJsCache !== undefined) return chartJsCache;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('chart.js');
  } catch (e) {
    throw new RefitError('E_NO_CHARTJS', 'chart.js is not installed; run npm install in the refit folder', {
      cause: e,
    });
  }
  chartJsCache = readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
  return chartJsCache;
}

/**
 * Writes `run_dir/report.html` from the run's events, plan, metrics and config; returns its path. Each torn
 * events line it skipped is passed to `note` (and listed among the report's incidents).
 */
export async function writeReport(opts: { run_dir: string; note?: (line: string) => void }): Promise<string> {
  const parts = readRunParts(opts.run_dir);
  for (const line of parts.skipped ?? []) opts.note?.(line);
  const model = summarizeRun(parts);
  const html = renderReportHtml({ model, chartJs: chartJsSource() });
  const path = join(opts.run_dir, 'report.html');
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, html);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsError(e, path) ?? e; // a read-only or full run folder: one line naming report.html
  }
  return path;
}
