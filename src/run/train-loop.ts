// The training loop: optimizer steps over seeded epoch plans, evaluation after each epoch, early stopping with the
// best checkpoint, periodic checkpoints, and resuming from the last checkpoint after a worker crash.
// Steps are numbered from 1 (step N = the N-th optimizer step); the plan of step N depends only on (seed, N).
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RefitError } from '../errors.ts';
import { planEpoch, stepsPerEpoch } from '../batch/index.ts';
import { TrainSupervisor, WorkerLostError, isWorkerLoss } from '../worker/index.ts';
import type { RelationSet } from '../data/types.ts';
import type { MemoryStats, StepEvent } from '../worker/protocol.ts';
import { now, type RunEvent } from './events.ts';
import { runPaths, writeJsonAtomic } from '../session/index.ts';
import { keptCheckpoints, saveCheckpoint } from './checkpoints.ts';
import { scoreSplit, selectionScore } from './score-split.ts';
import { InterruptedError, type StopRequest } from './interrupt.ts';
import { initialState, readLoopState, type LoopState } from './loop-state.ts';
import type { EncodedSplit } from './prepare.ts';

/** A worker crash is retried this many times per run before the run fails. */
export const MAX_RESTARTS = 3;

export { initialState, type LoopState };

/** What the loop needs from the run. */
export interface LoopContext {
  run_dir: string;
  sup: TrainSupervisor;
  train: EncodedSplit;
  valid: EncodedSplit | null;
  relations: RelationSet;
  semeval: boolean;
  epochs: number;
  batch_size: number;
  seed: number;
  padding: 'dynamic' | 'max';
  patience: number;
  checkpoint_every: number;
  max_restarts: number;
  emit(e: RunEvent): void;
  /** Ctrl-C / SIGTERM: checked between steps; the run then keeps a checkpoint of the last finished step and stops. */
  stop?: StopRequest;
}

/** The peak memory figure of one step: CUDA max reserved, else CPU peak RSS. */
export function memoryPeak(m: MemoryStats): number {
  return (m.device === 'cuda' ? m.max_memory_reserved : m.peak_rss_bytes) ?? 0;
}

/**
 * Runs steps until the planned epochs are done or early stopping fires; restarts a crashed worker from the
 * last checkpoint.
 */
export async function runLoop(ctx: LoopContext, state: LoopState): Promise<LoopState> {
  let restarts = 0;
  for (;;) {
    try {
      await stepsUntilDone(ctx, state);
      return state;
    } catch (e) {
      // A worker lost while stopping (the signal reached it too) is the interruption, not a crash to recover from.
      if (e instanceof WorkerLostError && ctx.stop?.requested)
        throw new InterruptedError(ctx.stop.signal!, 'training', state.step);
      // fsdp: a rank that ran out of memory stopped every rank; the next lever applies from the last checkpoint on
      // (the ladder ends in E_OOM_UNRECOVERABLE, so these restarts are not counted against max_restarts).
      if (!(e instanceof WorkerLostError)) throw e;
      const recovered = await ctx.sup.recoverLostOom(e);
      if (!recovered && restarts >= ctx.max_restarts) throw lostError(e, restarts);
      if (!recovered) restarts++;
      const resumed = state.checkpoint
        ? readLoopState(runPaths(ctx.run_dir).last_state)
        : initialState(state.levers);
      const levers = ctx.sup.levers;
      Object.assign(state, resumed, { levers });
      ctx.emit({
        event: 'restart',
        time: now(),
        step: e.step,
        resume_step: state.step,
        reason: e.message.split('\n')[0],
      });
      await ctx.sup.start(state.checkpoint ? join(ctx.run_dir, state.checkpoint) : undefined);
    }
  }
}

function lostError(e: WorkerLostError, restarts: number): RefitError {
  return new RefitError(
    'E_WORKER_CRASH',
    `the worker died at step ${e.step} ${restarts ? `after ${restarts} restarts ` : ''}` +
      `(${e.message.split('\n')[0].slice(0, 200)}); see the run log`,
  );
}

async function stepsUntilDone(ctx: LoopContext, state: LoopState): Promise<void> {
  const spe = stepsPerEpoch(ctx.train.lengths.length, ctx.batch_size);
  const total = ctx.epochs * spe;
  let planned = -1;
  let batches: number[][] = [];
  while (state.step < total && !state.stopped) {
    if (ctx.stop?.requested) await stopNow(ctx, state, spe);
    const epoch = Math.floor(state.step / spe);
    if (planned !== epoch) {
      batches = planEpoch({
        lengths: ctx.train.lengths,
        batch_size: ctx.batch_size,
        padding: ctx.padding,
        seed: ctx.seed,
        epoch,
      });
      planned = epoch;
    }
    const indices = batches[state.step % spe];
    const t0 = performance.now();
    const ev = await ctx.sup.trainStep(state.step + 1, indices);
    recordStep(ctx, state, ev, epoch + 1, (performance.now() - t0) / 1000);
    const endOfEpoch = state.step % spe === 0;
    if (endOfEpoch) await endEpoch(ctx, state, epoch + 1);
    if (endOfEpoch || state.step % ctx.checkpoint_every === 0) await checkpointLast(ctx, state);
  }
}

