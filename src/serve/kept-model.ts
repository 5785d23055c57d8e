// A served run's model kept alive, whatever its head: opened lazily (a run being trained has no model yet), its
// worker watched (lost, pinged when idle, killed past a call's time limit) and restarted with bounded back-off;
// meanwhile calls get 503 with Retry-After, and a worker that dies on every start ends `down`, with one log line.
// A replaced model folder is checked (FolderGuard) before the model being served is let go. The relation run's
// LazyPredictor and the NER run's side of /v1/extract are both one of these: what differs is how a model opens.
import { basename, join, resolve } from 'node:path';
import { RefitError } from '../errors.ts';
import { clip, type RunLog } from '../log.ts';
import type { Liveness } from '../infer/index.ts';
import { WorkerCrashError } from '../worker/index.ts';
import { FolderGuard, modelFolderKey, refusedDown } from './model-watch.ts';
import { HttpError } from './http-error.ts';
import { hidePaths } from './redact.ts';
import {
  DEFAULT_RESTART_POLICY,
  DOWN_RETRY_AFTER_S,
  HEARTBEAT_MS,
  RELOAD_GRACE_MS,
  STABLE_AFTER_MS,
  WORKER_START_ESTIMATE_S,
  WORKER_TIMEOUT_MS,
  type RestartPolicy,
  type WorkerHealth,
  type WorkerStatus,
} from './worker-policy.ts';

/** An open model as KeptModel holds it: its worker's liveness, and close. */
export type KeptEngine = Liveness & { close(): Promise<void> };

/** How a KeptModel opens its run's model and keeps its worker (timings default to worker-policy.ts). */
export interface KeptModelOptions<P extends KeptEngine> {
  run_dir?: string;
  /** What a call is told when there is no run_dir (default: start with --run DIR). */
  no_run?: string;
  /** Opens `<run_dir>/model` (its worker started and loaded, or model.onnx in this process). */
  open: () => Promise<P>;
  /** What the model is called in log lines, health reasons and 503s (default `model`, e.g. `NER model`). */
  name?: string;
  log: RunLog;
  restart?: Partial<RestartPolicy>;
  worker_timeout_ms?: number;
  heartbeat_ms?: number;
  notify?: (line: string) => void;
}

/**
 * A run's model opened on first use and kept alive. When the model folder is replaced (a training run served live
 * finishes, or is rerun), the next call opens the new one; when the worker is lost, it is restarted.
 */
export class KeptModel<P extends KeptEngine> {
  private opening: Promise<P> | undefined;
  private current: P | undefined;
  private openedKey: string | undefined;
  private readonly retired = new Set<Promise<P>>();
  private timer: NodeJS.Timeout | undefined;
  private retryAt = 0;
  private readyAt = 0;
  /** When the start now under way began (ms), or 0. */
  private startingAt = 0;
  /** How long the last start of the worker took, open to ready (ms), or null before the first. */
  lastStartMs: number | null = null;
  private inFlight = 0;
  private pinging = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly guard = new FolderGuard();
  private readonly policy: RestartPolicy;
  /** What the model is called in lines meant for people (`model`, `NER model`). */
  readonly name: string;
  /** True once a model is open. */
  loaded = false;
  /** How many times a replaced model folder was opened anew. */
  reloads = 0;
  /** Where the worker is now. */
  state: WorkerStatus = 'none';
  /** Restarts attempted since the server started (after a worker died, hung, or failed to start). */
  restarts = 0;
  /** Losses since the last call that succeeded; past policy.max_restarts the worker is `down`. */
  failures = 0;
  /** Why the worker is not `ready` (one line, no paths), or null. */
  reason: string | null = null;
  /** The last loss, one line. */
  lastLoss: string | null = null;

