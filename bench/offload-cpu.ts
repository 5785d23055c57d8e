// memory.offload on CPU (issue 21 item 4): the offload code path runs here with plain host copies, so every mode must
// give the losses of the run without it (optimizer and all stream each gradient to the host during backward, staged
// per micro-batch, and clip and step there). bert-tiny (2 layers, hidden 128) at 64 tokens, batch 8 in two
// micro-batches, dropout 0.1, AdamW, max_grad_norm 1.0, 6 steps, with checkpointing off and on: the per-step losses
// of each mode, their largest
// difference from the run without offload, and the seconds per step; then what the planner says offload does to
// BERT-large at 512 on an 8 GB card (refit fit / refit plan).
// Run: node --import tsx bench/offload-cpu.ts [--threads 2] [--out bench/results/offload-cpu.md]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunLog } from '../src/log.ts';
import {
  PRESETS,
  fitConfig,
  loadModelDims,
  plainConfig,
  planConfig,
  resolveGpu,
  type Offload,
} from '../src/memory/index.ts';
import { findPython, type MicroBatch } from '../src/worker/index.ts';
import { fixedLengths, writeSyntheticDataset } from './gpu-check-lib/dataset.ts';
import { CheckWorker, NUM_LABELS } from './gpu-check-lib/worker.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const OUT = resolve(arg('--out', join(ROOT, 'bench/results/offload-cpu.md')));
const THREADS = Number(arg('--threads', '2'));
const MODES: Offload[] = ['none', 'optimizer', 'activations', 'all'];
const STEPS = 6;
const BATCH = 8;
const SEQ = 64;

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

async function main(): Promise<void> {
  const { python, torch_version } = await findPython({ env: process.env });
  const dims = loadModelDims('bert-tiny', { vocab_size: 21128 });
  const dir = mkdtempSync(join(tmpdir(), 'refit-offload-bench-'));
  const lengths = fixedLengths(BATCH * STEPS, SEQ);
  const dataset = writeSyntheticDataset({
    dir,
    name: 'd',
    lengths,
    vocab_size: 21128,
    num_labels: NUM_LABELS,
    seed: 3,
  });
  const worker = await CheckWorker.start({
    python,
    env: process.env,
    log: new RunLog(),
    num_threads: THREADS,
  });
  const rows: string[] = [];
  let worst = 0;
  try {
    for (const ckpt of [false, true]) {
      let base: number[] = [];
      for (const offload of MODES) {
        await worker.load({
          dims,
          device: 'cpu',
          precision: 'fp32',
          attention: 'sdpa',
          grad_checkpointing: ckpt,
          optimizer: 'adamw',
          offload,
          total_steps: STEPS,
        });
        await worker.open('d', dataset);
        const losses: number[] = [];
        let seconds = 0;
        for (let s = 0; s < STEPS; s++) {
          const idx = Array.from({ length: BATCH }, (_, i) => s * BATCH + i);
          const micro: MicroBatch[] = [
            { indices: idx.slice(0, BATCH / 2), seq_len: SEQ },
            { indices: idx.slice(BATCH / 2), seq_len: SEQ },
          ];
          const ev = await worker.step({ step: s + 1, dataset: 'd', micro_batches: micro });
          if (ev.type !== 'step') throw new Error(`step ${s + 1}: ${ev.message}`);
          losses.push(ev.loss);
          if (s > 0) seconds += ev.seconds;
        }
        if (offload === 'none') base = losses;
        const diff = Math.max(...losses.map((l, i) => Math.abs(l - base[i])));
        worst = Math.max(worst, diff);
        rows.push(
          `| ${ckpt ? 'on' : 'off'} | ${offload} | ${losses.map((l) => l.toFixed(6)).join(', ')} | ${diff.toExponential(1)} | ` +
            `${(seconds / (STEPS - 1)).toFixed(3)} |`,
        );
        console.log(rows.at(-1));
      }
    }
  } finally {
    await worker.close();
  }
  // The planner on BERT-large at 512, effective batch 32, an 8 GB card
  const large = { ...PRESETS['bert-large'], vocab_size: 21128 };
  const config = plainConfig({ batch_size: 32, max_seq_len: 512 });
  const gpu = resolveGpu('8GB');
  const fit = fitConfig({ config, facts: { engine: 'refit' }, model: large, gpu });
  const without = fitConfig({
    config,
    facts: { engine: 'refit' },
    model: large,
    gpu,
    allow: { offload: ['none'] },
  });
  const plan = planConfig({
    config: plainConfig({
      batch_size: fit.config.micro_batch_size,
      max_seq_len: 512,
      precision: fit.config.precision,
      attention: fit.config.attention,
      grad_checkpointing: fit.config.grad_checkpointing,
      offload: fit.config.offload,
    }),
    facts: { engine: 'refit' },
    model: large,
    gpu,
  }).plan;
  const md = [
    '# memory.offload on CPU: the same losses as without it',
    '',
    `Command: \`node --import tsx bench/offload-cpu.ts --threads ${THREADS}\` (torch ${torch_version}, CPU, ${THREADS} threads).`,
    '',
    `bert-tiny (2 layers, hidden 128, vocab 21128) at ${SEQ} tokens, batch ${BATCH} in two micro-batches, dropout 0.1, ` +
      `AdamW, max_grad_norm 1.0, ${STEPS} steps from the same seed, every mode on the same worker (the offload code ` +
      'path with plain host copies: on CPU host and device are one memory, so there is no memory to save here). ' +
      'optimizer and all send each gradient to the host as backward produces it (added to the step’s once its ' +
      'micro-batch completes), then unscale, clip and step there. The seconds per step come ' +
      'from a shared 2-core machine: they show the copies cost something, not what they cost on a GPU.',
    '',
    `Largest |loss − loss without offload| over every step and mode: **${worst.toExponential(1)}** (required ≤ 1e-6).`,
    '',
    '| checkpointing | offload | losses, steps 1–6 | max difference | s/step (steps 2–6) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## The planner: BERT-large at 512, effective batch 32, an 8 GB card (`refit fit … --gpu 8GB`)',
    '',
    `Without offload (\`--offload none\`) the smallest configuration needs ${gib(without.peak_device_bytes)} of a ` +
      `${gib(without.budget_bytes)} budget (fits: ${without.fits}). With the exact levers fit chooses micro-batch ` +
      `${fit.config.micro_batch_size} × ${fit.config.grad_accumulation}, ${fit.config.precision}, ${fit.config.attention}, ` +
      `checkpointing ${fit.config.grad_checkpointing ? 'on' : 'off'}, offload ${fit.config.offload}: ` +
      `${gib(fit.peak_device_bytes)} on the device (fits: ${fit.fits}), ${gib(plan.host?.total ?? 0)} in host memory ` +
      `(optimizer states ${gib(plan.host?.optimizer ?? 0)}, fp32 copy ${gib(plan.host?.master_weights ?? 0)}, ` +
      `gradients ${gib(plan.host?.gradients ?? 0)}), ~${fit.predicted_examples_per_s} examples/s predicted over the ` +
      `host link of a card given by its size (PCIe 3.0 x16). Measured on a GPU by bench/gpu-check part (e).`,
    '',
  ].join('\n');
  writeFileSync(OUT, md);
  console.log(`wrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
