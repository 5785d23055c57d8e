// The memory levers do not change the maths: micro-batch splits and gradient checkpointing give the same
// update, freezing freezes, SDPA matches eager; plus in-process checks (backward OOM, optimizer state).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { LoadCommand, MicroBatch, WorkerProcess } from '../../src/worker/index.ts';
import {
  expectEvent,
  makeExamples,
  readSafetensors,
  REPO,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const python = await testPython();
const skip = !python && 'needs a python3 with torch (apt-get install python3-torch)';
const dir = tempDir();
const dsPath = writeDataset(join(dir, 'train.refit-ds'), makeExamples(8));
let worker: WorkerProcess;

before(async () => {
  if (!skip) ({ worker } = await startWorker());
});
after(async () => {
  await worker?.close();
});

/** Loads `load`, runs one step over examples 0..7 split as `split`, and returns the saved weights. */
async function oneStep(
  name: string,
  load: LoadCommand,
  split: number[][],
): Promise<Map<string, Float32Array>> {
  await expectEvent(worker, load, 'loaded');
  await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
  // Each micro-batch padded to its own longest example (dynamic padding), as TS plans them.
  const micro: MicroBatch[] = split.map((indices) => ({
    indices,
    seq_len: Math.max(...indices.map((i) => makeExamples(8)[i].ids.length)),
  }));
  await expectEvent(
    worker,
    { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 8, micro_batches: micro },
    'step',
  );
  const out = join(dir, name);
  await expectEvent(worker, { type: 'save', path: out, checkpoint: false, step: 1 }, 'saved');
  return readSafetensors(join(out, 'model.safetensors')).tensors;
}

/** ||a - b|| / ||a - w0|| over all tensors: the relative difference of two updates from the same start. */
function relativeUpdateDiff(
  w0: Map<string, Float32Array>,
  a: Map<string, Float32Array>,
  b: Map<string, Float32Array>,
): number {
  let num = 0;
  let den = 0;
  for (const [k, v0] of w0) {
    const va = a.get(k)!;
    const vb = b.get(k)!;
    for (let i = 0; i < v0.length; i++) {
      num += (va[i] - vb[i]) ** 2;
      den += (va[i] - v0[i]) ** 2;
    }
  }
  return Math.sqrt(num / den);
}

// fp32 unit roundoff. Regrouping a sum of n fp32 terms (another micro-batch split, a fused kernel, a recomputed
// activation) changes it by at most about n·U times the sum of the terms' magnitudes (the bound for recursive
// summation; typically sqrt(n)·U). A gradient or logit of this 2-layer model passes through at most DEPTH chained
// reductions (per layer: attention scores, attention values, attention output, FFN in, FFN out, and the head),
// each over at most n terms, so DEPTH·n·U bounds the relative difference such reorderings can make. Real bugs
// (a micro-batch lost or counted twice, a wrong loss scale) move results by a large fraction of their size.
const U = 2 ** -24;
const DEPTH = 12;
/** The relative difference allowed between two fp32 results that differ only in reduction order over ≤ n terms. */
const reorderTolerance = (n: number) => DEPTH * n * U;
/** Tokens in examples 0..7: the longest sum a weight gradient of one step takes (over every token of the batch). */
const STEP_TOKENS = makeExamples(8).reduce((a, e) => a + e.ids.length, 0);

// SGD with lr 1000 makes the update (= -lr x gradient) dominate the weights, so comparing weights after
// the step compares gradients without the rounding of w - g hiding their differences.
const SGD = {
  kind: 'sgd' as const,
  lr: 1000,
  weight_decay: 0,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
};

test(
  '1x8, 4x2 and 8x1 micro-batches give the same gradient (fp32, within the reduction-order bound)',
  { skip },
  async () => {
    const load = tinyLoad({
      optimizer: SGD,
      max_grad_norm: 0,
      schedule: { warmup_steps: 0, total_steps: 10 },
    });
    await expectEvent(worker, load, 'loaded');
    await expectEvent(worker, { type: 'save', path: join(dir, 'w0'), checkpoint: false, step: 0 }, 'saved');
    const w0 = readSafetensors(join(dir, 'w0', 'model.safetensors')).tensors;
    const whole = await oneStep('1x8', load, [[0, 1, 2, 3, 4, 5, 6, 7]]);
    const pairs = await oneStep('4x2', load, [
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
    const singles = await oneStep('8x1', load, [[0], [1], [2], [3], [4], [5], [6], [7]]);
    for (const [name, w] of [
      ['4x2', pairs],
      ['8x1', singles],
    ] as const) {
      const rel = relativeUpdateDiff(w0, whole, w);
      assert.ok(
        rel <= reorderTolerance(STEP_TOKENS),
        `${name}: relative update difference ${rel} > ${reorderTolerance(STEP_TOKENS)}`,
      );
    }
  },
);

test(
  'gradient checkpointing gives the same gradient, dropout included (RNG replayed)',
  { skip },
  async () => {
    const load = tinyLoad(
      { optimizer: SGD, max_grad_norm: 0, schedule: { warmup_steps: 0, total_steps: 10 } },
      0.1,
    );
    const plain = await oneStep('plain', load, [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    const ckpt = await oneStep('ckpt', { ...load, grad_checkpointing: true }, [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    const w0 = await (async () => {
      await expectEvent(worker, load, 'loaded');
      await expectEvent(
        worker,
        { type: 'save', path: join(dir, 'w0d'), checkpoint: false, step: 0 },
        'saved',
      );
      return readSafetensors(join(dir, 'w0d', 'model.safetensors')).tensors;
    })();
    const rel = relativeUpdateDiff(w0, plain, ckpt);
    assert.ok(
      rel <= reorderTolerance(STEP_TOKENS),
      `relative update difference ${rel} > ${reorderTolerance(STEP_TOKENS)}`,
    );
  },
);

test('freeze_layers: embeddings and the lowest layers keep their weights', { skip }, async () => {
  const full = await expectEvent(worker, tinyLoad(), 'loaded');
  await expectEvent(worker, { type: 'save', path: join(dir, 'f0'), checkpoint: false, step: 0 }, 'saved');
  const w0 = readSafetensors(join(dir, 'f0', 'model.safetensors')).tensors;
  const frozenLoad = tinyLoad({ freeze_layers: 1, schedule: { warmup_steps: 0, total_steps: 10 } });
  const loaded = await expectEvent(worker, frozenLoad, 'loaded');
  // embeddings (100+64+2)*32 + 2*32 and one layer 4*(32*32+32) + 2*2*32 + 32*64+64 + 64*32+32
  assert.equal(full.trainable_params - loaded.trainable_params, 166 * 32 + 64 + 4 * 1056 + 128 + 2112 + 2080);
  const after = await oneStep('frozen', frozenLoad, [[0, 1, 2, 3, 4, 5, 6, 7]]);
  for (const [k, v] of w0) {
    if (k.startsWith('bert.pooler.')) continue; // the entity-start head does not use the pooler
    const frozen = k.startsWith('bert.embeddings.') || k.startsWith('bert.encoder.layer.0.');
    const same = v.every((x, i) => x === after.get(k)![i]);
    assert.equal(same, frozen, `${k} ${frozen ? 'moved although frozen' : 'did not move'}`);
  }
});

test('sdpa and eager attention give the same logits where torch has SDPA', { skip }, async (t) => {
  if (!worker.ready.capabilities.sdpa) {
    t.skip(
      `torch ${worker.ready.torch_version} has no scaled_dot_product_attention; the worker falls back to eager`,
    );
    return;
  }
  const batches = [{ indices: [0, 1, 2, 3], seq_len: 24 }];
  const logits: number[][][] = [];
  for (const attention of ['eager', 'sdpa'] as const) {
    await expectEvent(worker, tinyLoad({ attention }), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    logits.push(
      (await expectEvent(worker, { type: 'eval', dataset: 'train', tag: attention, batches }, 'eval_result'))
        .logits!,
    );
  }
  // fp32: the fused kernel changes summation order only (over the 24 key positions and the 32 hidden units).
  let num = 0;
  let den = 0;
  logits[0].forEach((row, i) =>
    row.forEach((v, j) => {
      num += (v - logits[1][i][j]) ** 2;
      den += v ** 2;
    }),
  );
  const rel = Math.sqrt(num / den);
  assert.ok(rel <= reorderTolerance(32), `relative logit difference ${rel} > ${reorderTolerance(32)}`);
});

test(
  'in-process checks: backward OOM keeps earlier micro-batches, no optimizer state when frozen, safetensors dtypes',
  { skip },
  () => {
    const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_levers.py'), dsPath], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    const out = run.stdout || `{"ok":false,"stderr":${JSON.stringify(run.stderr)}}`;
    const result = JSON.parse(out) as Record<string, unknown> & { ok: boolean };
    assert.ok(result.ok, JSON.stringify(result, null, 1));
  },
);
