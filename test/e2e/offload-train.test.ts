// `refit train … memory.offload=all` end to end with the built binary on the tiny preset (CPU, where the offload code
// path runs with plain host copies): it trains, is killed with SIGKILL mid-run and resumes from its last
// checkpoint, then exports model.onnx and predicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoDataArgs, writeDemoData } from '../web/tiny-run.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'refit-e2e-offload-'));
const run = join(dir, 'run');
const env: Record<string, string | undefined> = {
  ...process.env,
  REFIT_LOG: join(dir, 'cli.log'),
  REFIT_CACHE: join(dir, 'cache'),
};
delete env.REFIT_INJECT_OOM;
delete env.REFIT_INJECT_CRASH;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function refit(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/refit.mjs', ...args],
      { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 24 },
      (err, stdout, stderr) => done({ status: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

const events = (): Array<Record<string, any>> =>
  existsSync(join(run, 'events.jsonl'))
    ? readFileSync(join(run, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .flatMap((l) => {
          try {
            return [JSON.parse(l)];
          } catch {
            return []; // a line the kill cut short
          }
        })
    : [];

test('memory.offload=all: trains, resumes after kill -9, exports and predicts', async () => {
  if (!existsSync(join(ROOT, 'dist/refit.mjs')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  const data = writeDemoData(dir, { train: 64, valid: 16, test: 16 }, 5);
  // 64 examples in batches of 16: 4 steps an epoch, a checkpoint at each epoch's end
  const args = [
    ...demoDataArgs(data),
    'model.preset=bert-tiny',
    'train.epochs=3',
    'train.early_stopping_patience=0',
    'train.batch_size=16',
    'memory.max_seq_len=64',
    'memory.offload=all',
    'device=cpu',
    '--threads',
    '1',
  ];
  const child = spawn(process.execPath, ['bin/refit.mjs', 'train', ...args, '--out', run], {
    cwd: ROOT,
    env,
    stdio: 'ignore',
  });
  const closed = new Promise((r) => child.on('close', r));
  for (const t0 = Date.now(); Date.now() - t0 < 120_000; await sleep(50))
    if (events().filter((e) => e.event === 'step').length >= 6) break;
  child.kill('SIGKILL');
  await closed;
  const steps = events().filter((e) => e.event === 'step').length;
  assert.ok(steps >= 6 && steps < 12, `killed after step ${steps} of 12`);
  const plan = JSON.parse(readFileSync(join(run, 'plan.json'), 'utf8'));
  assert.equal(plan.decision.offload, 'all');
  assert.ok(plan.plan.host.total > 0, 'plan.json prices the host bytes');

  const resumed = await refit('train', '--out', run, '--resume', '--threads', '1');
  assert.equal(resumed.status, 0, resumed.stderr);
  const ev = events();
  assert.ok(ev.some((e) => e.event === 'resume'));
  const last = JSON.parse(readFileSync(join(run, 'checkpoints', 'last.json'), 'utf8'));
  assert.equal(last.levers.offload, 'all', 'the run state keeps the offload');
  const metrics = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(metrics.train.optimizer_steps, 12);
  assert.ok(Number.isFinite(metrics.test.accuracy));

  const exported = await refit('export', '--run', run);
  assert.equal(exported.status, 0, exported.stderr);
  assert.ok(existsSync(join(run, 'model', 'model.onnx')));
  const predicted = await refit(
    'predict',
    '--run',
    run,
    '--text',
    'Maya Okafor was born in Porto.',
    '--head',
    'Maya Okafor',
    '--tail',
    'Porto',
  );
  assert.equal(predicted.status, 0, predicted.stderr);
  assert.ok(JSON.parse(predicted.stdout.trim().split('\n')[0]).relation);
});
