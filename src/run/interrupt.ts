// Stopping a run on request (Ctrl-C / SIGTERM): the first request is noted and the run stops at its next safe
// point (between steps, between evaluation batches, between set-up phases) with a checkpoint kept and a
// `run_end` event of status `interrupted`; what to do on a second request is the caller's (the CLI exits at once).
import { RefitError } from '../errors.ts';

/** Exit status of a run stopped by a signal: 128 + the signal number, as a shell reports it. */
export function signalExitCode(signal: string): number {
  return signal === 'SIGTERM' ? 143 : signal === 'SIGHUP' ? 129 : 130;
}

/** A stop request shared by the caller (who receives signals) and the run (which checks it at safe points). */
export class StopRequest {
  private _signal: string | null = null;
  private readonly listeners: Array<(signal: string) => void> = [];
  private readonly forceHooks: Array<() => void> = [];

  /** The signal that asked the run to stop, or null. */
  get signal(): string | null {
    return this._signal;
  }

  /** True once a stop was requested. */
  get requested(): boolean {
    return this._signal !== null;
  }

  /** Asks the run to stop at its next safe point; later calls change nothing. */
  request(signal = 'SIGINT'): void {
    if (this._signal !== null) return;
    this._signal = signal;
    for (const f of this.listeners) f(signal);
  }

  /** Calls `f` when a stop is requested (at once if it already was). */
  onRequest(f: (signal: string) => void): void {
    if (this._signal !== null) f(this._signal);
    else this.listeners.push(f);
  }

  /**
   * Registers synchronous last words for `force` (record the end, kill the worker, release the lock); returns
   * an unregister.
   */
  onForce(f: () => void): () => void {
    this.forceHooks.push(f);
    return () => {
      const i = this.forceHooks.indexOf(f);
      if (i >= 0) this.forceHooks.splice(i, 1);
    };
  }

  /** The second request: runs every force hook at once (synchronously, each guarded); the caller then exits. */
  force(signal = 'SIGINT'): void {
    this.request(signal);
    for (const f of [...this.forceHooks].reverse()) {
      try {
        f();
      } catch {
        /* stopping at once must not fail */
      }
    }
  }

  /** Throws InterruptedError when a stop was requested; `phase` names where the run was. */
  check(phase: string, step = 0): void {
    if (this._signal !== null) throw new InterruptedError(this._signal, phase, step);
  }
}

/** The run stopped because it was asked to; `message` is set by the run once it knows what was kept. */
export class InterruptedError extends RefitError {
  constructor(
    readonly signal: string,
    readonly phase: string,
    readonly step: number,
    message?: string,
  ) {
    super(
      'E_INTERRUPTED',
      message ?? `interrupted (${signal}) while ${phase}; nothing was trained, so nothing was kept`,
      { exitCode: signalExitCode(signal) },
    );
    this.name = 'InterruptedError';
  }
}
