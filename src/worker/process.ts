// One Python worker child process speaking the JSON-lines protocol: start, one request at a time, close.
// It never interprets events beyond routing them; OOM handling and restarts belong to the supervisor.
import {
  execFileSync,
  spawn,
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
} from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import type { ReadyEvent, WorkerCommand, WorkerEvent } from './protocol.ts';
import { cleanEnv } from './python.ts';
import { defaultThreads } from './threads.ts';

/** How long the worker may take to import torch and say `ready`. */
export const WORKER_START_TIMEOUT_MS = 120_000;
/** How long close() waits after `shutdown`, and again after SIGTERM, before escalating. */
export const SIGKILL_GRACE_MS = 5_000;
/** How many of the worker's last stderr lines a crash error carries. */
export const STDERR_TAIL_LINES = 20;

/** Lifecycle of a worker process. */
export type WorkerState = 'starting' | 'ready' | 'running' | 'stopping' | 'stopped' | 'crashed';

/** The worker died (or hung) while starting or answering: exit code, signal, state, step and its last stderr lines. */
export class WorkerCrashError extends Error {
  constructor(
    readonly reason: 'exit' | 'spawn' | 'start-timeout' | 'request-timeout',
    readonly exit_code: number | null,
    readonly signal: string | null,
    readonly state: WorkerState,
    readonly step: number | null,
    readonly stderr_tail: string[],
    detail = '',
  ) {
    const tail = stderr_tail.slice(-5).join(' | ');
    super(
      `worker ${reason === 'exit' ? 'died' : reason}${detail ? ` (${detail})` : ''}: ` +
        `exit code ${exit_code ?? 'none'}, ` +
        `signal ${signal ?? 'none'}, state ${state}, step ${step ?? 'none'}${tail ? `; last stderr: ${tail}` : ''}`,
    );
    this.name = 'WorkerCrashError';
  }
}

/**
 * Several ranks (design §8): this machine starts `nproc_per_node` worker processes with PyTorch's env://
 * variables. Global rank 0 speaks the protocol; the others follow its commands (broadcast) and only log.
 */
export interface RankLayout {
  nproc_per_node: number;
  nnodes: number;
  node_rank: number;
  master_addr: string;
  /** 0: a free port is picked (one machine only). */
  master_port: number;
  /** auto | nccl | gloo, passed to the workers as REFIT_DIST_BACKEND. */
  backend: string;
  /**
   * Added to each local rank's LOCAL_RANK (torchrun/Slurm: this process's own LOCAL_RANK; one rank per refit
   * process).
   */
  local_rank_offset?: number;
}

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

/** The world size of a layout (1 without one). */
export function worldSize(r: RankLayout | undefined): number {
  return r ? r.nproc_per_node * r.nnodes : 1;
}

/** A TCP port that was free a moment ago on this machine (for MASTER_PORT). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => done(port));
    });
  });
}

/** The environment of each local rank: PyTorch's env:// variables (as torchrun sets them) on top of `env`. */
export function rankEnvs(r: RankLayout, port: number): Array<{ rank: number; env: Record<string, string> }> {
  const world = worldSize(r);
  return Array.from({ length: r.nproc_per_node }, (_, local) => {
    const rank = r.node_rank * r.nproc_per_node + local;
    return {
      rank,
      env: {
        RANK: String(rank),
        LOCAL_RANK: String(local + (r.local_rank_offset ?? 0)),
        WORLD_SIZE: String(world),
        LOCAL_WORLD_SIZE: String(r.nproc_per_node),
        MASTER_ADDR: r.master_addr,
        MASTER_PORT: String(port),
        REFIT_DIST_BACKEND: r.backend,
      },
    };
  });
}

