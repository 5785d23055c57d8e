// A run folder that cannot lie (issue 22, item 3): checkpoints appear under their final name only when whole, what a
// save cut short leaves is removed at the next run, a damaged newest checkpoint falls back to the newest complete one
// with a warning naming both, a damaged last.json is one line naming its field. The worker runs for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../src/run/index.ts';
import { cleanLeftovers, sealCheckpoint } from '../../src/run/checkpoints.ts';
import { initialState, loopStateProblem, readLoopState } from '../../src/run/loop-state.ts';
import { tinyConfig, tinyData, readEvents, runEnv } from './helpers.ts';

const data = tinyData();
const base = mkdtempSync(join(tmpdir(), 'refit-checkpoints-'));
const train = (out: string, o: { resume?: boolean; env?: Record<string, string>; notes?: string[] } = {}) =>
  runTraining({
    config: tinyConfig(data),
    out,
    resume: o.resume,
    env: runEnv(o.env),
    dropout: 0,
    checkpoint_every: 4,
    num_threads: 1,
    max_restarts: 0,
    notice: (l) => o.notes?.push(l),
  });
const errorOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  assert.fail('expected the run to fail');
};

/** A run of 2 epochs × 6 steps that died at step 10: checkpoints step-6 (epoch end) and step-8 kept. */
let died: Promise<string> | undefined;
const diedRun = () =>
  (died ??= (async () => {
    const out = join(base, 'died');
    const e = await errorOf(train(out, { env: { REFIT_INJECT_CRASH: '10' } }));
    assert.equal(e.code, 'E_WORKER_CRASH');
    return out;
  })());
const copyOf = async (name: string) => {
  const out = join(base, name);
  cpSync(await diedRun(), out, { recursive: true });
  return out;
};
const truncate = (path: string) => writeFileSync(path, readFileSync(path).subarray(0, 1000));

test('last.json: each missing field, a wrong type and text that is not JSON are one line naming them', () => {
  const good = { ...initialState({ micro_batch_size: 16, grad_checkpointing: false, max_seq_len: 64 }) };
  assert.equal(loopStateProblem(good), null);
  for (const k of Object.keys(good)) {
    const v: Record<string, unknown> = { ...good };
    delete v[k];
    assert.match(loopStateProblem(v)!, new RegExp(`^field "${k}" is missing \\(expected .+\\)$`));
  }
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ step: '8' }, 'field "step" is "8", expected a whole number ≥ 0'],
    [{ checkpoint: '../../etc' }, 'field "checkpoint" is "../../etc", expected a checkpoint folder'],
    [{ levers: { micro_batch_size: 0 } }, 'field "levers" is {"micro_batch_size":0}, expected an object'],
    [{ evals: [{ epoch: 1 }] }, 'field "evals" is [{"epoch":1}], expected a list'],
    [
      { best: { path: 'checkpoints/best-step-6' } },
      'field "best" is {"path":"checkpoints/best-step-6"}, expected null',
    ],
  ];
  for (const [over, line] of cases) assert.ok(loopStateProblem({ ...good, ...over })!.startsWith(line), line);
  const path = join(mkdtempSync(join(tmpdir(), 'refit-last-')), 'last.json');
  writeFileSync(path, '{"step": 8, "checkp');
  assert.throws(
    () => readLoopState(path),
    (e: Error & { code?: string }) =>
      e.code === 'E_RUN_FILE' &&
      e.message.startsWith(`${path}: not valid JSON (`) &&
      e.message.endsWith('so the run cannot be resumed (start it again with --force, or use another --out)'),
  );
});

test('sealCheckpoint replaces a folder of the same name by renames; cleanLeftovers removes only temporary names', () => {
  const run = mkdtempSync(join(tmpdir(), 'refit-seal-'));
  const ck = join(run, 'checkpoints');
  for (const d of ['.tmp-step-4', 'step-4', 'step-2', '.tmp-old-step-2', 'recovery'])
    mkdirSync(join(ck, d), { recursive: true });
  writeFileSync(join(ck, '.tmp-step-4', 'new'), '');
  writeFileSync(join(ck, 'step-4', 'old'), '');
  writeFileSync(join(ck, 'last.json.tmp-123'), '{');
  sealCheckpoint(join(ck, '.tmp-step-4'), join(ck, 'step-4'));
  assert.deepEqual(readdirSync(join(ck, 'step-4')), ['new']);
  assert.deepEqual(cleanLeftovers(run).sort(), ['.tmp-old-step-2', 'last.json.tmp-123', 'recovery']);
  assert.deepEqual(readdirSync(ck).sort(), ['step-2', 'step-4']);
});

test('a run keeps the checkpoint before its newest, each with its loop state', async () => {
  const run = await diedRun();
  const ck = join(run, 'checkpoints');
  assert.deepEqual(
    readdirSync(ck)
      .filter((f) => f.startsWith('step-'))
      .sort(),
    ['step-6', 'step-8'],
  );
  assert.equal(readLoopState(join(ck, 'step-6', 'state.json')).step, 6);
  assert.equal(readLoopState(join(ck, 'step-8', 'state.json')).checkpoint, 'checkpoints/step-8');
  assert.ok(!readdirSync(ck).some((f) => f.startsWith('.tmp-')));
});

