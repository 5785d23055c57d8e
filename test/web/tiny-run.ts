// Trains a real tiny run (bert-tiny on the project's generated demo data) with the built CLI, for the tests
// that need a trained model: the predict page and the server's predict path. Tens of seconds on 2 busy cores, so
// the run is cached in the temp folder per build of the CLI and worker and shared by the test files.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../../src/demo/index.ts';

/** The built CLI (npm run build). */
export const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
/** Skip reason when the CLI is not built. */
export const NO_CLI: string | false =
  !existsSync(new URL('../../dist/refit.mjs', import.meta.url)) && 'needs npm run build';

/** The files of writeDemoData, and the dataset they hold. */
export type DemoData = Record<'train' | 'valid' | 'test' | 'relations' | 'vocab', string> & {
  dataset: ReturnType<typeof generateDemoDataset>;
};

/** Writes demo data files into `dir`; returns their paths (and the generated dataset). */
export function writeDemoData(dir: string, sizes = { train: 64, valid: 16, test: 16 }, seed = 7): DemoData {
  const d = generateDemoDataset({ seed, ...sizes });
  const paths = {
    train: join(dir, 'train.csv'),
    valid: join(dir, 'valid.csv'),
    test: join(dir, 'test.csv'),
    relations: join(dir, 'relation.csv'),
    vocab: join(dir, 'vocab.txt'),
  };
  writeFileSync(paths.train, toDeepkeCsv(d.train));
  writeFileSync(paths.valid, toDeepkeCsv(d.valid));
  writeFileSync(paths.test, toDeepkeCsv(d.test));
  writeFileSync(paths.relations, toRelationCsv(d.relations));
  writeFileSync(paths.vocab, d.vocab_lines.join('\n') + '\n');
  return { ...paths, dataset: d };
}

/** The overrides that train on `data`: its splits, relations and vocabulary. */
export function demoDataArgs(data: DemoData): string[] {
  return [
    `data.train=${data.train}`,
    `data.valid=${data.valid}`,
    `data.test=${data.test}`,
    `data.relations=${data.relations}`,
    `model.vocab=${data.vocab}`,
  ];
}

/** Trains a tiny run and returns its folder; throws with the CLI's stderr when training fails. */
export function trainTinyRun(
  opts: { preset?: string; epochs?: number; sizes?: { train: number; valid: number; test: number } } = {},
): string {
  const dir = mkdtempSync(join(tmpdir(), 'refit-tiny-'));
  const p = writeDemoData(dir, opts.sizes);
  const out = join(dir, 'run');
  const args = [
    CLI,
    'train',
    ...demoDataArgs(p),
    `model.preset=${opts.preset ?? 'bert-tiny'}`,
    `train.epochs=${opts.epochs ?? 1}`,
    'train.batch_size=16',
    // export.onnx=false: the tests of the torch worker's predict and serve paths use this run (test/infer/onnx.test.ts exports its own copy)
    'memory.max_seq_len=64',
    'export.onnx=false',
    '--out',
    out,
    '--progress',
    'none',
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`refit train failed (${r.status}): ${r.stderr}`);
  return out;
}

/** What the cached run depends on: the built CLI, the worker's Python and this file (the training arguments). */
function codeHash(): string {
  const h = createHash('sha256');
  const worker = new URL('../../worker/python/refit_worker/', import.meta.url);
  const files = [
    new URL('../../dist/refit.mjs', import.meta.url),
    new URL(import.meta.url),
    ...readdirSync(worker)
      .filter((f) => f.endsWith('.py'))
      .sort()
      .map((f) => new URL(f, worker)),
  ];
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * A trained tiny run shared by the test files (read it, or copy it before changing it): trained once per build of
 * the CLI and worker, in the temp folder under a hash of that code. Test files run in parallel processes, so the
 * first one trains under a lock folder while the others wait for it.
 */
export function cachedTinyRun(): string {
  const name = `refit-test-tiny-run-${codeHash()}`;
  const cached = join(tmpdir(), name);
  const done = () => existsSync(join(cached, 'model', 'refit.json'));
  if (done()) return cached;
  const lock = `${cached}.lock`;
  for (; ; sleepSync(500)) {
    if (done()) return cached;
    try {
      mkdirSync(lock);
      break; // this process trains
    } catch {
      // another process trains; take its lock over when it died (the lock is older than any training takes)
      const st = statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
    }
  }
  try {
    if (done()) return cached;
    // runs cached for older code, a day old (other checkouts sharing this temp folder may still use newer ones)
    for (const f of readdirSync(tmpdir()))
      if (f.startsWith('refit-test-tiny-run-') && !f.startsWith(name)) {
        const st = statSync(join(tmpdir(), f), { throwIfNoEntry: false });
        if (st && Date.now() - st.mtimeMs > 86_400_000)
          rmSync(join(tmpdir(), f), { recursive: true, force: true });
      }
    rmSync(cached, { recursive: true, force: true });
    renameSync(trainTinyRun(), cached);
    return cached;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