/** Spawns one `python -m refit_worker` (its own process group, so Ctrl-C reaches only refit). */
function spawnWorker(
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
  const args = ['-m', 'refit_worker', '--num-threads', String(opts.num_threads ?? defaultThreads())];
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
function logRank(child: ChildProcess, rank: number, log: RunLog): string[] {
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

type Waiter = { resolve: (ev: WorkerEvent) => void; reject: (e: Error) => void };

/** A running worker: `request` sends one command and resolves with the event that answers it. */
export class WorkerProcess {
  private _state: WorkerState = 'starting';
  private _ready: ReadyEvent | undefined;
  private waiter: Waiter | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private step: number | null = null;
  private readonly stderrTail: string[] = [];
  private readonly exited: Promise<void>;
  private crash: WorkerCrashError | undefined;
  private markLost: (e: WorkerCrashError) => void = () => undefined;
  /** Resolves, at once, when the worker dies or hangs (not when it is closed): the server restarts it then. */
  readonly lost: Promise<WorkerCrashError> = new Promise((done) => {
    this.markLost = done;
  });

  /** The other local ranks (several ranks only): started with rank 0, stopped with it; one's death stops all. */
  private followers: Array<{ rank: number; child: ChildProcess }> = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly log: RunLog,
  ) {
    this.exited = new Promise((done) => child.once('close', () => done()));
    createInterface({ input: child.stdout }).on('line', (line) => this.onStdout(line));
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      log.write(`worker[${child.pid ?? '?'}] ${line}`);
    });
    // 'close' (not 'exit'): by then stderr is drained, so a crash error carries the worker's last words.
    child.once('close', (code, signal) => this.onExit('exit', code, signal));
    child.once('error', (e) => this.onExit('spawn', null, null, e.message));
    child.stdin.on('error', () => undefined); // EPIPE after a crash surfaces through 'exit'
  }

  /** Spawns `python -m refit_worker` and resolves once it sent `ready`; rejects as soon as it dies. */
  static async start(opts: WorkerStartOptions): Promise<WorkerProcess> {
    const multi = opts.ranks; // a layout, even of one rank, starts a group (design §8)
    if (multi && multi.node_rank !== 0)
      throw new Error('WorkerProcess.start runs on node 0; other nodes use runFollowerRanks');
    const envs = multi ? rankEnvs(multi, multi.master_port || (await freePort())) : [{ rank: 0, env: {} }];
    // Its own process group: Ctrl-C in a terminal signals only refit, which then stops the worker cleanly itself.
    const child = spawnWorker(opts, envs[0].env, 'protocol') as ChildProcessWithoutNullStreams;
    const worker = new WorkerProcess(child, opts.log);
    WorkerProcess.live.add(worker);
    child.once('close', () => WorkerProcess.live.delete(worker));
    for (const { rank, env } of envs.slice(1)) worker.addFollower(rank, spawnWorker(opts, env, 'log'));
    const timeout = opts.start_timeout_ms ?? WORKER_START_TIMEOUT_MS;
    const ready = await worker.nextEvent(timeout, 'start-timeout');
    if (ready.type !== 'ready') {
      await worker.kill();
      throw new Error(`worker started with ${ready.type} instead of ready`);
    }
    worker._ready = ready;
    worker._state = 'ready';
    opts.log.write(
      `worker ready: torch ${ready.torch_version}, python ${ready.python_version}, ${ready.num_threads} threads, ` +
        JSON.stringify(ready.capabilities),
    );
    return worker;
  }

  /** Supervises a follower rank: its stderr goes to the log; its death while rank 0 still runs stops every rank. */
  private addFollower(rank: number, child: ChildProcess): void {
    this.followers.push({ rank, child });
    const tail = logRank(child, rank, this.log);
    child.once('close', (code, signal) => {
      if (this._state === 'stopping' || this._state === 'stopped' || this.crash) return;
      const last = tail.at(-1)?.replace(/^refit_worker: /, '');
      this.fail(
        'exit',
        code,
        signal,
        `rank ${rank} died${last ? ` after '${last.slice(0, 200)}'` : ''}; every rank is stopped`,
      );
      this.killRanks();
    });
  }

  /** SIGKILL to every process of this worker (rank 0 and the followers). */
  private killRanks(): void {
    for (const c of [this.child, ...this.followers.map((f) => f.child)]) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** Resolves when every follower rank has exited, or SIGKILLs them after `ms`. */
  private async followersGone(ms: number): Promise<void> {
    const alive = this.followers.filter((f) => f.child.exitCode === null && f.child.signalCode === null);
    if (!alive.length) return;
    const gone = Promise.all(
      alive.map((f) => new Promise<void>((done) => f.child.once('close', () => done()))),
    );
    const timer = setTimeout(() => {
      for (const f of alive) {
        try {
          f.child.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    }, ms);
    await gone;
    clearTimeout(timer);
  }

  /** Every worker process of this refit process that has not exited yet. */
  private static readonly live = new Set<WorkerProcess>();

  /** Kills every live worker at once (SIGKILL, synchronous): the second Ctrl-C, when refit must stop now. */
  static killAll(): void {
    for (const w of WorkerProcess.live) w.killRanks();
  }

  /** The worker's `ready` event (versions, capabilities, threads). */
  get ready(): ReadyEvent {
    if (!this._ready) throw new Error('worker not ready');
    return this._ready;
  }

  /** Where the process is in its lifecycle. */
  get state(): WorkerState {
    return this._state;
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Sends `cmd` (queued behind earlier requests) and resolves with its answer; rejects with WorkerCrashError
   * if the child dies or the timeout passes.
   */
  request(cmd: WorkerCommand, opts: { timeout_ms?: number } = {}): Promise<WorkerEvent> {
    const run = async (): Promise<WorkerEvent> => {
      if (this.crash) throw this.crash;
      if (this._state !== 'ready') throw new Error(`worker is ${this._state}; cannot send ${cmd.type}`);
      if (cmd.type === 'train_step') this.step = cmd.step;
      // After `shutdown` the worker exits: that exit is a stop, not a crash.
      this._state = cmd.type === 'shutdown' ? 'stopping' : 'running';
      const answer = this.nextEvent(opts.timeout_ms, 'request-timeout');
      this.child.stdin.write(JSON.stringify(cmd) + '\n');
      const ev = await answer;
      if (this._state === 'running') this._state = 'ready';
      return ev;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Sends `shutdown`, then SIGTERM, then SIGKILL, each after `grace_ms` (SIGKILL_GRACE_MS); resolves when the
   * child is gone.
   */
  async close(opts: { grace_ms?: number } = {}): Promise<void> {
    if (this._state === 'stopped' || this._state === 'crashed') return;
    const grace = opts.grace_ms ?? SIGKILL_GRACE_MS;
    // Let a running command finish, but not forever: a hung worker is killed below.
    await Promise.race([this.queue, new Promise((done) => setTimeout(done, grace).unref())]);
    // the state may change while waiting
    if (this.crash || (this._state as WorkerState) === 'stopped') return this.followersGone(grace);
    if (this._state !== 'stopping') {
      this._state = 'stopping';
      this.child.stdin.write(JSON.stringify({ type: 'shutdown' }) + '\n');
    }
    this.child.stdin.end();
    if (await this.exitsWithin(grace)) return this.followersGone(grace);
    this.log.write(`worker ignored shutdown for ${grace} ms: SIGTERM`);
    this.child.kill('SIGTERM');
    if (await this.exitsWithin(grace)) return this.followersGone(grace);
    this.log.write(`worker ignored SIGTERM for ${grace} ms: SIGKILL`);
    this.child.kill('SIGKILL');
    await this.exited;
    await this.followersGone(0);
  }

  private async kill(): Promise<void> {
    this.killRanks();
    await this.exited;
  }

  private exitsWithin(ms: number): Promise<boolean> {
    return new Promise((done) => {
      const timer = setTimeout(() => done(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        done(true);
      });
    });
  }

  /** The next event, or a WorkerCrashError when the child dies first or `timeout_ms` passes. */
  private nextEvent(
    timeout_ms: number | undefined,
    reason: 'start-timeout' | 'request-timeout',
  ): Promise<WorkerEvent> {
    return new Promise((resolvePromise, rejectPromise) => {
      if (this.crash) return rejectPromise(this.crash);
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        if (timer) clearTimeout(timer);
        this.waiter = undefined;
      };
      this.waiter = {
        resolve: (ev) => {
          settle();
          resolvePromise(ev);
        },
        reject: (e) => {
          settle();
          rejectPromise(e);
        },
      };
      if (timeout_ms) {
        timer = setTimeout(() => {
          // A worker that does not answer is out of sync with the protocol: it cannot be reused.
          this.fail(reason, null, null, `no answer within ${timeout_ms} ms`);
          this.killRanks();
        }, timeout_ms);
      }
    });
  }

  private onStdout(line: string): void {
    if (!line.trim()) return;
    let ev: WorkerEvent;
    try {
      ev = JSON.parse(line) as WorkerEvent;
    } catch {
      this.log.write(`worker stdout (not JSON, ignored): ${line.slice(0, 500)}`);
      return;
    }
    if (this.waiter) this.waiter.resolve(ev);
    else this.log.write(`worker event nobody asked for: ${line.slice(0, 500)}`);
  }

  private onExit(
    reason: 'exit' | 'spawn',
    code: number | null,
    signal: NodeJS.Signals | null,
    detail = '',
  ): void {
    if (this._state === 'stopping' && reason === 'exit') {
      this._state = 'stopped';
      this.log.write(`worker exited: code ${code ?? 'none'}, signal ${signal ?? 'none'}`);
      this.waiter?.reject(new Error('worker stopped (close) before it answered'));
      return;
    }
    if (this._state === 'stopped') return;
    this.fail(reason, code, signal, detail);
  }

  private fail(
    reason: WorkerCrashError['reason'],
    code: number | null,
    signal: string | null,
    detail: string,
  ): void {
    if (this.crash) return;
    this.crash = new WorkerCrashError(
      reason,
      code,
      signal,
      this._state,
      this.step,
      [...this.stderrTail],
      detail,
    );
    this.markLost(this.crash);
    this._state = 'crashed';
    if (this.followers.length) this.killRanks(); // one rank gone: the others would wait in their next collective
    this.log.write(this.crash.message);
    this.waiter?.reject(this.crash);
  }
}
