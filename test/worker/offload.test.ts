// memory.offload in the real worker: on CPU the offload code path runs with plain host copies, so each mode must give
// the losses and weights of the run without it (within 1e-6) over several AdamW steps, dropout and checkpointing
// included; a checkpoint saved with offload resumes the same (the host copy follows the restored weights).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LoadCommand, MicroBatch, WorkerProcess } from '../../src/worker/index.ts';
import type { Offload } from '../../src/memory/index.ts';
import {
  expectEvent,
  makeExamples,
  readSafetensors,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const python = await testPython();
const skip = !python && 'needs a python3 with torch (apt-get install python3-torch)';
const dir = tempDir();
const EXAMPLES = makeExamples(16);
const dsPath = writeDataset(join(dir, 'train.refit-ds'), EXAMPLES);
const TOLERANCE = 1e-6;
let worker: WorkerProcess;

before(async () => {
  if (!skip) ({ worker } = await startWorker());
});
after(async () => {
  await worker?.close();
});

const micro = (indices: number[]): MicroBatch => ({
  indices,
  seq_len: Math.max(...indices.map((i) => EXAMPLES[i].ids.length)),
});

/** Steps `from`..`to` (each over 8 examples in two micro-batches); their losses. */
async function steps(from: number, to: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = from; step <= to; step++) {
    const first = ((step - 1) * 8) % 16;
    const idx = Array.from({ length: 8 }, (_, i) => first + i);
    const ev = await expectEvent(
      worker,
      {
        type: 'train_step',
        step,
        dataset: 'train',
        logical_batch_size: 8,
        micro_batches: [micro(idx.slice(0, 3)), micro(idx.slice(3))],
      },
      'step',
    );
    losses.push(ev.loss);
  }
  return losses;
}

/** Loads `load`, runs 4 steps, saves; the losses and the weights. */
async function run(name: string, load: LoadCommand) {
  await expectEvent(worker, load, 'loaded');
  await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
  const losses = await steps(1, 4);
  const out = join(dir, name);
  await expectEvent(worker, { type: 'save', path: out, checkpoint: true, step: 4 }, 'saved');
  return { losses, weights: readSafetensors(join(out, 'model.safetensors')).tensors };
}

function maxWeightDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let d = 0;
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++) d = Math.max(d, Math.abs(v[i] - w[i]));
  }
  return d;
}

const LOAD = tinyLoad({ schedule: { warmup_steps: 1, total_steps: 10 } }, 0.1);

for (const checkpointing of [false, true]) {
  test(
    `every offload mode gives the losses and weights of the run without it within 1e-6 (checkpointing ${checkpointing ? 'on' : 'off'}, dropout 0.1, 4 AdamW steps)`,
    { skip },
    async () => {
      const base = { ...LOAD, grad_checkpointing: checkpointing };
      const plain = await run(`none-${checkpointing}`, { ...base, offload: 'none' });
      assert.ok(plain.losses[3] < plain.losses[0] + 1, 'it trains');
      for (const offload of ['optimizer', 'activations', 'all'] as Offload[]) {
        const r = await run(`${offload}-${checkpointing}`, { ...base, offload });
        for (let i = 0; i < 4; i++)
          assert.ok(
            Math.abs(r.losses[i] - plain.losses[i]) <= TOLERANCE,
            `${offload}: step ${i + 1} loss ${r.losses[i]} vs ${plain.losses[i]}`,
          );
        const d = maxWeightDiff(plain.weights, r.weights);
        assert.ok(d <= TOLERANCE, `${offload}: weights differ by ${d}`);
      }
    },
  );
}

test(
  'a checkpoint saved with optimizer offload resumes as the run that went on, with or without offload',
  { skip },
  async () => {
    const load: LoadCommand = { ...LOAD, offload: 'all' };
    const whole = await run('whole', load);
    // steps 1-2, saved; a fresh worker state restores it and runs steps 3-4
    await expectEvent(worker, load, 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    await steps(1, 2);
    const half = join(dir, 'half');
    await expectEvent(worker, { type: 'save', path: half, checkpoint: true, step: 2 }, 'saved');
    for (const offload of ['all', 'none'] as Offload[]) {
      await expectEvent(worker, { ...load, offload }, 'loaded');
      await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
      await expectEvent(worker, { type: 'restore', path: half }, 'restored');
      const rest = await steps(3, 4);
      for (let i = 0; i < 2; i++)
        assert.ok(
          Math.abs(rest[i] - whole.losses[i + 2]) <= TOLERANCE,
          `resumed with offload ${offload}: step ${i + 3} loss ${rest[i]} vs ${whole.losses[i + 2]}`,
        );
    }
  },
);
