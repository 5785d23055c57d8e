// POST /v1/extract on the real server (127.0.0.1, any free port) with an NER run and a relation run trained here:
// the same {text, entities, triples} as `refit predict --re-run` for one text and for a list, on both engines; bad
// bodies are 400 with one line; a server without an NER run has no such route; `refit serve --run NER_RUN` alone
// answers the entities `refit predict --run NER_RUN` writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { runInProcess } from '../cli/in-process.ts';
import { runEnv } from '../run/helpers.ts';
import { NO_SHARED, trainExtractRuns, type ExtractRuns } from '../infer/extract-runs.ts';
import { CLI, NO_CLI } from '../web/tiny-run.ts';

const env = runEnv() as Record<string, string>;
const base = mkdtempSync(join(tmpdir(), 'refit-extract-serve-'));
let runs: Promise<ExtractRuns> | undefined;
const trained = () => (runs ??= trainExtractRuns(join(base, 'runs'), env));

/** Equal but for scores, which may differ by float noise (a pair scored in another batch is padded otherwise). */
function sameExtraction(got: any, want: any): void {
  const bare = (x: any) => ({
    ...x,
    entities: x.entities.map((e: any) => ({ ...e, score: undefined })),
    triples: x.triples.map((t: any) => ({ ...t, score: undefined })),
  });
  assert.deepEqual(bare(got), bare(want));
  const scores = (x: any) => [...x.entities, ...x.triples].map((e: any) => e.score as number);
  scores(got).forEach((s, i) =>
    assert.ok(Math.abs(s - scores(want)[i]) < 1e-5, `${s} vs ${scores(want)[i]}`),
  );
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/v1/extract`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

for (const engine of ['torch', 'onnx'] as const) {
  test(
    `POST /v1/extract (${engine}) answers as refit predict --re-run does`,
    { skip: NO_SHARED },
    async () => {
      const { ner, re, texts } = await trained();
      const cli = await runInProcess(
        ['predict', '--run', ner, '--re-run', re, '--engine', engine, '--threads', '1', '--text', texts[0]],
        env,
      );
      assert.equal(cli.code, 0, cli.stderr);
      const { id: _id, ...want } = JSON.parse(cli.stdout);
      assert.ok(want.triples.length >= 1, cli.stdout);
      const log = new RunLog(join(base, `serve-${engine}.log`));
      const server = await startServer({
        run_dir: re,
        ner_run_dir: ner,
        host: '127.0.0.1',
        port: 0,
        log,
        env,
        engine,
        num_threads: 1,
        web_dir: null,
      });
      try {
        const one = await post(server.url, { text: texts[0] });
        assert.equal(one.status, 200, JSON.stringify(one.body));
        sameExtraction(one.body, want);
        const many = await post(server.url, { texts: [texts[1], texts[0]] });
        assert.equal(many.status, 200);
        assert.equal(many.body.length, 2);
        assert.equal(many.body[0].text, texts[1]);
        sameExtraction(many.body[1], want);
        const info = await (await fetch(`${server.url}/v1/extract`)).json();
        assert.deepEqual(info, { ner_run: 'ner-run', re_run: 're-run', ner_engine: engine });
        for (const bad of [{}, { text: '' }, { texts: [] }, { text: 'a', texts: ['b'] }, { texts: [1] }]) {
          const r = await post(server.url, bad);
          assert.equal(r.status, 400, JSON.stringify(bad));
          assert.equal(typeof r.body.error, 'string');
          assert.ok(!r.body.error.includes('\n'));
        }
        // /v1/predict still serves the relation run
        const p = await fetch(`${server.url}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: texts[0], head: '黄得功', tail: '安徽合肥' }),
        });
        assert.equal(p.status, 200);
      } finally {
        await server.close();
      }
    },
  );
}

test('a server without an NER run has no /v1/extract', { skip: NO_SHARED }, async () => {
  const { re } = await trained();
  const server = await startServer({
    run_dir: re,
    host: '127.0.0.1',
    port: 0,
    log: new RunLog(join(base, 'plain.log')),
    env,
    engine: 'onnx',
    num_threads: 1,
    web_dir: null,
  });
  try {
    const r = await post(server.url, { text: 'x' });
    assert.equal(r.status, 404);
    assert.match(r.body.error, /no route POST \/v1\/extract/);
  } finally {
    await server.close();
  }
});

test(
  'refit serve --run NER_RUN alone: POST /v1/extract answers the entities refit predict writes',
  {
    skip: NO_SHARED || NO_CLI,
  },
  async () => {
    const { ner, texts } = await trained();
    const cli = await runInProcess(['predict', '--run', ner, '--threads', '1', '--text', texts[0]], env);
    assert.equal(cli.code, 0, cli.stderr);
    const { id: _id, ...want } = JSON.parse(cli.stdout);
    assert.ok(want.entities.length >= 1, cli.stdout);
    const child = spawn(process.execPath, [CLI, 'serve', '--run', ner, '--port', '0', '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /http:\/\/[\d.]+:\d+/.exec(out);
          if (m) resolve(m[0]);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const one = await post(url, { text: texts[0] });
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.triples, undefined);
      sameExtraction({ ...one.body, triples: [] }, { ...want, triples: [] });
      const info = await (await fetch(`${url}/v1/extract`)).json();
      assert.deepEqual(info, { ner_run: 'ner-run', re_run: null, ner_engine: 'onnx' });
      // no relation run: /v1/predict has nothing to predict with
      const p = await fetch(`${url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: texts[0], head: '黄得功', tail: '安徽合肥' }),
      });
      assert.equal(p.status, 503);
      const why = JSON.stringify(await p.json());
      assert.match(why, /NER run and no relation run: the extract endpoint/, why);
    } finally {
      child.kill('SIGTERM');
    }
  },
);
