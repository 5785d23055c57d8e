// The ProbeContext every fault probe runs with: a temp folder per probe, the built binary (run to the end or
// spawned), a small generated dataset and one shared tiny trained run. Used by bench/faults.ts and by the tests
// that run probes (test/run/train-faults.test.ts), so both drive refit the same way.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../../src/demo/index.ts';
import type { ProbeContext } from './types.ts';

type Env = Record<string, string | undefined>;

/** Makes fresh contexts under `base` (a folder the caller owns); `env` joins every command's environment. */
export function probeContexts(opts: { root: string; base: string; env?: Env }): () => ProbeContext {
  const { root, base } = opts;
  const assets = existsSync(join(root, '../shared/assets')) ? join(root, '../shared/assets') : undefined;
  const bin = join(root, 'bin/refit.mjs');
  const envOf = (extra: Env = {}): Env => {
    const env: Env = { ...process.env, REFIT_CACHE: join(base, 'cache'), ...opts.env };
    // An injected fault in the caller's environment must not leak into every probe.
    for (const k of ['REFIT_INJECT_OOM', 'REFIT_INJECT_CRASH', 'REFIT_INJECT_STATE']) delete env[k];
    return { ...env, ...extra };
  };

  let dataDir: string | undefined;
  const tinyTrainArgs = (): string[] => {
    if (!dataDir) {
      dataDir = join(base, 'data');
      mkdirSync(dataDir, { recursive: true });
      const ds = generateDemoDataset({ seed: 5, train: 64, valid: 16, test: 24 });
      writeFileSync(join(dataDir, 'train.csv'), toDeepkeCsv(ds.train));
      writeFileSync(join(dataDir, 'valid.csv'), toDeepkeCsv(ds.valid));
      writeFileSync(join(dataDir, 'test.csv'), toDeepkeCsv(ds.test));
      writeFileSync(join(dataDir, 'relation.csv'), toRelationCsv(ds.relations));
      writeFileSync(join(dataDir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
    }
    const d = dataDir;
    return [
      `data.train=${d}/train.csv`,
      `data.valid=${d}/valid.csv`,
      `data.test=${d}/test.csv`,
      `data.relations=${d}/relation.csv`,
      `model.vocab=${d}/vocab.txt`,
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
  };

  const refit: ProbeContext['refit'] = (args, o = {}) =>
    new Promise((done) => {
      const child = execFile(
        process.execPath,
        [bin, ...args],
        {
          cwd: o.cwd ?? root,
          env: envOf(o.env),
          encoding: 'utf8',
          maxBuffer: 1 << 26,
          timeout: o.timeoutMs ?? 300_000,
        },
        (err, stdout, stderr) => {
          const status = err ? (err.killed ? 124 : typeof err.code === 'number' ? err.code : 1) : 0;
          done({ status, stdout, stderr });
        },
      );
      child.stdin!.end(o.input);
    });

  let tiny: Promise<string> | undefined;
  const tinyRun = (): Promise<string> =>
    (tiny ??= (async () => {
      const out = join(base, 'tiny-run');
      const r = await refit(['train', ...tinyTrainArgs(), '--out', out]);
      if (r.status !== 0)
        throw new Error(`training the shared tiny run failed: ${r.stderr.trim().split('\n').pop()}`);
      return out;
    })());

  let n = 0;
  return () => {
    const tmp = join(base, `probe-${++n}`);
    mkdirSync(tmp, { recursive: true });
    return {
      tmp,
      root,
      assets,
      refit,
      tinyTrainArgs,
      tinyRun,
      spawnRefit: (args, o = {}) =>
        spawn(process.execPath, [bin, ...args], {
          cwd: o.cwd ?? root,
          env: envOf(o.env),
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
    };
  };
}
