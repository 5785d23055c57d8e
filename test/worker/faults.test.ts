// Fault paths of the real worker: injected OOM keeps the step lossless, injected crash is reported as a
// crash once per run folder, start failures and request timeouts reject, and no torch gives E_NO_TORCH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../../src/errors.ts';
import { RunLog } from '../../src/log.ts';
import { findPython, WorkerCrashError, WorkerProcess, type MicroBatch } from '../../src/worker/index.ts';
import {
  expectEvent,
  makeExamples,
  maxDiff,
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
const dsPath = writeDataset(join(dir, 'train.refit-ds'), makeExamples(16));
const mb = (indices: number[]): MicroBatch => ({ indices, seq_len: 24 });
const STEP1 = [mb([0, 1, 2, 3]), mb([4, 5, 6, 7])];
const STEP2 = [mb([8, 9, 10, 11]), mb([12, 13, 14, 15])];
const INJECTED =
  'CUDA out of memory. Tried to allocate 192.00 MiB. GPU 0 has a total capacity of 11.75 GiB of which 89.25 MiB is free.';

async function runTwoSteps(env: Record<string, string>, out: string): Promise<{ events: unknown[] }> {
  const { worker } = await startWorker(env);
  try {
    await expectEvent(worker, tinyLoad(), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    const events: unknown[] = [
      await expectEvent(
        worker,
        { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 8, micro_batches: STEP1 },
        'step',
      ),
    ];
    const first = await worker.request({
      type: 'train_step',
      step: 2,
      dataset: 'train',
      logical_batch_size: 8,
      micro_batches: STEP2,
    });
    events.push(first);
    if (first.type === 'oom') {
      // What the supervisor does: re-split the remaining examples smaller and continue the same step.
      const rest = STEP2.slice(first.completed_micro_batches).flatMap((m) => m.indices);
      const smaller = [0, 2, 4, 6].map((i) => mb(rest.slice(i, i + 2)));
      events.push(
        await expectEvent(
          worker,
          {
            type: 'train_step',
            step: 2,
            dataset: 'train',
            logical_batch_size: 8,
            micro_batches: smaller,
            continue: true,
          },
          'step',
        ),
      );
    }
    await expectEvent(worker, { type: 'save', path: out, checkpoint: false, step: 2 }, 'saved');
    return { events };
  } finally {
    await worker.close();
  }
}

test(
  'REFIT_INJECT_OOM: oom event with the verbatim message, continue finishes the same step losslessly',
  { skip },
  async () => {
    const clean = await runTwoSteps({}, join(dir, 'clean'));
    const faulty = await runTwoSteps({ REFIT_INJECT_OOM: '2' }, join(dir, 'faulty'));
    const oom = faulty.events[1] as {
      type: string;
      step: number;
      completed_micro_batches: number;
      message: string;
      memory: { device: string };
    };
    assert.equal(oom.type, 'oom');
    assert.equal(oom.step, 2);
    assert.equal(oom.completed_micro_batches, 0);
    assert.ok(oom.message.startsWith(INJECTED), oom.message);
    assert.match(
      oom.message,
      /expandable_segments:True to avoid fragmentation\.  See documentation for Memory Management/,
    );
    const [a, b] = [clean.events[1], faulty.events[2]] as Array<{
      loss: number;
      grad_norm: number;
      examples: number;
    }>;
    assert.equal(b.examples, 8);
    // fp32, dropout off: 2x4 vs 4x2 micro-batches differ only in summation order (≈1e-7 relative).
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * a.loss, `${a.loss} vs ${b.loss}`);
    assert.ok(Math.abs(a.grad_norm - b.grad_norm) <= 1e-5 * a.grad_norm, `${a.grad_norm} vs ${b.grad_norm}`);
    const diff = maxDiff(
      readSafetensors(join(dir, 'clean', 'model.safetensors')).tensors,
      readSafetensors(join(dir, 'faulty', 'model.safetensors')).tensors,
    );
    assert.ok(diff <= 1e-6, `weights after the step differ by ${diff}`);
  },
);

test(
  'REFIT_INJECT_CRASH: abrupt exit reported as a crash; a restarted worker passes the step',
  { skip },
  async () => {
    const state = tempDir('refit-inject-');
    const env = { REFIT_INJECT_CRASH: '2', REFIT_INJECT_STATE: state };
    const { worker, log } = await startWorker(env);
    await expectEvent(worker, tinyLoad(), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    await expectEvent(
      worker,
      { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 8, micro_batches: STEP1 },
      'step',
    );
    const err = await worker
      .request({ type: 'train_step', step: 2, dataset: 'train', logical_batch_size: 8, micro_batches: STEP2 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    assert.ok(err instanceof WorkerCrashError, String(err));
    assert.deepEqual(
      [err.reason, err.exit_code, err.signal, err.state, err.step],
      ['exit', 137, null, 'running', 2],
    );
    assert.ok(
      err.stderr_tail.some((l) => l.includes('REFIT_INJECT_CRASH')),
      err.stderr_tail.join('\n'),
    );
    assert.match(
      err.message,
      /exit code 137, signal none, state running, step 2; last stderr: .*REFIT_INJECT_CRASH/,
    );
    assert.equal(worker.state, 'crashed');
    assert.ok(
      log.lastLines(50).some((l) => l.includes('REFIT_INJECT_CRASH')),
      'stderr reached the run log',
    );
    await assert.rejects(worker.request({ type: 'memory' }), WorkerCrashError);
    assert.ok(existsSync(join(state, 'crashed-2')));
    const again = await startWorker(env);
    await expectEvent(again.worker, tinyLoad(), 'loaded');
    await expectEvent(again.worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    await expectEvent(
      again.worker,
      { type: 'train_step', step: 2, dataset: 'train', logical_batch_size: 8, micro_batches: STEP2 },
      'step',
    );
    await again.worker.close();
  },
);

test(
  'start rejects as soon as the child dies; a request past its timeout kills the worker',
  { skip },
  async () => {
    const log = new RunLog();
    const spawnErr = await WorkerProcess.start({
      python: join(dir, 'no-such-python'),
      env: process.env,
      log,
    }).catch((e: unknown) => e);
    assert.ok(
      spawnErr instanceof WorkerCrashError && spawnErr.reason === 'spawn' && spawnErr.state === 'starting',
      String(spawnErr),
    );
    const started = Date.now();
    const exitErr = await WorkerProcess.start({
      python: python!,
      env: { ...process.env, PYTHONPATH: '' },
      log,
      start_timeout_ms: 60_000,
    }).then(
      async (w) => {
        await w.close();
        return null;
      },
      (e: unknown) => e,
    );
    assert.equal(exitErr, null, 'the worker path is added to PYTHONPATH by start()');
    const bad = await WorkerProcess.start({ python: '/bin/false', env: process.env, log }).catch(
      (e: unknown) => e,
    );
    assert.ok(bad instanceof WorkerCrashError && bad.reason === 'exit' && bad.exit_code === 1, String(bad));
    const silent = join(dir, 'silent-python');
    writeFileSync(silent, '#!/bin/sh\nexec sleep 60\n');
    chmodSync(silent, 0o755);
    const hung = await WorkerProcess.start({
      python: silent,
      env: process.env,
      log,
      start_timeout_ms: 300,
    }).catch((e: unknown) => e);
    assert.ok(
      hung instanceof WorkerCrashError && hung.reason === 'start-timeout' && hung.state === 'starting',
      String(hung),
    );
    assert.ok(Date.now() - started < 30_000);
    const { worker } = await startWorker();
    await expectEvent(worker, tinyLoad(), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    const slow = await worker
      .request(
        { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 8, micro_batches: STEP1 },
        { timeout_ms: 1 },
      )
      .catch((e: unknown) => e);
    assert.ok(
      slow instanceof WorkerCrashError && slow.reason === 'request-timeout' && slow.step === 1,
      String(slow),
    );
    assert.equal(worker.state, 'crashed');
  },
);

test('close escalates to SIGTERM, then SIGKILL, for a child that ignores shutdown and SIGTERM', async () => {
  // A stand-in that says `ready` and then ignores everything (an ignored signal stays ignored across exec).
  const stubborn = join(dir, 'stubborn-python');
  const ready = JSON.stringify({
    type: 'ready',
    protocol_version: 1,
    torch_version: 'none',
    python_version: 'none',
    capabilities: {},
    num_threads: 1,
  });
  writeFileSync(stubborn, `#!/bin/sh\ntrap '' TERM\necho '${ready}'\nexec sleep 60\n`);
  chmodSync(stubborn, 0o755);
  const log = new RunLog();
  const worker = await WorkerProcess.start({ python: stubborn, env: process.env, log });
  const started = Date.now();
  await worker.close({ grace_ms: 200 });
  assert.equal(worker.state, 'stopped');
  assert.ok(Date.now() - started < 5_000);
  const lines = log.lastLines(20).join('\n');
  assert.match(lines, /ignored shutdown for 200 ms: SIGTERM/);
  assert.match(lines, /ignored SIGTERM for 200 ms: SIGKILL/);
  assert.match(lines, /worker exited: code none, signal SIGKILL/);
});

test('findPython: E_NO_TORCH lists every interpreter tried and the install command', async () => {
  const err = await findPython({
    env: { PATH: process.env.PATH, REFIT_PYTHON: join(dir, 'no-such-python') },
    candidates: [],
  }).catch((e: unknown) => e);
  assert.ok(err instanceof RefitError && err.code === 'E_NO_TORCH', String(err));
  assert.match(err.message, /no-such-python: not found/);
  assert.match(err.message, /apt-get install python3-torch.*pip install torch numpy.*REFIT_PYTHON/);
  assert.ok(!err.message.includes('\n'));
  // The first python3 on PATH may lack torch (pyenv here): then it is a real interpreter without torch.
  const plain = execFileSync('sh', ['-c', 'command -v python3 || true']).toString().trim();
  const plainHasTorch =
    plain !== '' &&
    (() => {
      try {
        execFileSync(plain, ['-c', 'import torch']);
        return true;
      } catch {
        return false;
      }
    })();
  if (plain && !plainHasTorch) {
    const e2 = await findPython({ env: { ...process.env, REFIT_PYTHON: plain }, candidates: [] }).catch(
      (e: unknown) => e,
    );
    assert.ok(e2 instanceof RefitError && e2.code === 'E_NO_TORCH');
    assert.match(e2.message, /No module named 'torch'/);
  }
  if (python) {
    // A REFIT_PYTHON that is not there is that error, not silently replaced by a default candidate.
    const e3 = await findPython({ env: { ...process.env, REFIT_PYTHON: join(dir, 'no-such-python') } }).catch(
      (e: unknown) => e,
    );
    assert.ok(e3 instanceof RefitError && e3.code === 'E_NO_TORCH', String(e3));
    assert.match(e3.message, /REFIT_PYTHON=.*no-such-python: not found; no other interpreter is tried/);
    const env = { ...process.env };
    delete env.REFIT_PYTHON;
    const found = await findPython({ env });
    assert.equal(found.python, python, 'unset, the default candidates are tried');
    assert.match(found.torch_version, /^\d+\.\d+/);
  }
});
