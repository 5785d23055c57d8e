// The LoRA lever end to end with the built CLI and the real worker on CPU: `refit train … model.lora.rank=8` on the
// tiny preset trains; killed with SIGKILL (refit and its worker) and resumed, it continues the adapters (the losses
// after the resume are the uninterrupted run's); its model folder is a plain BERT (merged weights, no adapters)
// that the ONNX engine and the torch engine answer identically; predict and serve answer from it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { readDataset } from '../../src/data/index.ts';
import { openRunPredictor, type Predictor } from '../../src/infer/index.ts';
import { readSafetensors } from '../worker/helpers.ts';
import { CLI, NO_CLI, demoDataArgs, writeDemoData } from '../web/tiny-run.ts';
import { readEvents } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-lora-'));
const env: Record<string, string | undefined> = { ...process.env, REFIT_LOG: join(dir, 'cli.log') };
for (const k of ['REFIT_INJECT_OOM', 'REFIT_INJECT_CRASH', 'REFIT_INJECT_HANG', 'REFIT_INJECT_STATE'])
  delete env[k];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function refit(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: dir, env, encoding: 'utf8', maxBuffer: 1 << 26 },
      (err, stdout, stderr) => done({ status: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/** Loss per step (a step replayed after a resume counts once: its last occurrence). */
function lossByStep(run: string): number[] {
  const m = new Map<number, number>();
  for (const e of readEvents(run)) if (e.event === 'step') m.set(e.step, e.loss);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, loss]) => loss);
}

describe('refit train with model.lora.rank=8 (tiny preset, CPU)', { skip: NO_CLI }, () => {
  // 64 examples, batch 16: 4 steps an epoch, a checkpoint at each epoch's end; dropout 0 so runs compare exactly
  const data = writeDemoData(dir);
  const args = [
    'train',
    ...demoDataArgs(data),
    'model.preset=bert-tiny',
    'model.lora.rank=8',
    'model.dropout=0',
    'train.epochs=3',
    'train.batch_size=16',
    'train.learning_rate=0.001',
    'memory.max_seq_len=64',
    'device=cpu',
    '--threads',
    '1',
  ];
  const clean = join(dir, 'clean');
  const killed = join(dir, 'killed');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('trains, and a run killed with SIGKILL resumes with the adapters continuing', async () => {
    const r = await refit([...args, 'export.onnx=false', '--out', clean]);
    assert.equal(r.status, 0, r.stderr);
    const plan = JSON.parse(readFileSync(join(clean, 'plan.json'), 'utf8'));
    assert.equal(plan.decision.lora_rank, 8);

    // the worker hangs at the start of step 6 (after the step-4 checkpoint); refit and its worker are killed then
    const child = spawn(process.execPath, [CLI, ...args, '--out', killed], {
      cwd: dir,
      env: { ...env, REFIT_INJECT_HANG: '6' },
      detached: true,
      stdio: 'ignore',
    });
    const gone = new Promise((done) => child.once('exit', done));
    const steps = () =>
      existsSync(join(killed, 'events.jsonl'))
        ? readEvents(killed).filter((e) => e.event === 'step').length
        : 0;
    const hung = () =>
      existsSync(join(killed, 'refit.log')) &&
      readFileSync(join(killed, 'refit.log'), 'utf8').includes('REFIT_INJECT_HANG: hanging');
    for (const t0 = Date.now(); !hung() && Date.now() - t0 < 120_000;) await sleep(100);
    process.kill(-child.pid!, 'SIGKILL');
    await gone;
    // the worker runs in a process group of its own: killed too, as a machine that lost power would lose it
    const log = readFileSync(join(killed, 'refit.log'), 'utf8');
    for (const pid of new Set([...log.matchAll(/worker\[(\d+)\]/g)].map((m) => Number(m[1]))))
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    assert.equal(steps(), 5, 'killed while step 6 hung');
    assert.ok(existsSync(join(killed, 'checkpoints', 'last.json')));

    const resumed = await refit(['train', '--out', killed, '--resume', '--threads', '1']);
    assert.equal(resumed.status, 0, resumed.stderr);
    const [a, b] = [lossByStep(clean), lossByStep(killed)];
    assert.equal(b.length, 12);
    // steps 5–12 ran from the step-4 checkpoint: adapters, their base weights, AdamW and RNG states as saved
    a.forEach((x, i) =>
      assert.ok(Math.abs(b[i] - x) <= 1e-6 * Math.max(1, Math.abs(x)), `step ${i + 1}: ${b[i]} vs ${x}`),
    );
    assert.ok(a[11] < a[0], `the adapters learn: loss ${a[0]} → ${a[11]}`);
  });

  test('the model folder is a plain BERT; ONNX and torch answer alike; predict and serve answer', async () => {
    const tensors = readSafetensors(join(killed, 'model', 'model.safetensors')).tensors;
    assert.ok(
      [...tensors.keys()].every((k) => !k.includes('lora')),
      'no adapter tensors in the model folder',
    );
    assert.ok(tensors.has('bert.encoder.layer.0.attention.self.query.weight'));
    assert.ok(existsSync(join(killed, 'model', 'model.onnx')), 'train exported model.onnx');

    const rows = (await readDataset({ path: data.test })).examples.map((e) => ({
      text: e.text,
      head: e.head.text,
      tail: e.tail.text,
      head_offset: [...e.text.slice(0, e.head.start)].length,
      tail_offset: [...e.text.slice(0, e.tail.start)].length,
    }));
    const open = (engine: 'onnx' | 'torch') =>
      openRunPredictor({ run_dir: killed, engine, env, log: new RunLog(), num_threads: 1 });
    const [onnx, torch]: Predictor[] = [await open('onnx'), await open('torch')];
    try {
      const [x, y] = [await onnx.predict(rows, { top_k: 3 }), await torch.predict(rows, { top_k: 3 })];
      x.forEach((p, i) => {
        assert.equal(p.relation, y[i].relation, `row ${i}`);
        assert.ok(Math.abs(p.score! - y[i].score!) <= 1e-4, `row ${i}: ${p.score} vs ${y[i].score}`);
      });
    } finally {
      await onnx.close();
      await torch.close();
    }

    const relations: string[] = JSON.parse(
      readFileSync(join(killed, 'model', 'refit.json'), 'utf8'),
    ).relations;
    const item = { text: 'Ann Lee was born in Porto.', head: 'Ann Lee', tail: 'Porto' };
    const p = await refit([
      'predict',
      '--run',
      killed,
      '--text',
      item.text,
      '--head',
      item.head,
      '--tail',
      item.tail,
    ]);
    assert.equal(p.status, 0, p.stderr);
    assert.ok(relations.includes(JSON.parse(p.stdout).relation));

    const server = spawn(process.execPath, [CLI, 'serve', '--run', killed, '--port', '0'], { cwd: dir, env });
    try {
      let url = '';
      server.stdout.on('data', (d) => (url ||= /http:\/\/[\d.:]+/.exec(String(d))?.[0] ?? ''));
      for (const t0 = Date.now(); !url && Date.now() - t0 < 60_000;) await sleep(50);
      const res = await fetch(`${url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(item),
      });
      assert.equal(res.status, 200);
      assert.ok(relations.includes(((await res.json()) as { relation: string }).relation));
    } finally {
      server.kill('SIGTERM');
    }
  });
});
