// Shared state of one GPU-check run: options, the time budget, the results object and its incremental,
// atomic writing (JSON + markdown after every measured point, so a timeout still leaves partial results).
import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunLog } from '../../src/log.ts';
import type { GpuSpec } from '../../src/memory/index.ts';
import type { ReadyEvent } from '../../src/worker/index.ts';
import { renderMarkdown } from './report.ts';
import type { CheckResults } from './types.ts';

/** One run's context: where to write, which device, how much time is left. */
export interface CheckContext {
  out_dir: string;
  tmp_dir: string;
  python: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  /** 'cuda' on a GPU; 'cpu' in quick mode (tiny shapes, no budget enforcement). */
  device: 'cuda' | 'cpu';
  quick: boolean;
  /** CPU threads per worker (1 in the CPU smoke version: tiny shapes gain nothing from more); undefined = all cores. */
  num_threads: number | undefined;
  caps: ReadyEvent['capabilities'];
  gpu: GpuSpec | undefined;
  started_ms: number;
  budget_ms: number;
  results: CheckResults;
  /** Prints one progress line (stdout) and logs it. */
  say(line: string): void;
}

/** Milliseconds left of the run's budget. */
export function timeLeftMs(ctx: CheckContext): number {
  return ctx.budget_ms - (Date.now() - ctx.started_ms);
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${randomUUID()}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Writes gpu-check.json and gpu-check.md (atomically) with everything measured so far. */
export function saveResults(ctx: CheckContext): void {
  mkdirSync(ctx.out_dir, { recursive: true });
  ctx.results.elapsed_s = round((Date.now() - ctx.started_ms) / 1000, 1);
  ctx.results.updated_at = new Date().toISOString();
  writeAtomic(join(ctx.out_dir, 'gpu-check.json'), JSON.stringify(ctx.results, null, 2) + '\n');
  writeAtomic(join(ctx.out_dir, 'gpu-check.md'), renderMarkdown(ctx.results));
}

/** `x` rounded to `digits` decimals. */
export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The message of anything thrown, on one line. */
export function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 600);
}

/** Median of a list (NaN when empty). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
