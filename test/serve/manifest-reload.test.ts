// refit serve and a model folder that does not match its manifest (issue 22, item 1), on a real tiny run and worker:
// at start it is `down` with the reason (503 naming the file); on a hot reload the server keeps the model it had
// (health `degraded` with the reason) until a folder that passes lands, which it then opens.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

const ASK = { text: 'Lisbon is the capital of Portugal.', head: 'Lisbon', tail: 'Portugal' };

/** Reverses 256 bytes near the end of a file: same size, other bytes. */
function reverseTail(path: string): void {
  const b = readFileSync(path);
  b.subarray(b.length - 320, b.length - 64).reverse();
  writeFileSync(path, b);
}

/** Replaces `<run>/model` as training does (a folder written beside it, renamed into place), changed by `change`. */
function replaceModel(run: string, from: string, change: (model: string) => void = () => undefined): void {
  const next = join(run, '.model-new');
  cpSync(join(from, 'model'), next, { recursive: true });
  change(next);
  rmSync(join(run, 'model'), { recursive: true });
  renameSync(next, join(run, 'model'));
}

describe('refit serve and model folders that fail their manifest', { skip: NO_CLI }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-serve-manifest-'));
  let tiny: string;
  before(() => {
    tiny = cachedTinyRun();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const open = (run_dir: string) =>
    startServer({ run_dir, host: '127.0.0.1', port: 0, log: new RunLog(), env: process.env, web_dir: null });
  const ask = async (url: string) => {
    const r = await fetch(`${url}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ASK),
    });
    return { status: r.status, json: await r.json() };
  };
  const health = async (url: string) => {
    const r = await fetch(`${url}/v1/health`);
    return { code: r.status, ...(await r.json()) };
  };

  test('hot reload: a replaced folder that fails is refused, the model loaded before keeps answering', async () => {
    const run = join(dir, 'reload');
    cpSync(tiny, run, { recursive: true });
    const server = await open(run);
    try {
      const first = await ask(server.url);
      assert.equal(first.status, 200);
      replaceModel(run, tiny, (m) => reverseTail(join(m, 'model.safetensors')));
      const kept = await ask(server.url);
      assert.equal(kept.status, 200);
      assert.deepEqual(kept.json, first.json, 'the same model answers');
      const h = await health(server.url);
      assert.equal(h.status, 'degraded');
      assert.equal(h.model_reloads, 0);
      assert.match(
        h.reason,
        /^the replaced model folder was refused \(model\.safetensors: its SHA-256 differs from the manifest's .*\); still serving the model loaded before$/,
      );
      // a file swapped in place (no new folder) is a change too: vocab.txt of another size
      replaceModel(run, tiny);
      writeFileSync(
        join(run, 'model', 'vocab.txt'),
        readFileSync(join(run, 'model', 'vocab.txt'), 'utf8') + 'x\n',
      );
      assert.equal((await ask(server.url)).status, 200);
      assert.match((await health(server.url)).reason, /vocab\.txt: \d+ tokens, the manifest says \d+/);
      // the run's own folder again: opened, health clear
      replaceModel(run, tiny);
      const back = await ask(server.url);
      assert.equal(back.status, 200);
      assert.deepEqual(back.json, first.json);
      const ok = await health(server.url);
      assert.equal(ok.status, 'ok');
      assert.equal(ok.reason, null);
      assert.equal(ok.model_reloads, 1);
    } finally {
      await server.close();
    }
  });

  test('start: a folder that fails is down at once with the reason (503), and opened when it is put right', async () => {
    const run = join(dir, 'start');
    cpSync(tiny, run, { recursive: true });
    const relations = JSON.parse(readFileSync(join(run, 'model', 'refit.json'), 'utf8'));
    relations.relations.reverse();
    writeFileSync(join(run, 'model', 'refit.json'), JSON.stringify(relations));
    const server = await open(run);
    try {
      const r = await ask(server.url);
      assert.equal(r.status, 503);
      assert.match(
        r.json.error,
        /^model unavailable \(down\): model folder refused: refit\.json: the relations are in another order/,
      );
      const h = await health(server.url);
      assert.equal(h.code, 503);
      assert.equal(h.status, 'down');
      assert.equal(h.worker.restarts, 0, 'files do not get better by restarting');
      replaceModel(run, tiny);
      assert.equal((await ask(server.url)).status, 200);
      assert.equal((await health(server.url)).status, 'ok');
    } finally {
      await server.close();
    }
  });
});
