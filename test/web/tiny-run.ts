// Trains a real tiny run (bert-tiny on the project's generated demo data) with the built CLI, for the tests
// that need a trained model: the predict page and the server's predict path. Tens of seconds on 2 busy cores, so
// the run is cached in the temp folder per build of the CLI and shared by the test files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** A trained tiny run shared by the test files: reused while dist/refit.mjs is unchanged, else trained anew. */
export function cachedTinyRun(): string {
  const st = statSync(new URL('../../dist/refit.mjs', import.meta.url));
  const name = `refit-test-tiny-run-${Math.round(st.mtimeMs)}-${st.size}`;
  const cached = join(tmpdir(), name);
  if (existsSync(join(cached, 'model', 'refit.json'))) return cached;
  // runs cached for earlier builds are stale now
  for (const f of readdirSync(tmpdir()))
    if (f.startsWith('refit-test-tiny-run-') && f !== name)
      rmSync(join(tmpdir(), f), { recursive: true, force: true });
  const fresh = trainTinyRun();
  try {
    renameSync(fresh, cached); // atomic: another test file that trained at the same time keeps its own copy
    return cached;
  } catch {
    return fresh;
  }
}
