// Starting `python -m refit_worker` processes: the interpreter's environment and arguments, the follower ranks of a
// node other than 0 (started, logged, awaited), and the worker's own probes. Speaks no protocol (process.ts does).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { cleanEnv } from './python.ts';
import { rankEnvs, type RankLayout } from './rank-layout.ts';

/** Options of WorkerProcess.start. */
export interface WorkerStartOptions {
  python: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  start_timeout_ms?: number;
  num_threads?: number;
  /** Several ranks; absent (or a world of 1): one worker process as before. */
  ranks?: RankLayout;
}

/** Spawns one `python -m refit_worker` (its own process group, so Ctrl-C reaches only refit). */
export function spawnWorker(
  opts: WorkerStartOptions,
  extraEnv: Record<string, string>,
  stdio: 'protocol' | 'log',
): ChildProcess {
  const pythonPath = workerPythonPath();
  const env = cleanEnv({
    ...opts.env,
    ...extraEnv,
    PYTHONPATH: [pythonPath, opts.env.PYTHONPATH].filter(Boolean).join(':'),
    PYTHONUNBUFFERED: '1',
  });
  const args = [
    '-m',
    'refit_worker',
    ...(opts.num_threads ? ['--num-threads', String(opts.num_threads)] : []),
  ];
  opts.log.write(
    `starting worker${extraEnv.RANK ? ` rank ${extraEnv.RANK} of ${extraEnv.WORLD_SIZE}` : ''}: ` +
      `${opts.python} ${args.join(' ')}`,
  );
  return spawn(opts.python, args, {
    env,
    stdio: stdio === 'protocol' ? ['pipe', 'pipe', 'pipe'] : ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
}

/**
 * Pipes a follower rank's stderr into the run log with a `[rankN]:` prefix (what torchrun prints; the doctor
 * reads it).
 */
export function logRank(child: ChildProcess, rank: number, log: RunLog): string[] {
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    log.write(`[rank${rank}]: ${line}`);
    tail.push(line);
    if (tail.length > 5) tail.shift();
  });
  return tail;
}

/**
 * The ranks of a machine that is not node 0 (`distributed.node_rank` ≥ 1): they follow global rank 0's commands, so
 * this refit process only starts them, logs them and waits. Resolves with the first non-zero exit (or 0).
 */
export async function runFollowerRanks(
  opts: WorkerStartOptions & { ranks: RankLayout },
): Promise<{ code: number; detail: string }> {
  if (!opts.ranks.master_port)
    throw new RefitError(
      'E_CONFIG_VALUE',
      'distributed.master_port must be set on every node when distributed.nnodes > 1',
    );
  const children = rankEnvs(opts.ranks, opts.ranks.master_port).map(({ rank, env }) => ({
    rank,
    child: spawnWorker(opts, env, 'log'),
  }));
  for (const { rank, child } of children) logRank(child, rank, opts.log);
  const exits = children.map(
    ({ rank, child }) =>
      new Promise<{ rank: number; code: number; signal: string | null }>((done) =>
        child.once('close', (code, signal) => done({ rank, code: code ?? 1, signal })),
      ),
  );
  const first = await Promise.race(
    exits.map((p) => p.then((e) => (e.code === 0 ? Promise.all(exits).then(() => e) : e))),
  );
  if (first.code !== 0)
    for (const { child } of children) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  await Promise.all(exits);
  return {
    code: first.code,
    detail:
      first.code === 0
        ? ''
        : `rank ${first.rank} exited with code ${first.code}${first.signal ? ` (${first.signal})` : ''}`,
  };
}

/** The folder holding the `refit_worker` package, from src/worker/ (tsx) or dist/ (bundle). */
export function workerPythonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '..']) {
    const dir = resolve(here, up, 'worker', 'python');
    if (existsSync(join(dir, 'refit_worker', '__main__.py'))) return dir;
  }
  throw new RefitError(
    'E_WORKER_MISSING',
    `worker/python/refit_worker not found next to ${here}; reinstall refit`,
  );
}

/**
 * Why `distributed.strategy=fsdp` cannot train on `device` with `python`'s torch ('torch X (why)'), or null when it
 * can: the worker's own probe (`python -m refit_worker.dist fsdp-probe`; on CPU one sharded step in a group of one,
 * on CUDA whether FSDP2 exists). Throws when the probe itself cannot run.
 */
export function fsdpUnsupported(
  python: string,
  env: Record<string, string | undefined>,
  device: 'cpu' | 'cuda',
): string | null {
  const out = execFileSync(python, ['-m', 'refit_worker.dist', 'fsdp-probe', device], {
    encoding: 'utf8',
    timeout: 120_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, PYTHONPATH: [workerPythonPath(), env.PYTHONPATH].filter(Boolean).join(':') },
  });
  const last = out.trim().split('\n').at(-1) ?? '';
  return last === 'ok' ? null : last || 'this torch (no answer)';
}
