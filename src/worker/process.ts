// One Python worker child process speaking the JSON-lines protocol: start, one request at a time, close.
// It never interprets events beyond routing them; OOM handling and restarts belong to the supervisor. Spawning the
// processes is spawn.ts's, where the ranks are rank-layout.ts's.
import type { ChildProcess, ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { RunLog } from '../log.ts';
import type { ReadyEvent, WorkerCommand, WorkerEvent } from './protocol.ts';
import { freePort, rankEnvs } from './rank-layout.ts';
import { logRank, spawnWorker, type WorkerStartOptions } from './spawn.ts';
import { SpareSlot } from './spare.ts';

export { freePort, rankEnvs, worldSize, type RankLayout } from './rank-layout.ts';
export { fsdpUnsupported, runFollowerRanks, workerPythonPath, type WorkerStartOptions } from './spawn.ts';

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
    private readonly opts: WorkerStartOptions,
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

  /**
   * Spawns `python -m refit_worker` and resolves once it sent `ready`; rejects as soon as it dies. The spare a lost
   * worker of the same options left (spare.ts) is taken instead when it is ready or starting: a restart then skips
   * the interpreter's start and `import torch`.
   */
  static async start(opts: WorkerStartOptions): Promise<WorkerProcess> {
    const spare = WorkerProcess.spares.take(opts);
    if (spare) {
      const taken = await spare; // a spare that failed to start is this start's failure, found out sooner
      if (taken._state === 'ready' && !taken.crash) {
        taken.adopt();
        opts.log.write(`worker ${taken.pid ?? '?'} (started ahead when the last one was lost) takes over`);
        return taken;
      }
    }
    return WorkerProcess.startNew(opts);
  }

  private static async startNew(
    opts: WorkerStartOptions,
    o: { spare?: boolean } = {},
  ): Promise<WorkerProcess> {
    const multi = opts.ranks; // a layout, even of one rank, starts a group (design §8)
    if (multi && multi.node_rank !== 0)
      throw new Error('WorkerProcess.start runs on node 0; other nodes use runFollowerRanks');
    const envs = multi ? rankEnvs(multi, multi.master_port || (await freePort())) : [{ rank: 0, env: {} }];
    // Its own process group: Ctrl-C in a terminal signals only refit, which then stops the worker cleanly itself.
    const child = spawnWorker(opts, envs[0].env, 'protocol') as ChildProcessWithoutNullStreams;
    const worker = new WorkerProcess(child, opts.log, opts);
    if (o.spare) worker.idle();
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

  /** Set while this worker is a spare nobody took yet: it keeps no refit process alive, and starts no spare. */
  private spare = false;

  /** The spare started when a worker is lost (spare.ts). */
  private static readonly spares = new SpareSlot<WorkerProcess>();

  /** A spare keeps neither the refit process nor its event loop alive: it exits when its stdin closes with refit. */
  private idle(): void {
    this.spare = true;
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr])
      (s as { unref?(): void }).unref?.();
  }

  /** A spare taken by start(): from now on it is a worker like any other. */
  private adopt(): void {
    this.spare = false;
    this.child.ref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as { ref?(): void }).ref?.();
  }

  /** Every worker process of this refit process that has not exited yet. */
  private static readonly live = new Set<WorkerProcess>();

  /** Kills every live worker at once (SIGKILL, synchronous): the second Ctrl-C, when refit must stop now. */
  static killAll(): void {
    WorkerProcess.spares.close(); // refit stops now: no restart follows
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
    // A restart is likely next (the server's, the training supervisor's): its worker starts now.
    // Only for a worker that was up: one that fails to start would fail again as a spare.
    if (!this.spare && this._ready)
      WorkerProcess.spares.fill(this.opts, () => WorkerProcess.startNew(this.opts, { spare: true }));
    this._state = 'crashed';
    if (this.followers.length) this.killRanks(); // one rank gone: the others would wait in their next collective
    this.log.write(this.crash.message);
    this.waiter?.reject(this.crash);
  }
}
