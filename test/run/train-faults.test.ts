// Issue 10 items 6–9, 11, 12 against the real binary, worker and server: every probe of bench/faults/train.probes.ts
// runs as one test here (the same probes write their rows to bench/results/faults.md via bench/faults.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../../src/demo/index.ts';
import { PROBES } from '../../bench/faults/train.probes.ts';
import type { ProbeContext } from '../../bench/faults/types.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const base = mkdtempSync(join(tmpdir(), 'refit-train-faults-'));

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const e: Record<string, string | undefined> = {
    ...process.env,
    REFIT_CACHE: join(base, 'cache'),
    REFIT_LOG: join(base, 'cli.log'),
  };
  for (const k of ['REFIT_INJECT_OOM', 'REFIT_INJECT_CRASH', 'REFIT_INJECT_STATE']) delete e[k];
  return { ...e, ...extra };
}

const data = join(base, 'data');
mkdirSync(data);
const ds = generateDemoDataset({ seed: 5, train: 64, valid: 16, test: 24 });
writeFileSync(join(data, 'train.csv'), toDeepkeCsv(ds.train));
writeFileSync(join(data, 'valid.csv'), toDeepkeCsv(ds.valid));
writeFileSync(join(data, 'test.csv'), toDeepkeCsv(ds.test));
writeFileSync(join(data, 'relation.csv'), toRelationCsv(ds.relations));
writeFileSync(join(data, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');

const tinyTrainArgs = () => [
  `data.train=${data}/train.csv`,
  `data.valid=${data}/valid.csv`,
  `data.test=${data}/test.csv`,
  `data.relations=${data}/relation.csv`,
  `model.vocab=${data}/vocab.txt`,
  'model.preset=bert-tiny',
  'train.epochs=1',
  'train.batch_size=16',
  'memory.max_seq_len=64',
  'device=cpu',
  '--progress',
  'plain',
  '--threads',
  '1',
];

const refit: ProbeContext['refit'] = (args, o = {}) =>
  new Promise((done) => {
    const child = execFile(
      process.execPath,
      [join(ROOT, 'bin/refit.mjs'), ...args],
      {
        cwd: o.cwd ?? ROOT,
        env: env(o.env),
        encoding: 'utf8',
        maxBuffer: 1 << 26,
        timeout: o.timeoutMs ?? 300_000,
      },
      (err, stdout, stderr) =>
        done({
          status: err ? (err.killed ? 124 : typeof err.code === 'number' ? err.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
    child.stdin!.end(o.input);
  });

let tiny: Promise<string> | undefined;
const tinyRun = () =>
  (tiny ??= (async () => {
    const out = join(base, 'tiny-run');
    const r = await refit(['train', ...tinyTrainArgs(), '--out', out]);
    if (r.status !== 0) throw new Error(`tiny run: ${r.stderr}`);
    return out;
  })());

let n = 0;
const context = (): ProbeContext => {
  const tmp = join(base, `probe-${++n}`);
  mkdirSync(tmp);
  return {
    tmp,
    root: ROOT,
    refit,
    tinyTrainArgs,
    tinyRun,
    spawnRefit: (args, o = {}) =>
      spawn(process.execPath, [join(ROOT, 'bin/refit.mjs'), ...args], {
        cwd: o.cwd ?? ROOT,
        env: env(o.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
  };
};

if (!existsSync(join(ROOT, 'dist/refit.mjs')))
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });

for (const p of PROBES) {
  test(`item ${p.item}: ${p.did} → ${p.expected}`, async () => {
    const r = await p.run(context());
    assert.ok(r.ok, r.happened);
  });
}