test('a truncated newest checkpoint: --resume falls back to the older one with a warning, cleans leftovers, finishes', async () => {
  const run = await copyOf('truncated');
  truncate(join(run, 'checkpoints', 'step-8', 'checkpoint.pt'));
  mkdirSync(join(run, 'checkpoints', '.tmp-step-10'));
  const notes: string[] = [];
  const done = await train(run, { resume: true, notes, env: { REFIT_INJECT_CRASH: '10' } });
  assert.equal(done.metrics.train.optimizer_steps, 12);
  assert.deepEqual(
    notes.filter((l) => l.includes('damaged')),
    [
      'checkpoints/step-8 is damaged (checkpoint.pt is truncated (1000 bytes, no zip end record)); ' +
        'resuming from checkpoints/step-6, the newest complete checkpoint',
    ],
  );
  assert.equal(
    readEvents(run)
      .filter((e) => e.event === 'run_start')
      .at(-1)!.resumed_from_step,
    6,
  );
  assert.ok(!existsSync(join(run, 'checkpoints', '.tmp-step-10')));
  assert.match(
    readFileSync(join(run, 'refit.log'), 'utf8'),
    /removed what an interrupted checkpoint save left .*\.tmp-step-10/,
  );
});

test('a checkpoint.pt torch cannot read: the worker refuses it and --resume falls back to the older one', async () => {
  const run = await copyOf('garbled');
  const file = join(run, 'checkpoints', 'step-8', 'checkpoint.pt');
  const bytes = readFileSync(file);
  bytes.fill(0x55, 0, 400); // the zip's first records; its end record stays, so only torch finds out
  writeFileSync(file, bytes);
  // A checkpoint without manifest.json (an older refit's): its SHA-256 would say so before torch reads it.
  rmSync(join(run, 'checkpoints', 'step-8', 'manifest.json'));
  const notes: string[] = [];
  const done = await train(run, { resume: true, notes, env: { REFIT_INJECT_CRASH: '10' } });
  assert.equal(done.metrics.train.optimizer_steps, 12);
  const warning = notes.find((l) => l.includes('damaged'));
  assert.match(
    warning ?? '',
    /^checkpoints\/step-8 is damaged \(.*checkpoint\.pt: damaged checkpoint, torch cannot read it \(.*\)\); resuming from checkpoints\/step-6, the newest complete checkpoint$/,
  );
  assert.equal(readLoopState(join(run, 'checkpoints', 'last.json')).step, 12);
});

test('every checkpoint damaged: --resume is one line naming each and why', async () => {
  const run = await copyOf('all-damaged');
  rmSync(join(run, 'checkpoints', 'step-8', 'model.safetensors'));
  const weights = join(run, 'checkpoints', 'step-6', 'model.safetensors');
  const size = readFileSync(weights).length;
  writeFileSync(weights, readFileSync(weights).subarray(0, size - 100)); // the header whole, the data cut short
  const e = await errorOf(train(run, { resume: true }));
  assert.equal(e.code, 'E_RESUME');
  assert.equal(
    e.message,
    `${run}: no usable checkpoint to resume from (checkpoints/step-8: model.safetensors is missing; ` +
      `checkpoints/step-6: model.safetensors is truncated (${size - 100} of ${size} bytes)); start the run again ` +
      'with --force, or use another --out',
  );
});

test('a last.json without its step: --resume is one line naming the field', async () => {
  const run = await copyOf('no-step');
  const path = join(run, 'checkpoints', 'last.json');
  const { step: _, ...rest } = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify(rest));
  const e = await errorOf(train(run, { resume: true }));
  assert.equal(e.code, 'E_RUN_FILE');
  assert.match(e.message, /last\.json: field "step" is missing \(expected a whole number ≥ 0\); the record/);
});

test('the worker killed halfway through a save: no folder under a final name, --resume cleans up and finishes', async () => {
  const run = join(base, 'killed-in-save');
  const log = join(run, 'refit.log');
  const training = errorOf(train(run, { env: { REFIT_INJECT_SAVE_HANG: '8' } }));
  let pid: number | undefined;
  const until = Date.now() + 300_000;
  while (pid === undefined) {
    assert.ok(Date.now() < until, 'the worker never reached the injected hang in the step-8 save');
    await new Promise((r) => setTimeout(r, 200));
    const m = existsSync(log) && /worker\[(\d+)\] .*REFIT_INJECT_SAVE_HANG/.exec(readFileSync(log, 'utf8'));
    if (m) pid = Number(m[1]);
  }
  process.kill(pid, 'SIGKILL'); // as `kill -9` would, halfway through writing checkpoints/step-8
  assert.equal((await training).code, 'E_WORKER_CRASH');
  const ck = join(run, 'checkpoints');
  assert.ok(!existsSync(join(ck, 'step-8')), 'no step-8 under its final name');
  assert.deepEqual(readdirSync(join(ck, '.tmp-step-8')), ['config.json', 'model.safetensors']);
  assert.equal(readLoopState(join(ck, 'last.json')).checkpoint, 'checkpoints/step-6');
  const done = await train(run, { resume: true });
  assert.equal(done.metrics.train.optimizer_steps, 12);
  assert.equal(
    readEvents(run)
      .filter((e) => e.event === 'run_start')
      .at(-1)!.resumed_from_step,
    6,
  );
  assert.ok(!readdirSync(ck).some((f) => f.startsWith('.tmp-')));
});

test('the worker dying halfway through a save mid-run: restarted from the checkpoint before, the run finishes', async () => {
  const run = join(base, 'crashed-in-save');
  const done = await runTraining({
    config: tinyConfig(data),
    out: run,
    env: runEnv({ REFIT_INJECT_SAVE_CRASH: '8' }),
    dropout: 0,
    checkpoint_every: 4,
    num_threads: 1,
  });
  assert.equal(done.metrics.train.optimizer_steps, 12);
  const restart = readEvents(run).find((e) => e.event === 'restart');
  assert.equal(restart?.resume_step, 6);
  assert.ok(!readdirSync(join(run, 'checkpoints')).some((f) => f.startsWith('.tmp-')));
});
