// Optimizer offload streams each gradient to host memory as backward produces it (worker grad_stream.py). In the
// real worker on CPU: with gradient accumulation (3 micro-batches a step), checkpointing off and on and clipping that
// bites (max_grad_norm 0.05), optimizer and all give the losses, gradient norms and weights of the run without
// offload within 1e-6; an injected OOM that drops a step's first micro-batch and a `continue` with it re-split give
// the same as without offload; and the in-process checks (worker/python/tests/check_offload_stream.py): one hook
// call per parameter per backward (checkpointing too, reentrant included), no gradient left on the device after a
// backward, an OOM half way through a later micro-batch's backward dropping only that micro-batch, and fp16's loss
// scaling on the host.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { LoadCommand, MicroBatch, WorkerProcess } from '../../src/worker/index.ts';
import type { Offload } from '../../src/memory/index.ts';
import {
  REPO,
  expectEvent,
  makeExamples,
  readSafetensors,
  maxDiff,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const python = await testPython();
const skip = !python && 'needs a python3 with torch (apt-get install python3-torch)';
const dir = tempDir();
const EXAMPLES = makeExamples(18);
const dsPath = writeDataset(join(dir, 'train.refit-ds'), EXAMPLES);
const TOLERANCE = 1e-6;
const workers: WorkerProcess[] = [];
after(async () => {
  for (const w of workers) await w.close();
});

const micro = (indices: number[]): MicroBatch => ({
  indices,
  seq_len: Math.max(...indices.map((i) => EXAMPLES[i].ids.length)),
});

interface Run {
  ooms: number;
  losses: number[];
  norms: number[];
  weights: Map<string, Float32Array>;
}

/**
 * Loads `load` and runs 4 steps of 9 examples in 3 micro-batches; an `oom` answer is continued as the supervisor
 * does, the remaining examples re-split one a micro-batch. The losses, gradient norms and saved weights.
 */
async function run(worker: WorkerProcess, name: string, load: LoadCommand): Promise<Run> {
  await expectEvent(worker, load, 'loaded');
  await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
  const losses: number[] = [];
  const norms: number[] = [];
  let ooms = 0;
  for (let step = 1; step <= 4; step++) {
    const first = ((step - 1) * 9) % 18;
    const idx = Array.from({ length: 9 }, (_, i) => first + i);
    const cmd = {
      type: 'train_step' as const,
      step,
      dataset: 'train',
      logical_batch_size: 9,
      micro_batches: [micro(idx.slice(0, 3)), micro(idx.slice(3, 6)), micro(idx.slice(6))],
    };
    let ev = await worker.request(cmd, { timeout_ms: 60_000 });
    if (ev.type === 'oom') {
      ooms++;
      const rest = idx.slice(3 * ev.completed_micro_batches);
      const resplit = [...rest.slice(0, 3).map((i) => micro([i])), micro(rest.slice(3))];
      ev = await worker.request({ ...cmd, continue: true, micro_batches: resplit }, { timeout_ms: 60_000 });
    }
    if (ev.type !== 'step') throw new Error(`step ${step}: ${JSON.stringify(ev).slice(0, 300)}`);
    losses.push(ev.loss);
    norms.push(ev.grad_norm);
  }
  const out = join(dir, name);
  await expectEvent(worker, { type: 'save', path: out, checkpoint: false, step: 4 }, 'saved');
  return { ooms, losses, norms, weights: readSafetensors(join(out, 'model.safetensors')).tensors };
}

function assertSame(r: Run, plain: Run, what: string): void {
  for (let i = 0; i < plain.losses.length; i++) {
    assert.ok(
      Math.abs(r.losses[i] - plain.losses[i]) <= TOLERANCE,
      `${what}: step ${i + 1} loss ${r.losses[i]} vs ${plain.losses[i]}`,
    );
    assert.ok(
      Math.abs(r.norms[i] - plain.norms[i]) <= TOLERANCE * Math.max(1, plain.norms[i]),
      `${what}: step ${i + 1} grad_norm ${r.norms[i]} vs ${plain.norms[i]}`,
    );
  }
  const d = maxDiff(plain.weights, r.weights);
  assert.ok(d <= TOLERANCE, `${what}: weights differ by ${d}`);
}

const LOAD = tinyLoad({ schedule: { warmup_steps: 1, total_steps: 10 }, max_grad_norm: 0.05 }, 0.1);

test(
  'optimizer and all stream the gradients with the losses, norms and weights of no offload (3 micro-batches a step, checkpointing off and on, clipping)',
  { skip },
  async () => {
    const { worker } = await startWorker();
    workers.push(worker);
    for (const checkpointing of [false, true]) {
      const base = { ...LOAD, grad_checkpointing: checkpointing };
      const plain = await run(worker, `none-${checkpointing}`, { ...base, offload: 'none' });
      assert.ok(
        plain.norms.every((n) => n > LOAD.max_grad_norm),
        'every step is clipped',
      );
      for (const offload of ['optimizer', 'all'] as Offload[])
        assertSame(
          await run(worker, `${offload}-${checkpointing}`, { ...base, offload }),
          plain,
          `${offload}, checkpointing ${checkpointing}`,
        );
    }
  },
);

test(
  "an injected OOM drops step 2's first micro-batch; continued re-split, optimizer offload gives what no offload gives",
  { skip },
  async () => {
    const { worker } = await startWorker({ REFIT_INJECT_OOM: '2' });
    workers.push(worker);
    const base = { ...LOAD, grad_checkpointing: true };
    const plain = await run(worker, 'oom-none', { ...base, offload: 'none' });
    assert.equal(plain.ooms, 1);
    for (const offload of ['optimizer', 'all'] as Offload[]) {
      const r = await run(worker, `oom-${offload}`, { ...base, offload });
      assert.equal(r.ooms, 1, `${offload}: one OOM, once per load`);
      assertSame(r, plain, `${offload} after the OOM`);
    }
  },
);

test(
  'in-process: one hook call per parameter per backward, no device gradient after backward, a half-sent micro-batch dropped exactly, fp16 scaling on the host',
  { skip, timeout: 300_000 },
  () => {
    const r = spawnSync(python!, [join(REPO, 'worker/python/tests/check_offload_stream.py'), dsPath], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    const out = r.stdout || `{"ok":false,"stderr":${JSON.stringify(r.stderr)}}`;
    const result = JSON.parse(out) as Record<string, unknown> & { ok: boolean };
    assert.ok(result.ok, JSON.stringify(result, null, 1));
  },
);
