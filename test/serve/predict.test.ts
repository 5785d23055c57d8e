// refit serve with a real trained tiny run: predictions in `refit predict`'s shape, per-item errors in lists,
// concurrent requests batched into fewer worker calls, /v1/model, and the CLI starting and stopping cleanly.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { CLI, NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

describe('refit serve with a trained model', { skip: NO_CLI }, () => {
  let server: { url: string; close(): Promise<void> };
  let run_dir: string;
  let relations: string[];
  const post = async (body: unknown, query = '') => {
    const r = await fetch(`${server.url}/v1/predict${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: r.status, json: await r.json() };
  };

  before(async () => {
    run_dir = cachedTinyRun();
    relations = JSON.parse(readFileSync(`${run_dir}/model/refit.json`, 'utf8')).relations;
    server = await startServer({
      run_dir,
      host: '127.0.0.1',
      port: 0,
      log: new RunLog(),
      env: process.env,
      web_dir: null,
    });
  });
  after(() => server?.close());

  test('one item -> one prediction object with relation, score and top', async () => {
    const r = await post(
      { text: 'Marie Curie was born in Warsaw.', head: 'Marie Curie', tail: 'Warsaw' },
      '?top_k=3',
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.id, 0);
    assert.equal(r.json.head, 'Marie Curie');
    assert.ok(relations.includes(r.json.relation));
    assert.equal(r.json.top.length, 3);
    const sum = r.json.top.reduce((a: number, t: { score: number }) => a + t.score, 0);
    assert.ok(sum > 0 && sum <= 1 + 1e-6, `top-3 probabilities sum ${sum} (softmax, float rounding)`);
  });

  test("a list -> a list in order; an entity not in its text is that item's error, the others are predicted", async () => {
    const r = await post([
      { text: 'Marie Curie was born in Warsaw.', head: 'Marie Curie', tail: 'Warsaw' },
      { text: 'Marie Curie was born in Warsaw.', head: 'Pierre', tail: 'Warsaw' },
      {
        text: 'Apple was founded by Steve Jobs.',
        head: 'Apple',
        tail: 'Steve Jobs',
        head_offset: 0,
        tail_offset: 21,
      },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.map((p: { id: number }) => p.id),
      [0, 1, 2],
    );
    assert.equal(r.json[1].error, "head 'Pierre' is not in the text");
    assert.ok(relations.includes(r.json[0].relation) && relations.includes(r.json[2].relation));
  });

  test('16 concurrent requests all succeed in fewer worker calls than requests', async () => {
    const before = (await (await fetch(`${server.url}/v1/health`)).json()).worker_calls.calls;
    const rs = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        post({ text: `Company ${i} was founded by Ann Lee.`, head: `Company ${i}`, tail: 'Ann Lee' }),
      ),
    );
    assert.deepEqual(
      rs.map((r) => r.status),
      Array(16).fill(200),
    );
    const h = await (await fetch(`${server.url}/v1/health`)).json();
    assert.equal(h.model_loaded, true);
    assert.ok(h.worker_calls.calls - before < 16, `worker calls ${h.worker_calls.calls - before}`);
  });

  test('GET /v1/model: relations, NA label, max length, model config', async () => {
    const m = await (await fetch(`${server.url}/v1/model`)).json();
    assert.deepEqual(m.relations, relations);
    assert.equal(typeof m.max_seq_len, 'number');
    assert.equal(typeof m.model, 'object');
    assert.ok('na_label' in m);
  });

  test('the built CLI: a port in use exits 2 with one line', () => {
    const port = new URL(server.url).port;
    const r = spawnSync(process.execPath, [CLI, 'serve', '--run', run_dir, '--port', port], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      `refit: cannot listen on 127.0.0.1:${port}: EADDRINUSE (pick another --port or --host)\n`,
    );
  });

  test('the built CLI: refit serve --port 0 prints its URL, answers, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--run', run_dir, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /http:\/\/[\d.]+:\d+/.exec(out);
        if (m) resolve(m[0]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    assert.equal((await (await fetch(`${url}/v1/health`)).json()).status, 'ok');
    const code = await new Promise((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  });
});

describe('refit serve while the model folder is replaced', { skip: NO_CLI }, () => {
  test('the next request after a new model folder lands uses it (as when a live-served run finishes again)', async () => {
    const run_dir = join(mkdtempSync(join(tmpdir(), 'refit-reload-')), 'run');
    cpSync(cachedTinyRun(), run_dir, { recursive: true });
    const server = await startServer({
      run_dir,
      host: '127.0.0.1',
      port: 0,
      log: new RunLog(),
      env: process.env,
      web_dir: null,
    });
    try {
      const ask = () =>
        fetch(`${server.url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            text: 'Lisbon is the capital of Portugal.',
            head: 'Lisbon',
            tail: 'Portugal',
          }),
        });
      assert.equal((await ask()).status, 200);
      // the training pipeline writes the model folder elsewhere and renames it into place
      cpSync(join(run_dir, 'model'), join(run_dir, '.model-new'), { recursive: true });
      rmSync(join(run_dir, 'model'), { recursive: true });
      renameSync(join(run_dir, '.model-new'), join(run_dir, 'model'));
      assert.equal((await ask()).status, 200);
      const h = await (await fetch(`${server.url}/v1/health`)).json();
      assert.equal(h.model_reloads, 1);
    } finally {
      await server.close();
    }
  });
});

describe('refit serve with a prediction slower than its timeout', { skip: NO_CLI }, () => {
  test('503 with a one-line reason, and the server keeps serving', async () => {
    const server = await startServer({
      run_dir: cachedTinyRun(),
      host: '127.0.0.1',
      port: 0,
      log: new RunLog(),
      env: process.env,
      web_dir: null,
      predict_timeout_ms: 1,
    });
    try {
      const r = await fetch(`${server.url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          text: 'Lisbon is the capital of Portugal.',
          head: 'Lisbon',
          tail: 'Portugal',
        }),
      });
      assert.equal(r.status, 503);
      assert.deepEqual(await r.json(), { error: 'prediction did not finish within 1 ms; try again' });
      assert.equal((await fetch(`${server.url}/v1/health`)).status, 200);
    } finally {
      await server.close();
    }
  });
});
