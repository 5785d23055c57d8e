// Writes a small synthetic run folder (the documented run-folder file shapes) as INPUT for the report/serve/web
// tests. It is not a model: tests that need predictions train a real tiny run instead.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RELATIONS = ['None', 'born_in', 'works_for', 'located_in'];

/** Creates the run folder and returns its path; `steps` step events, one eval per 10 steps, optional run_end. */
export function writeSyntheticRun(opts: { steps?: number; finished?: boolean; dir?: string } = {}): string {
  const steps = opts.steps ?? 30;
  const dir = opts.dir ?? join(mkdtempSync(join(tmpdir(), 'refit-report-')), 'run-synthetic');
  mkdirSync(dir, { recursive: true });
  const plan = {
    engine: 'refit',
    mode: 'train',
    params: 11_200_000,
    peak_allocated_bytes: 900 * 2 ** 20,
    peak_reserved_bytes: 1000 * 2 ** 20,
    peak_device_bytes: 1500 * 2 ** 20,
    peak_phase: 'backward',
    budget_bytes: 2 * 2 ** 30,
    fits: true,
    breakdown: {
      weights: 45e6,
      gradients: 45e6,
      optimizer: 90e6,
      autocast_copies: 0,
      activations: 600e6,
      transients: 80e6,
      workspace: 8e6,
      context: 500e6,
      allocator_slack: 60e6,
    },
  };
  const lines: unknown[] = [{ event: 'run_start', total_steps: steps, plan, time: '2026-11-28T08:00:00Z' }];
  for (let i = 1; i <= steps; i++) {
    lines.push({
      event: 'step',
      step: i,
      loss: 1.4 * Math.exp(-i / 12) + 0.1,
      lr: 5e-5,
      grad_norm: 1.2,
      examples: 16,
      tokens: 900,
      padded_tokens: 1024,
      examples_per_s: 120 + (i % 5),
      tokens_per_s: 6800 + 10 * i,
      memory: {
        device: 'cuda',
        max_memory_allocated: 800 * 2 ** 20 + i * 2 ** 20,
        max_memory_reserved: 960 * 2 ** 20,
      },
      time: 0.1 * i,
    });
    if (i === 12)
      lines.push({
        event: 'oom',
        step: 12,
        message: 'CUDA out of memory. Tried to allocate 20.00 MiB',
        completed_micro_batches: 1,
        memory: { device: 'cuda', max_memory_allocated: 1900 * 2 ** 20, max_memory_reserved: 2000 * 2 ** 20 },
      });
    if (i === 12)
      lines.push({ event: 'recovery', step: 12, action: 'micro_batch_size', from: 16, to: 8, reason: 'oom' });
    if (i % 10 === 0) {
      lines.push({
        event: 'eval',
        epoch: i / 10,
        split: 'valid',
        accuracy: 0.5 + i / 100,
        macro_f1: 0.4 + i / 100,
        micro_f1: 0.45 + i / 100,
      });
    }
  }
  if (opts.finished ?? true) lines.push({ event: 'run_end', status: 'ok', optimizer_steps: steps });
  writeFileSync(join(dir, 'events.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan, null, 2));
  const block = {
    accuracy: 0.8,
    macro_f1: 0.7,
    micro_f1: 0.75,
    per_relation: Object.fromEntries(
      RELATIONS.slice(1).map((r, i) => [
        r,
        { precision: 0.7 + i / 20, recall: 0.6 + i / 20, f1: 0.65 + i / 20, support: 10 + i },
      ]),
    ),
    confusion: {
      labels: RELATIONS,
      matrix: RELATIONS.map((_, i) => RELATIONS.map((__, j) => (i === j ? 9 : 1))),
    },
  };
  writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ valid: block, test: block }, null, 2));
  writeFileSync(
    join(dir, 'config.yaml'),
    'data:\n  train: train.csv\nmodel:\n  preset: bert-mini\ntrain:\n  epochs: 3\n  batch_size: 16\n',
  );
  return dir;
}
