// Shared by the several-rank tests (distributed, distributed-faults, distributed-fsdp): one short real training run
// (bert-tiny, dropout 0, one epoch of 6 steps of 16, a checkpoint every 3 steps, one thread a rank), the loss of each
// step, and the comparisons those tests make between runs.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining, StopRequest } from '../../src/run/index.ts';
import { readEvents, readMetrics, runEnv, tinyConfig, tinyData } from './helpers.ts';

export interface RankRunOptions {
  /** distributed.nproc_per_node (1: one process). */
  ranks?: number;
  /** memory.micro_batch_size (per rank) under memory.mode=manual. */
  micro?: number;
  overrides?: string[];
  env?: Record<string, string>;
  resume?: boolean;
  epochs?: number;
  /** Ctrl-C after this step (the run then throws `interrupted`, keeping a checkpoint). */
  stop_after?: number;
}

/** A runner of such runs over one dataset, each in its own folder under one temporary base (`name`). */
export function rankRunner(prefix: string) {
  const data = tinyData();
  const base = mkdtempSync(join(tmpdir(), prefix));
  return (name: string, o: RankRunOptions = {}) => {
    const stop = new StopRequest();
    return runTraining({
      config: tinyConfig(data, [
        'model.dropout=0',
        `train.epochs=${o.epochs ?? 1}`,
        'memory.mode=manual',
        `memory.micro_batch_size=${o.micro ?? 4}`,
        `distributed.nproc_per_node=${o.ranks ?? 1}`,
        ...(o.overrides ?? []),
      ]),
      out: join(base, name),
      resume: o.resume,
      env: runEnv(o.env),
      checkpoint_every: 3,
      num_threads: 1,
      stop,
      reporters: o.stop_after
        ? [{ onStep: (e) => void (e.step === o.stop_after && stop.request('SIGINT')) }]
        : [],
    });
  };
}

/** Loss per step number (a step replayed after a restart counts once: its last occurrence). */
export function lossByStep(run: string): number[] {
  const m = new Map<number, number>();
  for (const e of readEvents(run)) if (e.event === 'step') m.set(e.step, e.loss);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, loss]) => loss);
}

/** The same per-step losses, each within 1e-4 (relative). */
export function closeLosses(a: number[], b: number[], what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) =>
    assert.ok(
      Math.abs(x - b[i]) <= 1e-4 * Math.max(1e-6, Math.abs(b[i])),
      `${what}: step ${i + 1}: ${x} vs ${b[i]}`,
    ),
  );
}

/** `run` trained like `clean`: the same optimizer steps and examples, the same losses within 1e-4. */
export function sameRun(run: string, clean: string): void {
  const [m, c] = [readMetrics(run), readMetrics(clean)];
  assert.equal(m.train.optimizer_steps, c.train.optimizer_steps);
  assert.equal(m.train.examples_seen, c.train.examples_seen);
  closeLosses(lossByStep(run), lossByStep(clean), run);
}

/** The same test metrics (and training length) as `b`. */
export function sameTest(a: Record<string, any>, b: Record<string, any>): void {
  assert.equal(a.train.optimizer_steps, b.train.optimizer_steps);
  assert.equal(a.train.examples_seen, b.train.examples_seen);
  assert.equal(a.test.accuracy, b.test.accuracy);
  assert.equal(a.test.macro_f1, b.test.macro_f1);
}
