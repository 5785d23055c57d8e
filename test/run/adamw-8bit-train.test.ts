// `refit train … memory.optimizer=adamw-8bit` end to end on CPU with the built binary: a tiny run killed (SIGKILL)
// after its first epoch's checkpoint resumes from the 8-bit states, finishes, exports model.onnx and predicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeContexts } from '../../bench/faults/context.ts';
import { testPython } from '../worker/helpers.ts';
import { readEvents } from './helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const base = mkdtempSync(join(tmpdir(), 'refit-adamw8bit-'));
const skip = !(await testPython()) && 'needs a python3 with torch (apt-get install python3-torch)';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!skip && !existsSync(join(ROOT, 'dist/refit.mjs')))
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });

test('adamw-8bit: trains, resumes after kill -9, exports and predicts on CPU', { skip }, async () => {
  const ctx = probeContexts({ root: ROOT, base, env: { REFIT_LOG: join(base, 'cli.log') } })();
  const out = join(ctx.tmp, 'run');
  const args = [...ctx.tinyTrainArgs(), 'train.epochs=3', 'train.early_stopping_patience=0'];
  const child = ctx.spawnRefit(['train', ...args, 'memory.optimizer=adamw-8bit', '--out', out]);
  const closed = new Promise((done) => child.on('close', done));
  const steps = () =>
    (existsSync(join(out, 'events.jsonl')) ? readEvents(out) : []).filter((e) => e.event === 'step');
  // 64 examples in batches of 16: the epoch-end checkpoint is step 4; kill at step 6, so 5–6 are replayed
  for (const t0 = Date.now(); steps().length < 6 && Date.now() - t0 < 240_000;) await sleep(50);
  child.kill('SIGKILL');
  await closed;
  assert.ok(steps().length >= 6, `killed after ${steps().length} steps`);
  const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8'));
  assert.equal(plan.decision.optimizer, 'adamw-8bit');
  const r = await ctx.refit(['train', '--out', out, '--resume', '--threads', '1']);
  assert.equal(r.status, 0, r.stderr);
  const events = readEvents(out);
  assert.ok(events.some((e) => e.event === 'resume'));
  const losses = steps().map((e) => e.loss as number);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(existsSync(join(out, 'metrics.json')));
  assert.ok(existsSync(join(out, 'model', 'model.onnx')), 'model.onnx exported');
  const test = args.find((a) => a.startsWith('data.test='))!.slice('data.test='.length);
  const p = await ctx.refit(['predict', '--run', out, '--input', test]);
  assert.equal(p.status, 0, p.stderr);
  const rows = p.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(rows.length > 0 && rows.every((x) => typeof x.relation === 'string'), p.stdout.slice(0, 300));
});
