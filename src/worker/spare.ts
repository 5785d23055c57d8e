// The spare worker: one worker process started ahead when a worker is lost, because a restart usually follows (the
// server's, the training supervisor's); the next start of the same options takes it, skipping the interpreter's
// start and `import torch`. Holds and times the spare only; starting and adopting it are process.ts's.
import type { WorkerStartOptions } from './spawn.ts';

/** How long a spare worker waits to be taken before it is closed. */
export const SPARE_IDLE_MS = 30_000;

/** Whether a worker started with `a` can serve a start asked with `b`: one process, the same everything. */
export function sameStart(a: WorkerStartOptions, b: WorkerStartOptions): boolean {
  return (
    !a.ranks &&
    !b.ranks &&
    a.python === b.python &&
    a.log === b.log &&
    a.num_threads === b.num_threads &&
    JSON.stringify(a.env) === JSON.stringify(b.env)
  );
}

/** A slot for one spare worker `W` (a WorkerProcess), started for its options. */
export class SpareSlot<W extends { close(): Promise<void> }> {
  private held: { opts: WorkerStartOptions; worker: Promise<W>; timer: NodeJS.Timeout } | null = null;
  private closed = false;

  /** No spare is started from now on (refit is stopping); the one held is left to killAll. */
  close(): void {
    this.closed = true;
  }

  /** Starts a spare with `start` unless one is held (or `opts` has several ranks); closed if not taken in time. */
  fill(opts: WorkerStartOptions, start: () => Promise<W>): void {
    if (opts.ranks || this.held || this.closed) return;
    const worker = start();
    worker.catch(() => undefined); // a spare that fails to start is never taken: the start asking starts its own
    const timer = setTimeout(() => {
      if (this.held?.worker !== worker) return;
      this.held = null;
      void worker.then((w) => w.close()).catch(() => undefined);
    }, SPARE_IDLE_MS);
    timer.unref();
    this.held = { opts, worker, timer };
  }

  /** The spare started for options like `opts`, handed over; a spare of other options is closed. */
  take(opts: WorkerStartOptions): Promise<W> | undefined {
    const held = this.held;
    if (!held) return undefined;
    this.held = null;
    clearTimeout(held.timer);
    if (sameStart(held.opts, opts)) return held.worker;
    void held.worker.then((w) => w.close()).catch(() => undefined);
    return undefined;
  }
}