  constructor(private readonly opts: KeptModelOptions<P>) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...opts.restart };
    this.name = opts.name ?? 'model';
  }

  /** Called with each model once it is open, before any call reaches it (e.g. to keep what /v1/model shows). */
  protected opened(_p: P): void {}

  /**
   * Pings the worker when it is idle: one that does not answer within heartbeat_ms is killed, and restarted
   * as lost.
   */
  private beat(): void {
    const p = this.current;
    if (!p || this.state !== 'ready' || this.inFlight > 0 || this.pinging) return;
    this.pinging = true;
    p.ping(this.opts.heartbeat_ms ?? HEARTBEAT_MS)
      .catch(() => undefined)
      .finally(() => {
        this.pinging = false;
      });
  }

  /** The model folder changed: opened anew, unless it fails its check while a model is served (FolderGuard). */
  private folderChanged(key: string): void {
    const serving = !!this.current && this.state === 'ready';
    if (!serving || !this.guard.keeps(key, this.opts.run_dir as string, (l) => this.say(l))) this.replaced();
  }

  /**
   * The open model; throws E_NO_MODEL (answered 503) when the run has no trained model yet, HttpError 503
   * while restarting or down.
   */
  get(): Promise<P> {
    const key = modelFolderKey(this.opts.run_dir);
    if (key !== undefined && this.openedKey !== undefined && key !== this.openedKey) this.folderChanged(key);
    if (this.state === 'restarting' || this.state === 'down') return Promise.reject(this.unavailable());
    if (this.opening) return this.opening;
    const run_dir = this.opts.run_dir;
    if (!run_dir || key === undefined) {
      return Promise.reject(
        new RefitError(
          'E_NO_MODEL',
          run_dir
            ? `no trained model in ${join(basename(resolve(run_dir)), 'model')} yet (training still ` +
                `running, or not a trained run)`
            : (this.opts.no_run ?? 'no run folder given (start with --run DIR)'),
        ),
      );
    }
    return this.open(key);
  }

  /**
   * Opens the model before the server listens, so the first request is as fast as the rest. It never throws: a worker
   * that cannot start is retried like a lost one, and the server listens meanwhile (health `degraded`, then `down`),
   * rather than exiting into a supervisor's restart loop.
   */
  async warmUp(): Promise<void> {
    const key = modelFolderKey(this.opts.run_dir);
    if (key === undefined) return;
    await this.open(key).catch(() => undefined);
  }

  /**
   * Runs `fn` on the current model. A call the worker does not answer within worker_timeout_ms kills it (it is then
   * restarted like any lost worker); a call cut short by the worker's loss answers 503 with Retry-After.
   */
  async call<T>(fn: (p: P) => Promise<T>): Promise<T> {
    const p = await this.get();
    this.inFlight++;
    const limit = this.opts.worker_timeout_ms ?? WORKER_TIMEOUT_MS;
    const watchdog = setTimeout(() => {
      if (this.current !== p || p.pid === undefined) return;
      this.opts.log.write(
        `serve: ${this.name} worker (pid ${p.pid}) did not answer within ${limit} ms; killing it`,
      );
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, limit);
    try {
      const r = await fn(p);
      this.failures = 0; // a worker that answers is healthy again: later losses start a new count
      return r;
    } catch (e) {
      if (e instanceof WorkerCrashError || this.current !== p) {
        await new Promise((done) => setImmediate(done)); // let the loss be recorded before answering
        throw this.unavailable();
      }
      throw e;
    } finally {
      this.inFlight--;
      clearTimeout(watchdog);
    }
  }

  /** The health of the worker for /v1/health. */
  health(): WorkerHealth {
    const refused = this.state === 'ready' ? this.guard.refused : null;
    const status =
      this.state === 'restarting' || refused ? 'degraded' : this.state === 'down' ? 'down' : 'ok';
    return {
      status,
      reason: this.reason ?? refused,
      worker: {
        state: this.state,
        pid: this.current?.pid ?? null,
        restarts: this.restarts,
        failures_in_a_row: this.failures,
        last_loss: this.lastLoss,
        retry_in_s: this.state === 'restarting' ? this.retryAfterS() : null,
        last_start_s: this.lastStartMs === null ? null : Math.round(this.lastStartMs / 100) / 10,
      },
    };
  }

  /**
   * Seconds until the worker should be back: the back-off left, then a start as long as the last one measured
   * (WORKER_START_ESTIMATE_S before any was), less what the start under way has already taken. At least 1.
   */
  private retryAfterS(): number {
    const now = Date.now();
    const start = this.lastStartMs ?? WORKER_START_ESTIMATE_S * 1000;
    const left =
      this.startingAt > 0 ? start - (now - this.startingAt) : Math.max(0, this.retryAt - now) + start;
    return Math.max(1, Math.ceil(left / 1000));
  }

  /** The 503 a request gets while the worker is restarting or down. */
  private unavailable(): HttpError {
    if (this.state === 'down') {
      return new HttpError(
        503,
        `${this.name} unavailable (down): ${this.reason ?? 'its worker could not be started'}`,
        { 'retry-after': String(DOWN_RETRY_AFTER_S) },
        { quiet: true },
      );
    }
    const after = this.retryAfterS();
    return new HttpError(
      503,
      `${this.name} unavailable: its worker is restarting (${this.lastLoss ?? 'it was lost'}); retry in ${after} s`,
      { 'retry-after': String(after) },
      { quiet: true },
    );
  }

  private open(key: string): Promise<P> {
    this.openedKey = key;
    if (this.state !== 'restarting') this.state = 'starting';
    const t0 = Date.now();
    this.startingAt = t0;
    const attempt: Promise<P> = this.opts.open().then(
      (p) => {
        if (attempt !== this.opening || this.closed) {
          void p.close();
          throw new HttpError(503, `the ${this.name} was replaced while it loaded; try again`);
        }
        const wasRestart = this.state === 'restarting';
        this.lastStartMs = Date.now() - t0;
        this.startingAt = 0;
        this.current = p;
        this.loaded = true;
        this.state = 'ready';
        this.readyAt = Date.now();
        this.reason = null;
        this.opened(p);
        if (wasRestart)
          this.say(
            `${this.name} worker is back (pid ${p.pid ?? '?'}) after restart ${this.restarts}, ` +
              `its start took ${(this.lastStartMs / 1000).toFixed(1)} s`,
          );
        void p.lost.then((e) => this.onLost(attempt, p, e));
        if (!this.heartbeat) {
          this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeat_ms ?? HEARTBEAT_MS);
          this.heartbeat.unref();
        }
        return p;
      },
      (e: unknown) => {
        if (attempt === this.opening) this.startingAt = 0;
        if (attempt === this.opening && !this.closed) {
          this.opening = undefined;
          this.onFailure(e, 'failed to start');
        }
        throw e;
      },
    );
    this.opening = attempt;
    return attempt;
  }

  private onLost(attempt: Promise<P>, p: P, e: Error): void {
    if (attempt !== this.opening || this.closed) return; // a replaced model's worker: nobody waits for it
    this.opening = undefined;
    this.current = undefined;
    void p.close().catch(() => undefined);
    // a loss after a long healthy run is a first loss
    if (Date.now() - this.readyAt > STABLE_AFTER_MS) this.failures = 0;
    this.onFailure(e, 'died');
  }

  /** Counts a loss and schedules the next start after the back-off, or gives up (`down`) past max_restarts. */
  private onFailure(e: unknown, what: string): void {
    this.failures++;
    const why = clip(hidePaths(String(e instanceof Error ? e.message : e).split('\n')[0]), 300);
    if (e instanceof RefitError && e.code === 'E_MANIFEST') {
      // Files that do not match their manifest do not get better by restarting: down until the folder changes.
      [this.state, this.lastLoss, this.reason] = ['down', `model folder refused: ${why}`, refusedDown(why)];
      return this.say(`DOWN: ${this.reason}`);
    }
    this.lastLoss = what === 'died' && why.startsWith('worker ') ? why : `worker ${what}: ${why}`;
    if (this.failures > this.policy.max_restarts) {
      this.state = 'down';
      this.reason =
        `${this.name} worker lost ${this.failures} times in a row (last: ${this.lastLoss}); not ` +
        `restarted again: fix the cause, then restart refit serve`;
      this.say(`DOWN: ${this.reason}`);
      return;
    }
    const delay = Math.min(this.policy.max_ms, this.policy.base_ms * 2 ** (this.failures - 1));
    this.state = 'restarting';
    this.retryAt = Date.now() + delay;
    this.reason =
      `${this.name} worker lost (${this.lastLoss}); restart ${this.failures} of at most ` +
      `${this.policy.max_restarts} in ${delay} ms`;
    this.say(this.reason);
    this.timer = setTimeout(() => this.restart(), delay);
  }

  private restart(): void {
    this.timer = undefined;
    if (this.closed || this.state !== 'restarting') return;
    this.restarts++;
    const key = modelFolderKey(this.opts.run_dir);
    if (key === undefined) {
      this.onFailure(new Error('the model folder is gone'), 'failed to start');
      return;
    }
    this.open(key).catch(() => undefined); // a failure is counted in open()
  }

  /**
   * The model folder was replaced: the old worker finishes what it has, and the new model starts with a clean
   * slate.
   */
  private replaced(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.opening) this.retire(this.opening);
    else if (this.loaded) this.reloads++;
    this.opening = undefined;
    this.current = undefined;
    this.state = 'none';
    this.failures = 0;
    this.reason = null;
    this.guard.clear();
  }

  private say(line: string): void {
    this.opts.log.write(`serve: ${line}`);
    this.opts.notify?.(line);
  }

  private retire(old: Promise<P>): void {
    this.reloads++;
    this.opts.log.write(
      `serve: ${this.name} folder replaced; opening the new one (the old worker stops in ${RELOAD_GRACE_MS} ms)`,
    );
    this.retired.add(old);
    setTimeout(() => void this.stop(old), RELOAD_GRACE_MS).unref();
  }

  private async stop(p: Promise<P>): Promise<void> {
    this.retired.delete(p);
    await p
      .then(
        (x) => x.close(),
        () => undefined,
      )
      .catch(() => undefined);
  }

  /** Closes the model's worker(s): the current one and any replaced ones still in their grace period. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const all = [...this.retired, ...(this.opening ? [this.opening] : [])];
    this.opening = undefined;
    await Promise.all(all.map((p) => this.stop(p)));
  }
}
