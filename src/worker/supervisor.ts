// The training supervisor: runs optimizer steps on a worker and recovers from what goes wrong.
// An `oom` event re-plans the rest of the same logical step smaller (lossless, design §2) and escalates
// (smaller micro-batch → gradient checkpointing → activation offload → optimizer offload too → shorter window
// if allowed); a crash restarts the worker.
// It never changes the effective batch and never skips an example.
import { RefitError, pythonOsError, type ErrorCode } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { resplitRemaining, splitLogicalBatch, type BatchPolicy } from '../batch/index.ts';
import { WorkerCrashError } from './process.ts';
import {
  chooseRecovery,
  MIN_SEQ_LEN,
  type Offload,
  type OomNumbers,
  type RecoveryAction,
  type RecoveryLevers,
} from '../memory/index.ts';
import type {
  MicroBatch,
  OomEvent,
  StepEvent,
  TrainStepCommand,
  WorkerCommand,
  WorkerEvent,
} from './protocol.ts';

/** What a supervisor needs from a worker (WorkerProcess satisfies it). */
export interface SupervisedWorker {
  request(cmd: WorkerCommand, opts?: { timeout_ms?: number }): Promise<WorkerEvent>;
  close(): Promise<void>;
}

/** The memory levers recovery may change; the effective batch is not among them. */
export type Levers = RecoveryLevers;

// The recovery order and each lever's step live in the lever table (src/memory/levers.ts): micro-batch, then
// gradient checkpointing, then a shorter window if allowed. Re-exported here for the supervisor's callers.
export { chooseRecovery, MIN_SEQ_LEN, type OomNumbers, type RecoveryAction };

/** Callbacks through which a supervisor reaches the run: starting workers, re-encoding, reporting. */
export interface SupervisorHooks {
  /** Starts a worker with these levers, loaded and with its datasets open; restores `restore_from` when given. */
  launch(levers: Levers, restore_from?: string): Promise<SupervisedWorker>;
  /** A folder where the supervisor may save the model+optimizer state before a reload. */
  scratch_dir: string;
  /** Re-encodes the training data with a shorter window; returns the new lengths and dataset name. */
  shorten?(max_seq_len: number): Promise<{ lengths: ArrayLike<number>; dataset: string }>;
  parseOom(text: string): OomNumbers;
  onOom?(e: OomEvent, report: OomNumbers): void;
  onRecover?(step: number, action: RecoveryAction): void;
  log: RunLog;
}

/** Raised by `trainStep` when the worker died; the run restarts from its last checkpoint. */
export class WorkerLostError extends Error {
  constructor(
    readonly step: number,
    readonly cause_error: unknown,
  ) {
    super(
      `worker lost at step ${step}: ${cause_error instanceof Error ? cause_error.message : String(cause_error)}`,
    );
    this.name = 'WorkerLostError';
  }
}

/**
 * What a rank prints before it exits when it runs out of memory under fsdp (worker/python/refit_worker/dist.py
 * FSDP_OOM), as it reaches a crash message: rank, step, and the allocator's words.
 */
