// A model folder that cannot lie (issue 22, item 1), on real trained runs with the built CLI: another run's
// model.onnx / model.safetensors / vocab.txt / refit.json swapped in, bytes flipped at equal size, files truncated or
// missing — predict (both engines), eval and export each give one line naming the file and what differs, exit 2,
// never an answer. A folder without manifest.json (an older refit) loads with a one-line warning.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, NO_CLI, cachedTinyRun, demoDataArgs, writeDemoData } from '../web/tiny-run.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-manifest-'));
const env: Record<string, string | undefined> = { ...process.env, REFIT_LOG: join(dir, 'cli.log') };
delete env.REFIT_INJECT_OOM;
delete env.REFIT_INJECT_CRASH;

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

const ASK = ['--text', 'Ann Lee was born in Porto.', '--head', 'Ann Lee', '--tail', 'Porto'];

/** Flips the order of `n` bytes near the end of a file (the classifier's floats in both weight files): same size. */
function reverseTail(path: string, n = 256): void {
  const b = readFileSync(path);
  const start = b.length - n - 64;
  b.subarray(start, start + n).reverse();
  writeFileSync(path, b);
}

describe('model folders checked against their manifest', { skip: NO_CLI }, () => {
  let mine: string; // the cached tiny run (6 relations), exported to ONNX
  let other: string; // another run: other data, 9 relations, its own model.onnx
  let n = 0;
  const copy = () => {
    const run = join(dir, `case-${n++}`);
    cpSync(mine, run, { recursive: true });
    return run;
  };
  before(async () => {
    mine = join(dir, 'mine');
    cpSync(cachedTinyRun(), mine, { recursive: true });
    const e = await refit(['export', '--run', mine]);
    assert.equal(e.status, 0, e.stderr);
    const data = writeDemoData(mkdtempSync(join(dir, 'data-')), { train: 48, valid: 16, test: 16 }, 11);
    appendFileSync(data.relations, 'None,None,extra_a,6\nNone,None,extra_b,7\nNone,None,extra_c,8\n');
    other = join(dir, 'other');
    const t = await refit([
      'train',
      ...demoDataArgs(data),
      'model.preset=bert-tiny',
      'train.epochs=1',
      'train.batch_size=16',
      'memory.max_seq_len=64',
      '--out',
      other,
      '--progress',
      'none',
    ]);
    assert.equal(t.status, 0, t.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the manifest lists every file of model/ with its size and SHA-256, and the facts they agree on', () => {
    const m = JSON.parse(readFileSync(join(mine, 'model', 'manifest.json'), 'utf8'));
    assert.equal(m.kind, 'model');
    assert.deepEqual(Object.keys(m.files).sort(), [
      'config.json',
      'model.onnx',
      'model.safetensors',
      'refit.json',
      'vocab.txt',
    ]);
    for (const f of Object.values<any>(m.files)) assert.match(f.sha256, /^[0-9a-f]{64}$/);
    assert.equal(m.relations.count, 6);
    assert.equal(m.vocab.size, readFileSync(join(mine, 'model', 'vocab.txt'), 'utf8').split('\n').length - 1);
    assert.equal(
      m.dims.hidden_size,
      JSON.parse(readFileSync(join(mine, 'model', 'config.json'), 'utf8')).hidden_size,
    );
    assert.deepEqual(Object.keys(m.data).sort(), ['relations', 'test', 'train', 'valid', 'vocab']);
    assert.match(m.config_sha256, /^[0-9a-f]{64}$/);
  });

  const cases: Array<{ name: string; change: (model: string) => void; line: RegExp; engine?: string }> = [
    {
      name: "another run's model.onnx (9 relations into a 6-relation run)",
      change: (m) => cpSync(join(other, 'model', 'model.onnx'), join(m, 'model.onnx')),
      line: /model\.onnx: \d+ bytes, the manifest says \d+ \(another file\); export it again with refit export/,
    },
    {
      name: "another run's model.safetensors",
      change: (m) => cpSync(join(other, 'model', 'model.safetensors'), join(m, 'model.safetensors')),
      line: /model\.safetensors: \d+ bytes, the manifest says \d+/,
      engine: 'torch',
    },
    {
      name: "another run's refit.json",
      change: (m) => cpSync(join(other, 'model', 'refit.json'), join(m, 'refit.json')),
      line: /refit\.json: 9 relations, the manifest has 6/,
    },
    {
      name: 'the relations of refit.json reordered',
      change: (m) => {
        const r = JSON.parse(readFileSync(join(m, 'refit.json'), 'utf8'));
        r.relations.reverse();
        writeFileSync(join(m, 'refit.json'), JSON.stringify(r));
      },
      line: /refit\.json: the relations are in another order/,
    },
    {
      name: "the classifier's floats reversed inside model.onnx (same size)",
      change: (m) => reverseTail(join(m, 'model.onnx')),
      line: /model\.onnx: its SHA-256 differs from the manifest's/,
    },
    {
      name: 'bytes reversed inside model.safetensors (same size)',
      change: (m) => reverseTail(join(m, 'model.safetensors')),
      line: /model\.safetensors: its SHA-256 differs from the manifest's/,
      engine: 'torch',
    },
    {
      name: 'vocab.txt cut short',
      change: (m) => {
        const lines = readFileSync(join(m, 'vocab.txt'), 'utf8').split('\n');
        writeFileSync(join(m, 'vocab.txt'), lines.slice(0, 300).join('\n') + '\n');
      },
      line: /vocab\.txt: 300 tokens, the manifest says \d+/,
    },
    {
      name: 'vocab.txt with 3,000 extra tokens',
      change: (m) =>
        appendFileSync(join(m, 'vocab.txt'), Array.from({ length: 3000 }, (_, i) => `tok${i}\n`).join('')),
      line: /vocab\.txt: \d+ tokens, the manifest says \d+/,
    },
    {
      name: 'model.safetensors truncated',
      change: (m) => truncateSync(join(m, 'model.safetensors'), 100_000),
      line: /model\.safetensors: 100000 bytes, the manifest says \d+ \(truncated\)/,
      engine: 'torch',
    },
    {
      name: 'config.json with another hidden size',
      change: (m) => {
        const c = JSON.parse(readFileSync(join(m, 'config.json'), 'utf8'));
        writeFileSync(join(m, 'config.json'), JSON.stringify({ ...c, hidden_size: c.hidden_size * 2 }));
      },
      line: /config\.json: hidden_size \d+, the manifest says \d+/,
    },
    {
      name: 'model.safetensors missing',
      change: (m) => rmSync(join(m, 'model.safetensors')),
      line: /model\.safetensors: missing \(the model's manifest lists it, \d+ bytes\)/,
      engine: 'torch',
    },
    {
      name: 'manifest.json damaged',
      change: (m) => writeFileSync(join(m, 'manifest.json'), '{"format": "refit-man'),
      line: /manifest\.json: not valid JSON \(damaged\); the folder cannot be verified/,
    },
  ];

  for (const c of cases) {
    test(`${c.name}: predict${c.engine ? ` --engine ${c.engine}` : ''} is one line, exit 2`, async () => {
      const run = copy();
      c.change(join(run, 'model'));
      const r = await refit(['predict', '--run', run, ...ASK, ...(c.engine ? ['--engine', c.engine] : [])]);
      assert.equal(r.status, 2, r.stdout);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^refit: ${join(run, 'model')}/`));
      assert.match(r.stderr, c.line);
    });
  }

  test('model.onnx removed: the torch engine answers (nothing reads a file that is not there); --engine onnx says so', async () => {
    const run = copy();
    rmSync(join(run, 'model', 'model.onnx'));
    const r = await refit(['predict', '--run', run, ...ASK]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(JSON.parse(r.stdout).tail, 'Porto');
    const onnx = await refit(['predict', '--run', run, ...ASK, '--engine', 'onnx']);
    assert.equal(onnx.status, 2);
    assert.match(onnx.stderr, /^refit: .*model\.onnx: missing — export it first/);
  });

  test('eval (both engines) and export refuse a changed folder with the same line', async () => {
    const run = copy();
    reverseTail(join(run, 'model', 'model.safetensors'));
    const test_csv = JSON.parse(readFileSync(join(run, 'manifest.json'), 'utf8')).data.test.path;
    for (const args of [
      ['eval', '--run', run, '--data', test_csv],
      ['eval', '--run', run, '--data', test_csv, '--engine', 'torch'],
      ['export', '--run', run],
    ]) {
      const r = await refit(args);
      assert.equal(r.status, 2, `${args[0]}: ${r.stdout}`);
      assert.equal(
        r.stderr,
        `refit: ${join(run, 'model', 'model.safetensors')}: its SHA-256 differs from the manifest's (changed ` +
          `since refit wrote it, or another run's file); the model folder is not the one refit wrote: copy the ` +
          `whole folder from its run, or train again\n`,
      );
    }
  });

  test("a folder without manifest.json loads with a warning; the ONNX engine still checks its graph's width and the vocabulary", async () => {
    const run = copy();
    rmSync(join(run, 'model', 'manifest.json'));
    const ok = await refit(['predict', '--run', run, ...ASK]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(
      ok.stderr,
      `refit: warning: ${join(run, 'model', 'manifest.json')}: missing (written by an older refit); the model's ` +
        `files cannot be verified\n`,
    );
    assert.equal(JSON.parse(ok.stdout).head, 'Ann Lee');
    // another run's graph: 9 outputs for 6 relations
    cpSync(join(other, 'model', 'model.onnx'), join(run, 'model', 'model.onnx'));
    const wide = await refit(['predict', '--run', run, ...ASK]);
    assert.equal(wide.status, 2);
    assert.equal(
      wide.stderr.split('\n')[1],
      `refit: ${join(run, 'model', 'model.onnx')}: the graph answers 9 relations, the model folder has 6 ` +
        `(refit.json): another run's model.onnx; export it again with refit export --run DIR`,
    );
    // a vocabulary larger than the model's embedding: refused by both engines before any answer
    cpSync(join(mine, 'model', 'model.onnx'), join(run, 'model', 'model.onnx'));
    appendFileSync(
      join(run, 'model', 'vocab.txt'),
      Array.from({ length: 3000 }, (_, i) => `tok${i}\n`).join(''),
    );
    for (const engine of ['onnx', 'torch']) {
      const r = await refit(['predict', '--run', run, ...ASK, '--engine', engine]);
      assert.equal(r.status, 2, engine);
      assert.match(r.stderr.split('\n')[1], /vocab\.txt: \d+ tokens, more than the model's vocab_size \d+/);
      assert.equal(r.stderr.split('\n').length, 3, r.stderr);
    }
  });

  test('export keeps the manifest current: model.onnx and the new refit.json are listed, and predict loads them', () => {
    const m = JSON.parse(readFileSync(join(mine, 'model', 'manifest.json'), 'utf8'));
    const refitJson = readFileSync(join(mine, 'model', 'refit.json'));
    assert.ok(JSON.parse(String(refitJson)).onnx, 'refit.json records the export');
    assert.equal(m.files['refit.json'].size, refitJson.length);
    assert.equal(m.files['model.onnx'].size, readFileSync(join(mine, 'model', 'model.onnx')).length);
  });
});
