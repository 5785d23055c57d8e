// `refit predict` and POST /v1/predict answer identically for the same run and input: both take predict.top_k and
// predict.na_threshold from the run's config.yaml when the caller leaves them out (resolved once, in openRunPredictor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RunLog } from '../../src/log.ts';
import { startServer } from '../../src/serve/index.ts';
import { predictDefaults } from '../../src/infer/index.ts';
import { CLI, NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

test("predictDefaults: the run's config.yaml, else the config defaults", () => {
  assert.deepEqual(predictDefaults(mkdtempSync(join(tmpdir(), 'refit-no-run-'))), {
    top_k: 3,
    na_threshold: 0,
  });
});

test(
  "refit predict and POST /v1/predict give the same answer with the run's top_k and na_threshold",
  { skip: NO_CLI },
  async () => {
    const run = join(mkdtempSync(join(tmpdir(), 'refit-predict-defaults-')), 'run');
    cpSync(cachedTinyRun(), run, { recursive: true });
    // only the predict section matters here (a config.yaml may leave the rest to the defaults); below 0.99 is the NA label
    writeFileSync(join(run, 'config.yaml'), stringify({ predict: { top_k: 2, na_threshold: 0.99 } }));
    assert.deepEqual(predictDefaults(run), { top_k: 2, na_threshold: 0.99 });
    const na = JSON.parse(readFileSync(join(run, 'model/refit.json'), 'utf8')).na_label;
    const item = { text: 'Marie Curie was born in Warsaw.', head: 'Marie Curie', tail: 'Warsaw' };

    const cli = spawnSync(
      process.execPath,
      [
        CLI,
        'predict',
        '--run',
        run,
        '--engine',
        'torch',
        '--threads',
        '1',
        '--text',
        item.text,
        '--head',
        item.head,
        '--tail',
        item.tail,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const fromCli = JSON.parse(cli.stdout.trim());
    const server = await startServer({
      run_dir: run,
      host: '127.0.0.1',
      port: 0,
      log: new RunLog(),
      env: process.env,
      web_dir: null,
      engine: 'torch',
      num_threads: 1,
    });
    try {
      const r = await fetch(`${server.url}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(item),
      });
      assert.equal(r.status, 200);
      const fromServer = await r.json();
      const round = (p: { score: number; top: Array<{ relation: string; score: number }> }) => ({
        ...p,
        score: p.score.toFixed(5),
        top: p.top.map((t) => ({ ...t, score: t.score.toFixed(5) })),
      });
      assert.deepEqual(round(fromServer), round(fromCli));
      assert.equal(fromCli.top.length, 2);
      if (na !== null && fromCli.score < 0.99) assert.equal(fromCli.relation, na);
    } finally {
      await server.close();
    }
  },
);