const FSDP_OOM_LINE = /rank (\d+): out of memory under fsdp at step (\d+), micro-batch \d+: ([^'|]*)/;

/** Default per-step timeout: a step that takes this long means the worker hangs. */
export const STEP_TIMEOUT_MS = 30 * 60 * 1000;

/** Drives optimizer steps on one worker at a time and applies recovery decisions to later steps too. */
export class TrainSupervisor {
  worker: SupervisedWorker | undefined;
  /**
   * The run's lever state, owned here and nowhere else: the batching policy (micro-batch, window, token budget) and
   * checkpointing. Recovery and the probe change it through this class; the loop, last.json, the events and the
   * worker's `load` read it (`levers`).
   */
  private batching: BatchPolicy;
  private checkpointing: boolean;
  private offload: Offload;
  lengths: ArrayLike<number>;
  dataset: string;
  /** Micro-batches the last finished step ran in (after any re-split), for the step event. */
  lastMicroBatches = 0;
  private readonly hooks: SupervisorHooks;
  private readonly allowShorterSeq: boolean;
  /** Several ranks: the micro-batch (over all of them) is never cut below one example a rank. */
  private readonly minMicro: number;

  constructor(opts: {
    hooks: SupervisorHooks;
    levers: Levers;
    policy: BatchPolicy;
    lengths: ArrayLike<number>;
    dataset: string;
    allow_shorter_seq: boolean;
    ranks?: number;
  }) {
    this.hooks = opts.hooks;
    this.minMicro = Math.max(1, opts.ranks ?? 1);
    this.checkpointing = opts.levers.grad_checkpointing;
    this.offload = opts.levers.offload ?? 'none';
    this.batching = {
      ...opts.policy,
      micro_batch_size: opts.levers.micro_batch_size,
      max_seq_len: opts.levers.max_seq_len,
    };
    this.lengths = opts.lengths;
    this.dataset = opts.dataset;
    this.allowShorterSeq = opts.allow_shorter_seq;
  }

  /** The levers now (a snapshot: change them through setMicro and recovery). */
  get levers(): Readonly<Levers> {
    const p = this.batching;
    return {
      micro_batch_size: p.micro_batch_size,
      grad_checkpointing: this.checkpointing,
      max_seq_len: p.max_seq_len,
      offload: this.offload,
    };
  }

  /** How logical batches are split now (a snapshot). */
  get policy(): Readonly<BatchPolicy> {
    return { ...this.batching };
  }

  /** Starts (or restarts) the worker, restoring `restore_from` when given. */
  async start(restore_from?: string): Promise<SupervisedWorker> {
    if (this.worker) await this.worker.close().catch(() => undefined);
    this.worker = undefined;
    this.worker = await this.hooks.launch(this.levers, restore_from);
    return this.worker;
  }

  /** The micro-batches this supervisor would send for a logical batch now. */
  split(indices: readonly number[]): MicroBatch[] {
    return splitLogicalBatch({ indices, lengths: this.lengths, policy: this.batching });
  }

  /**
   * Runs optimizer step `step` over the logical batch `indices`, recovering from OOM; throws WorkerLostError
   * on a crash.
   */
  async trainStep(step: number, indices: readonly number[]): Promise<StepEvent> {
    let micro = this.split(indices);
    let cont = false;
    let done = 0; // micro-batches finished before an OOM (their gradients are kept)
    for (;;) {
      const cmd: TrainStepCommand = {
        type: 'train_step',
        step,
        dataset: this.dataset,
        logical_batch_size: indices.length,
        micro_batches: micro,
        continue: cont,
      };
      const ev = await this.send(step, cmd);
      if (ev.type === 'step') {
        this.lastMicroBatches = done + micro.length;
        return ev;
      }
      if (ev.type !== 'oom') throw workerError(ev, 'train_step');
      const failed = micro[ev.completed_micro_batches]?.indices.length ?? this.levers.micro_batch_size;
      const action = this.nextLever(ev, failed);
      if (action.kind === 'smaller_micro_batch') {
        await this.applyLever(step, action);
        done += ev.completed_micro_batches;
        micro = resplitRemaining({
          micro_batches: micro,
          completed: ev.completed_micro_batches,
          lengths: this.lengths,
          policy: this.batching,
        });
        cont = true;
      } else {
        // Checkpointing, offload and the window are load-time choices: save the state (no optimizer step happened yet
        // in this logical step), reload with the new lever, and redo the whole step from zeroed gradients.
        await this.reload(step, action);
        micro = this.split(indices);
        cont = false;
        done = 0;
      }
      this.hooks.onRecover?.(step, action);
    }
  }

  /**
   * A rank ran out of memory where the ranks cannot drop one micro-batch together (fsdp: FSDP's collectives run inside
   * forward and backward), so it printed `FSDP_OOM_LINE` and every rank stopped. Chooses the next lever as for an
   * `oom` event and applies it to the levers the restarted worker loads with; the run then replays the steps since
   * its last checkpoint (the same examples, the same effective batch). Returns null when `lost` is another failure.
   */
  async recoverLostOom(lost: WorkerLostError): Promise<RecoveryAction | null> {
    const m = FSDP_OOM_LINE.exec(lost.message);
    if (!m) return null;
    const [rank, step, message] = [Number(m[1]), Number(m[2]), m[3]];
    const device = /CUDA|HIP/.test(message) ? 'cuda' : 'cpu'; // the rank is gone: no memory figures
    const ev: OomEvent = { type: 'oom', step, completed_micro_batches: 0, message, memory: { device }, rank };
    const action = this.nextLever(
      ev,
      this.levers.micro_batch_size,
      '; fsdp: replayed from the last checkpoint',
    );
    await this.applyLever(step, action);
    this.hooks.onRecover?.(step, action);
    return action;
  }

  /**
   * The OOM of `ev` reported (onOom) and the next lever of the table's recovery order chosen and logged; when none is
   * left, E_OOM_UNRECOVERABLE.
   */
  private nextLever(ev: OomEvent, failed_size: number, how = ''): RecoveryAction {
    const report = this.hooks.parseOom(ev.message);
    this.hooks.onOom?.(ev, report);
    const action = chooseRecovery({
      levers: this.levers,
      failed_size,
      report,
      allow_shorter_seq: this.allowShorterSeq,
      min_micro_batch: this.minMicro,
      world: this.minMicro,
    });
    const where = ev.rank !== undefined ? ` on rank ${ev.rank}` : '';
    if (!action)
      throw new RefitError(
        'E_OOM_UNRECOVERABLE',
        `out of memory at step ${ev.step}${where} with micro-batch ${this.levers.micro_batch_size}, gradient ` +
          `checkpointing on, offload ${this.offload} and no shorter window allowed (set ` +
          'memory.allow_shorter_seq=true or a smaller memory.max_seq_len / model)',
      );
    const change = `${action.kind} ${String(action.from)} → ${String(action.to)}`;
    this.hooks.log.write(`step ${ev.step}${where}: ${change} (${action.reason})${how}`);
    return action;
  }

  /** Sets the lever `action` changes, for the rest of the run (a shorter window re-encodes the training data). */
  private async applyLever(step: number, action: RecoveryAction): Promise<void> {
    if (action.kind === 'smaller_micro_batch') this.setMicro(action.to);
    else if (action.kind === 'grad_checkpointing') this.checkpointing = true;
    else if (action.kind === 'offload') this.offload = action.to;
    else {
      if (!this.hooks.shorten)
        throw new RefitError(
          'E_OOM_UNRECOVERABLE',
          `out of memory at step ${step}: a shorter window is not possible here`,
        );
      const next = await this.hooks.shorten(action.to);
      this.batching = { ...this.batching, max_seq_len: action.to };
      this.lengths = next.lengths;
      this.dataset = next.dataset;
    }
  }

  /**
   * Sets the micro-batch for the rest of the run (recovery; the probe's measured size, which keeps the token
   * budget).
   */
  setMicro(size: number, o: { keep_tokens?: boolean } = {}): void {
    const p = { ...this.batching, micro_batch_size: size };
    if (p.batching === 'token_budget' && p.max_tokens && !o.keep_tokens) {
      // Keep the token budget consistent with the smaller micro-batch so the split actually shrinks.
      p.max_tokens = Math.max(p.max_seq_len, Math.floor(p.max_tokens / 2));
    }
    this.batching = p;
  }

  private async reload(step: number, action: RecoveryAction): Promise<void> {
    const dir = this.hooks.scratch_dir;
    await this.send(step, { type: 'save', path: dir, checkpoint: true, step });
    await this.applyLever(step, action);
    await this.start(dir);
  }

  private async send(step: number, cmd: WorkerCommand): Promise<WorkerEvent> {
    if (!this.worker) throw new WorkerLostError(step, new Error('no worker'));
    try {
      return await this.worker.request(cmd, { timeout_ms: STEP_TIMEOUT_MS });
    } catch (e) {
      throw isWorkerLoss(e) ? new WorkerLostError(step, e) : e;
    }
  }
}

/** True for errors that mean the worker process is gone (crashed, killed, hung past its timeout). */
export function isWorkerLoss(e: unknown): boolean {
  return e instanceof WorkerCrashError || e instanceof WorkerLostError;
}

/** Turns an unexpected worker answer into an error (RefitError for the worker's stable user-facing codes). */
export function workerError(ev: WorkerEvent, command: string, path?: string): Error {
  if (ev.type === 'error') {
    const msg = ev.message.split('\n')[0];
    // An OSError while the worker writes (a checkpoint on a full disk) is the machine, not a bug: one line
    // naming the path.
    const os = ev.code === 'E_INTERNAL' ? pythonOsError(msg, path) : undefined;
    if (os) return os;
    return ev.code === 'E_INTERNAL'
      ? new Error(`worker ${command}: ${msg}`)
      : new RefitError(ev.code as ErrorCode, msg); // the worker's codes are in EXIT_CODES too
  }
  return new Error(`worker answered ${command} with unexpected event ${ev.type}`);
}
