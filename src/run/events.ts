// Run events (the lines of events.jsonl) and the Reporter hooks that display them. Names are snake_case:
// they cross into files that the report and the dashboard read. No I/O here.
import type { MemoryStats } from '../worker/protocol.ts';

/** `run_start`: the shape of the run before its first step. */
export interface RunStartEvent {
  event: 'run_start';
  time: string;
  run_dir: string;
  total_steps: number;
  steps_per_epoch: number;
  epochs: number;
  examples: { train: number; valid: number; test: number };
  device: string;
  plan: unknown;
  resumed_from_step?: number;
}
/** `step`: one finished optimizer step with its measured throughput and memory. */
export interface StepRunEvent {
  event: 'step';
  time: string;
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  examples: number;
  tokens: number;
  padded_tokens: number;
  examples_per_s: number;
  tokens_per_s: number;
  seconds: number;
  wall_seconds: number;
  micro_batches: number;
  micro_batch_size: number;
  /** Several ranks: the rank that peaked highest; `rank_memory` has every rank's, in rank order. */
  memory: MemoryStats;
  rank_memory?: MemoryStats[];
}
/** `eval`: metrics of one split after an epoch (or the final test). */
export interface EvalRunEvent {
  event: 'eval';
  time: string;
  epoch: number;
  step: number;
  split: string;
  accuracy: number;
  macro_f1: number;
  micro_f1: number;
  loss?: number;
}
/** `checkpoint`: a state folder written atomically. */
export interface CheckpointRunEvent {
  event: 'checkpoint';
  time: string;
  step: number;
  kind: 'last' | 'best';
  path: string;
}
/** `oom`: a micro-batch ran out of memory (message verbatim, parsed numbers beside it). */
export interface OomRunEvent {
  event: 'oom';
  time: string;
  step: number;
  completed_micro_batches: number;
  message: string;
  kind: string;
  requested_bytes?: number;
  free_bytes?: number;
  memory: MemoryStats;
  /** Several ranks: the rank that ran out (every rank dropped the same micro-batch). */
  rank?: number;
}
/** `recovery`: which lever changed after an OOM. */
export interface RecoveryRunEvent {
  event: 'recovery';
  time: string;
  step: number;
  action: string;
  from: number | boolean | string;
  to: number | boolean | string;
  reason: string;
}
/** `restart`: the worker died and the run resumes from a checkpoint. */
export interface RestartRunEvent {
  event: 'restart';
  time: string;
  step: number;
  resume_step: number;
  reason: string;
}
/**
 * `resume`: `--resume` continues from the checkpoint at `from_step`. events.jsonl stays append-only: the step,
 * eval and checkpoint events above from_step written before this line are superseded by the ones after it.
 */
export interface ResumeRunEvent {
  event: 'resume';
  time: string;
  from_step: number;
  changed?: string;
  /** What `--resume --force` continued despite (another relation order, other data, a hand-edited config.yaml). */
  forced?: string;
}
/** `run_end`: how the run finished (`interrupted`: stopped by Ctrl-C / SIGTERM, resumable from `checkpoint_step`). */
export interface RunEndEvent {
  event: 'run_end';
  time: string;
  status: 'ok' | 'failed' | 'interrupted';
  optimizer_steps: number;
  examples_seen: number;
  seconds: number;
  error?: string;
  best_epoch?: number;
  signal?: string;
  message?: string;
  checkpoint_step?: number | null;
}

/** Every event a run emits. */
export type RunEvent =
  | RunStartEvent
  | StepRunEvent
  | EvalRunEvent
  | CheckpointRunEvent
  | OomRunEvent
  | RecoveryRunEvent
  | RestartRunEvent
  | ResumeRunEvent
  | RunEndEvent;

/** Progress hooks; every hook is optional. Implementations live in src/report/reporters. */
export interface Reporter {
  onRunStart?(e: RunStartEvent): void;
  onStep?(e: StepRunEvent): void;
  onEval?(e: EvalRunEvent): void;
  onOom?(e: OomRunEvent): void;
  onRecover?(e: RecoveryRunEvent | RestartRunEvent): void;
  onCheckpoint?(e: CheckpointRunEvent): void;
  onResume?(e: ResumeRunEvent): void;
  onRunEnd?(e: RunEndEvent): void;
}

/** Calls the matching hook of every reporter for `e`. */
export function dispatchEvent(reporters: readonly Reporter[], e: RunEvent): void {
  for (const r of reporters) {
    switch (e.event) {
      case 'run_start':
        r.onRunStart?.(e);
        break;
      case 'step':
        r.onStep?.(e);
        break;
      case 'eval':
        r.onEval?.(e);
        break;
      case 'checkpoint':
        r.onCheckpoint?.(e);
        break;
      case 'oom':
        r.onOom?.(e);
        break;
      case 'recovery':
      case 'restart':
        r.onRecover?.(e);
        break;
      case 'resume':
        r.onResume?.(e);
        break;
      case 'run_end':
        r.onRunEnd?.(e);
        break;
    }
  }
}

/** The current time as events carry it (ISO 8601, UTC). */
export function now(): string {
  return new Date().toISOString();
}