/**
 * Stops between steps: checkpoints the last finished step unless a checkpoint already holds it, then throws
 * InterruptedError.
 */
async function stopNow(ctx: LoopContext, state: LoopState, spe: number): Promise<never> {
  const saved = state.checkpoint === `checkpoints/step-${state.step}`;
  // Mid-epoch only: at an epoch end the step was checkpointed after its evaluation (or that evaluation never finished).
  if (!saved && state.step > 0 && state.step % spe !== 0) await checkpointLast(ctx, state);
  throw new InterruptedError(ctx.stop!.signal!, 'training', state.step);
}

function recordStep(ctx: LoopContext, state: LoopState, ev: StepEvent, epoch: number, wall: number): void {
  state.step = ev.step;
  state.examples_seen += ev.examples;
  state.tokens_seen += ev.tokens;
  state.train_seconds += wall;
  state.peak_memory_bytes = Math.max(state.peak_memory_bytes, memoryPeak(ev.memory));
  state.levers = { ...ctx.sup.levers };
  const micro = ctx.sup.levers.micro_batch_size;
  ctx.emit({
    event: 'step',
    time: now(),
    step: ev.step,
    epoch,
    loss: ev.loss,
    lr: ev.lr,
    grad_norm: ev.grad_norm,
    examples: ev.examples,
    tokens: ev.tokens,
    padded_tokens: ev.padded_tokens,
    examples_per_s: ev.examples / wall,
    tokens_per_s: ev.tokens / wall,
    seconds: ev.seconds,
    wall_seconds: wall,
    micro_batches: ctx.sup.lastMicroBatches,
    micro_batch_size: micro,
    memory: ev.memory,
    ...(ev.rank_memory ? { rank_memory: ev.rank_memory } : {}),
  });
}

/**
 * Evaluates on valid, tracks the best epoch (valid macro-F1, entity micro-F1 for NER; ties keep the earlier) and
 * early stopping.
 */
async function endEpoch(ctx: LoopContext, state: LoopState, epoch: number): Promise<void> {
  if (!ctx.valid || ctx.valid.size === 0) return;
  const worker = ctx.sup.worker!;
  const m = await guard(state.step, () =>
    scoreSplit({
      worker,
      split: ctx.valid!,
      relations: ctx.relations,
      semeval: ctx.semeval,
      padding: ctx.padding,
      max_seq_len: ctx.sup.levers.max_seq_len,
      tag: `valid-${epoch}`,
    }),
  );
  state.evals.push({ epoch, accuracy: m.accuracy, macro_f1: m.macro_f1, micro_f1: m.micro_f1, loss: m.loss });
  ctx.emit({
    event: 'eval',
    time: now(),
    epoch,
    step: state.step,
    split: 'valid',
    accuracy: m.accuracy,
    macro_f1: m.macro_f1,
    micro_f1: m.micro_f1,
    loss: m.loss,
  });
  // state.best.macro_f1 holds the selection score (selectionScore: entity micro-F1 for NER), as last.json stores it
  const score = selectionScore(m);
  if (!state.best || score > state.best.macro_f1) {
    const path = `checkpoints/best-step-${state.step}`;
    await guard(state.step, () =>
      saveCheckpoint(worker, { run_dir: ctx.run_dir, rel: path, step: state.step, checkpoint: false }),
    );
    state.best = { epoch, step: state.step, macro_f1: score, path };
    state.bad_epochs = 0;
    ctx.emit({ event: 'checkpoint', time: now(), step: state.step, kind: 'best', path });
  } else {
    state.bad_epochs++;
    if (ctx.patience > 0 && state.bad_epochs >= ctx.patience) state.stopped = true;
  }
}

/**
 * Saves model + optimizer state (and the loop state, state.json) to a new folder, sealed under its final name only
 * when whole (checkpoints.ts), then points checkpoints/last.json at it, then drops the folders no longer needed: the
 * one before it stays, so a resume that finds the newest damaged falls back to it.
 */
async function checkpointLast(ctx: LoopContext, state: LoopState): Promise<void> {
  const rel = `checkpoints/step-${state.step}`;
  const previous = state.checkpoint;
  await guard(state.step, () =>
    saveCheckpoint(ctx.sup.worker!, { run_dir: ctx.run_dir, rel, step: state.step, checkpoint: true, state }),
  );
  state.checkpoint = rel;
  writeJsonAtomic(runPaths(ctx.run_dir).last_state, state);
  // Only now, with last.json naming the new folders, may the older ones go.
  const keep = keptCheckpoints(ctx.run_dir, state, previous);
  for (const f of readdirSync(join(ctx.run_dir, 'checkpoints'))) {
    if (/^(step|best-step)-\d+$/.test(f) && !keep.has(`checkpoints/${f}`))
      rmSync(join(ctx.run_dir, 'checkpoints', f), { recursive: true, force: true });
  }
  ctx.emit({ event: 'checkpoint', time: now(), step: state.step, kind: 'last', path: rel });
}

/** Runs a worker call; a dead worker becomes WorkerLostError so the loop restarts it. */
async function guard<T>(step: number, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof WorkerLostError || !isWorkerLoss(e)) throw e;
    throw new WorkerLostError(step, e);
  }
}
