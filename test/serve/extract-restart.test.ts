// The NER side of POST /v1/extract kept alive as the relation model is (issue 24): on the real server with a real
// NER torch worker killed with SIGKILL, health says `degraded` with the reason, /v1/extract answers 503 with
// Retry-After and the reason, the worker is restarted with the same back-off, and the same answers come back; a
// replaced NER model folder that fails its manifest is refused (the model loaded before keeps answering), and one
// that passes is opened.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { runEnv } from '../run/helpers.ts';
import { NO_SHARED, trainExtractRuns } from '../infer/extract-runs.ts';

const env = runEnv() as Record<string, string>;
const base = mkdtempSync(join(tmpdir(), 'refit-extract-restart-'));
after(() => rmSync(base, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((d) => setTimeout(d, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Replaces `<run>/model` as training does (a copy written beside it, renamed into place), changed by `change`. */
function replaceModel(run: string, from: string, change: (model: string) => void = () => undefined): void {
  const next = join(run, '.model-new');
  cpSync(from, next, { recursive: true });
  change(next);
  rmSync(join(run, 'model'), { recursive: true });
  renameSync(next, join(run, 'model'));
}

describe('refit serve: the NER worker behind /v1/extract', { skip: NO_SHARED }, () => {
  test('killed with SIGKILL: degraded and 503 with the reason, restarted with back-off, then answers again; hot reload checks the folder', async () => {
    const { ner, re, texts } = await trainExtractRuns(join(base, 'runs'), env);
    const good = join(base, 'ner-model');
    cpSync(join(ner, 'model'), good, { recursive: true });
    const log = new RunLog(join(base, 'serve.log'));
    const server = await startServer({
      run_dir: re,
      ner_run_dir: ner,
      host: '127.0.0.1',
      port: 0,
      log,
      env,
      engine: 'torch',
      num_threads: 1,
      web_dir: null,
    });
    const health = async () => {
      const r = await fetch(`${server.url}/v1/health`);
      return { code: r.status, ...(await r.json()) };
    };
    const extract = async () => {
      const r = await fetch(`${server.url}/v1/extract`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: texts[0] }),
      });
      return { status: r.status, retry: r.headers.get('retry-after'), body: await r.json() };
    };
    try {
      const first = await extract();
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const h0 = await health();
      assert.equal(h0.status, 'ok');
      assert.equal(h0.ner.status, 'ok');
      assert.equal(h0.ner.run, 'ner-run');
      const pid = h0.ner.worker.pid as number;
      assert.ok(pid > 0 && pid !== h0.worker.pid, 'the NER run has its own worker');
      process.kill(pid, 'SIGKILL');
      const degraded = await until(
        'health degraded',
        async () => {
          const h = await health();
          return h.status === 'degraded' ? h : undefined;
        },
        5_000,
      );
      assert.match(
        degraded.reason,
        /^NER model worker lost \(worker died: .*signal SIGKILL.*\); restart 1 of at most 5 in 500 ms$/,
      );
      assert.equal(degraded.ner.worker.state, 'restarting');
      assert.equal(degraded.ner.model_loaded, false);
      assert.equal(degraded.worker.state, 'ready', 'the relation worker is not touched');
      const refused = await extract();
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.retry) >= 1, `Retry-After ${refused.retry}`);
      assert.match(
        refused.body.error,
        /^NER model unavailable: its worker is restarting \(worker died: .*SIGKILL/,
      );
      const back = await until('health ok again', async () => {
        const h = await health();
        return h.status === 'ok' && h.ner.model_loaded ? h : undefined;
      });
      assert.equal(back.ner.worker.restarts, 1);
      assert.notEqual(back.ner.worker.pid, pid);
      const again = await extract();
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, first.body, 'the restarted worker answers as the first did');
      assert.match(
        readFileSync(log.path as string, 'utf8'),
        /serve: NER model worker is back \(pid \d+\) after restart 1/,
      );

      // Hot reload: a replaced NER folder that fails its manifest is refused; the model loaded before answers.
      replaceModel(ner, good, (m) => {
        const b = readFileSync(join(m, 'model.safetensors'));
        b.subarray(b.length - 320, b.length - 64).reverse();
        writeFileSync(join(m, 'model.safetensors'), b);
      });
      const kept = await extract();
      assert.equal(kept.status, 200);
      assert.deepEqual(kept.body, first.body);
      const h1 = await health();
      assert.equal(h1.status, 'degraded');
      assert.match(
        h1.ner.reason,
        /^the replaced model folder was refused \(model\.safetensors: its SHA-256 differs/,
      );
      assert.equal(h1.ner.model_reloads, 0);
      // the run's own files again: opened anew
      replaceModel(ner, good);
      const reopened = await extract();
      assert.equal(reopened.status, 200);
      assert.deepEqual(reopened.body, first.body);
      const h2 = await health();
      assert.equal(h2.status, 'ok');
      assert.equal(h2.ner.model_reloads, 1);
    } finally {
      await server.close();
    }
  });
});
