// Shared set-up of the deepke-lm tests: a DeepKE project folder (conf/ written by test/config/deepke-project.ts, a
// few hundred rows of the DeepKE sample as data/origin), a Hugging Face folder made from the golden tiny BERT and
// Google's Chinese vocab (DeepKE's lm_file), the built binary, and the Python reference of DeepKE's LM.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEEPKE_ASSET, makeDeepkeProject } from '../config/deepke-project.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARED = join(ROOT, '..', 'shared');
const GOLDEN = join(SHARED, 'golden', 'tiny-bert');
const ZH_VOCAB = join(SHARED, 'assets', 'bert-vocab', 'google_zh_vocab.txt');

/** Why the deepke-lm end-to-end tests cannot run here, or false. */
export const SKIP_REASON: string | false =
  (!DEEPKE_ASSET || !existsSync(GOLDEN) || !existsSync(ZH_VOCAB)) &&
  'needs ../shared (deepke-re-standard, golden/tiny-bert, bert-vocab)';

/** A fresh temp folder. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** DeepKE's lm_file as a local Hugging Face folder: the golden tiny BERT (2 layers, hidden 128) + Google's Chinese vocab. */
export function hfFolder(dir: string): string {
  const hf = join(dir, 'tiny-bert-chinese');
  mkdirSync(hf, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(GOLDEN, f), join(hf, f));
  copyFileSync(ZH_VOCAB, join(hf, 'vocab.txt'));
  return hf;
}

/** A DeepKE project whose data/origin holds the first rows of the sample's train/valid/test (and its relation.csv). */
export function deepkeProject(
  dir: string,
  rows = { train: 240, valid: 60, test: 80 },
  conf: Record<string, string | null> = {},
): string {
  const project = makeDeepkeProject(conf, dir);
  const origin = join(project, 'data', 'origin');
  unlinkSync(origin); // the link to the whole sample: a subset keeps the tests seconds-fast
  mkdirSync(origin);
  const head = (file: string, n: number) =>
    readFileSync(join(DEEPKE_ASSET!, file), 'utf8')
      .split('\n')
      .slice(0, n + 1)
      .join('\n') + '\n';
  for (const [split, n] of Object.entries(rows))
    writeFileSync(join(origin, `${split}.csv`), head(`${split}.csv`, n));
  copyFileSync(join(DEEPKE_ASSET!, 'relation.csv'), join(origin, 'relation.csv'));
  return project;
}

/** Builds dist/refit.mjs when it is missing. */
export function ensureBuilt(): void {
  if (!existsSync(join(ROOT, 'dist/refit.mjs')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
}

/** Runs the built binary. */
export function refit(
  env: Record<string, string | undefined>,
  ...args: string[]
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/refit.mjs', ...args],
      { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        done({ status: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

/** The environment of a test's CLI runs: its own log and cache, no inherited fault injection. */
export function cliEnv(dir: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    REFIT_LOG: join(dir, 'cli.log'),
    REFIT_CACHE: join(dir, 'cache'),
  };
  delete env.REFIT_INJECT_OOM;
  delete env.REFIT_INJECT_CRASH;
  delete env.REFIT_INJECT_STATE;
  return env;
}

/** Runs worker/python/tests/deepke_lm_reference.py (`make` a DeepKE checkpoint, or `forward` on token ids). */
export function reference(python: string, ...args: string[]): string {
  const r = spawnSync(python, [join(ROOT, 'worker/python/tests/deepke_lm_reference.py'), ...args], {
    env: { ...process.env, PYTHONPATH: join(ROOT, 'worker/python') },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`deepke_lm_reference.py ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

/** A DeepKE-format LM checkpoint: the golden BERT cut to `layers` layers, a random RNN and fc over `labels` relations. */
export function makeCheckpoint(
  python: string,
  out: string,
  layers = 1,
  labels = 11,
  rnn: string[] = [],
): string {
  reference(python, 'make', GOLDEN, out, String(layers), String(labels), ...rnn);
  return out;
}
