// The worker's float checks on every other BLAS installed here: the suite runs on the BLAS torch loads by default
// (libblas.so.3, the reference BLAS or OpenBLAS, whichever the system picks); this file runs the same Python checks
// (HF parity, the levers' maths, deepke-lm parity) with LD_LIBRARY_PATH pointing at each other libblas.so.3, and
// compares the worker's logits across BLAS, thread counts and batchings within the suite's tolerance
// (test/numerics.ts). Skipped when only one BLAS is installed (Debian: libblas3 and libopenblas0-pthread).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { WorkerEvent } from '../../src/worker/index.ts';
import { LOGIT_TOLERANCE, assertCloseRows, maxAbsDiff } from '../numerics.ts';
import {
  expectEvent,
  makeExamples,
  REPO,
  SHARED,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const python = await testPython();
const GOLDEN = join(SHARED, 'golden', 'tiny-bert');
const LIBDIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
// Debian's alternatives for libblas.so.3, each in its own folder
const FLAVOURS = [
  'blas',
  'openblas-pthread',
  'openblas-openmp',
  'openblas-serial',
  'blis-pthread',
  'blis-openmp',
];

/** The BLAS and LAPACK files a torch matrix product maps in, with `env` (empty without torch). */
function loadedBlas(env: Record<string, string> = {}): string[] {
  if (!python) return [];
  const r = spawnSync(
    python,
    [
      '-c',
      'import torch\ntorch.ones(64, 64) @ torch.ones(64, 64)\n' +
        "print('\\n'.join(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l or 'mkl' in l})))",
    ],
    { env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  return r.status === 0 ? r.stdout.trim().split('\n').filter(Boolean) : [];
}

const defaultBlas = loadedBlas();
const defaultLib = defaultBlas.find((f) => /\/lib(open)?blas[^/]*\.so/.test(f));
/** Every libblas.so.3 folder installed here other than the one torch loads by default. */
const others = LIBDIRS.flatMap((d) => FLAVOURS.map((f) => join(d, f))).filter(
  (d) => existsSync(join(d, 'libblas.so.3')) && !defaultBlas.includes(realpathSync(join(d, 'libblas.so.3'))),
);
/** LD_LIBRARY_PATH for the BLAS in `folder`, with its LAPACK (the reference BLAS's is in ../lapack). */
const blasEnv = (folder: string): Record<string, string> => {
  const lapack = existsSync(join(folder, 'liblapack.so.3')) ? folder : join(dirname(folder), 'lapack');
  return { LD_LIBRARY_PATH: [folder, lapack, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
};
const skip =
  (!python && 'needs a python3 with torch') ||
  (!defaultLib && `torch here does not load a libblas.so.3 (it maps: ${defaultBlas.join(', ') || 'none'})`) ||
  (others.length === 0 && `only one BLAS is installed (${defaultLib})`);

const dir = tempDir('refit-blas-');
const dsPath = writeDataset(join(dir, 'train.refit-ds'), makeExamples(8));

/** Runs worker/python/tests/<script> with `env`; returns its JSON (ok false with stderr when it printed none). */
function check(script: string, args: string[], env: Record<string, string>): Record<string, any> {
  const r = spawnSync(python!, [join(REPO, 'worker/python/tests', script), ...args], {
    env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python'), ...env },
    encoding: 'utf8',
  });
  return JSON.parse(r.stdout || JSON.stringify({ ok: false, stderr: r.stderr.slice(-2000) }));
}

/** Logits of examples 0..7 from a fresh tiny model (seed 7) on a worker with `env` and `threads`: all 8 in one
 *  batch, and each example alone. */
async function logits(
  env: Record<string, string>,
  threads: number,
): Promise<{ batch: number[][]; alone: number[][] }> {
  // torch's own threads, and OpenBLAS's pool (which torch's setting does not reach when it uses the system BLAS)
  const { worker } = await startWorker({ ...env, OPENBLAS_NUM_THREADS: String(threads) }, threads);
  try {
    await expectEvent(worker, tinyLoad(), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    const evalOf = async (batches: Array<{ indices: number[]; seq_len: number }>) =>
      (
        (await expectEvent(
          worker,
          { type: 'eval', dataset: 'train', tag: 't', batches },
          'eval_result',
        )) as Extract<WorkerEvent, { type: 'eval_result' }>
      ).logits!;
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    const batch = await evalOf([{ indices: all, seq_len: 24 }]);
    const alone = await evalOf(all.map((i) => ({ indices: [i], seq_len: 24 })));
    return { batch, alone };
  } finally {
    await worker.close();
  }
}

describe('the worker on another BLAS', { skip }, () => {
  for (const other of skip ? [] : others) {
    const env = blasEnv(other);

    test(`${other}: LD_LIBRARY_PATH swaps torch's BLAS`, () => {
      const loaded = loadedBlas(env);
      assert.ok(
        loaded.includes(realpathSync(join(other, 'libblas.so.3'))),
        `torch mapped ${loaded.join(', ')}`,
      );
      assert.ok(
        !loaded.includes(defaultLib!),
        `the default ${defaultLib} is mapped too: ${loaded.join(', ')}`,
      );
    });

    test(
      `${other}: HF parity of tiny-bert (worker/python/tests/check_parity.py)`,
      {
        skip: !existsSync(GOLDEN) && 'needs ../shared/golden/tiny-bert',
      },
      () => {
        const r = check('check_parity.py', [GOLDEN], env);
        assert.equal(r.ok, true, JSON.stringify(r, null, 1));
      },
    );

    test(
      `${other}: deepke-lm parity (worker/python/tests/check_deepke_lm.py)`,
      {
        skip: !existsSync(GOLDEN) && 'needs ../shared/golden/tiny-bert',
      },
      () => {
        const r = check('check_deepke_lm.py', [GOLDEN], env);
        assert.equal(r.ok, true, JSON.stringify(r, null, 1));
      },
    );

    test(`${other}: the levers' maths (worker/python/tests/check_levers.py)`, () => {
      const r = check('check_levers.py', [dsPath], env);
      assert.equal(r.ok, true, JSON.stringify(r, null, 1));
    });

    test(`${other}: eval logits agree with the default BLAS, on 1 and 2 threads, alone and in a batch`, async () => {
      const base = await logits({}, 1);
      const runs = {
        [`${other}, 1 thread`]: await logits(env, 1),
        [`${other}, 2 threads`]: await logits(env, 2),
      };
      assertCloseRows(base.alone, base.batch, LOGIT_TOLERANCE, 'default BLAS, 1 thread: alone vs batch');
      for (const [name, r] of Object.entries(runs)) {
        assertCloseRows(r.batch, base.batch, LOGIT_TOLERANCE, `${name}: batch`);
        assertCloseRows(r.alone, base.batch, LOGIT_TOLERANCE, `${name}: alone`);
      }
      // the comparison has teeth: two different examples' logits differ by far more than the tolerance
      assert.ok(maxAbsDiff([base.batch[0]], [base.batch[1]]) > 100 * LOGIT_TOLERANCE);
    });
  }
});
