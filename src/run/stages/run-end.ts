// The record of how a run ended, around the stages that run inside its folder: run_end in events.jsonl (ok from
// finish, failed or interrupted here, or at once on a second Ctrl-C) and the workers closed whatever happened.
import { readFileSync } from 'node:fs';
import { WorkerProcess } from '../../worker/index.ts';
import { appendJsonLine, runPaths } from '../../session/index.ts';
import { now, type RunEndEvent } from '../events.ts';
import { InterruptedError } from '../interrupt.ts';
import type { LoopState } from '../loop-state.ts';
import type { OpenRun, TrainResult } from './context.ts';

/** The run_end event of `run` as it stands: steps and examples so far, seconds since its folder opened. */
export function endEvent(
  run: OpenRun,
  status: RunEndEvent['status'],
  extra: Partial<RunEndEvent>,
): RunEndEvent {
  return {
    event: 'run_end',
    time: now(),
    status,
    optimizer_steps: run.started?.state.step ?? 0,
    examples_seen: run.started?.state.examples_seen ?? 0,
    seconds: (Date.now() - run.opened_ms) / 1000,
    ...extra,
  };
}

/**
 * Runs `stages` (which emit run_end `ok` when they finish); a failure or an interruption is recorded as run_end and
 * rethrown (an interruption as the line the user reads), and the run's workers are closed in every case.
 */
export async function recordRun(run: OpenRun, stages: () => Promise<TrainResult>): Promise<TrainResult> {
  const { opts, stop } = run;
  // The second Ctrl-C: the end is recorded synchronously and the workers are killed; the caller then exits.
  const unforce = stop.onForce(() => {
    if (!run.ended) {
      run.ended = true;
      appendJsonLine(
        runPaths(opts.out).events,
        endEvent(run, 'interrupted', {
          signal: stop.signal ?? undefined,
          message: `stopped at once (${stop.signal} twice)`,
          checkpoint_step: checkpointStep(opts.out),
        }),
      );
    }
    WorkerProcess.killAll();
  });
  try {
    return await stages();
  } catch (e) {
    run.log.write(`run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const err = e instanceof InterruptedError ? interrupted(e, opts.out, run.started?.state) : e;
    if (!run.ended) {
      const end =
        err instanceof InterruptedError
          ? endEvent(run, 'interrupted', {
              signal: err.signal,
              message: err.message,
              checkpoint_step: checkpointStep(opts.out),
            })
          : endEvent(run, 'failed', {
              error: err instanceof Error ? err.message.split('\n')[0] : String(err),
            });
      try {
        run.emit(end);
      } catch {
        /* the disk that failed the run may fail this line too */
      }
    }
    throw err;
  } finally {
    unforce();
    const last = run.started?.sup.worker;
    if (last && last !== run.first) await last.close().catch(() => undefined);
    await run.first?.close().catch(() => undefined);
  }
}

/** The step of the run's last checkpoint (checkpoints/last.json), or null when it has none. */
function checkpointStep(run_dir: string): number | null {
  try {
    return (JSON.parse(readFileSync(runPaths(run_dir).last_state, 'utf8')) as LoopState).step;
  } catch {
    return null;
  }
}

/** The interruption as the user reads it: where it stopped, what was kept and how to go on. */
function interrupted(e: InterruptedError, out: string, state: LoopState | undefined): InterruptedError {
  const kept = checkpointStep(out);
  const began = !!state && (state.step > 0 || state.checkpoint !== null);
  const where = began ? `at step ${state?.step ?? 0}` : `while ${e.phase}`;
  const next =
    kept !== null
      ? `the checkpoint at step ${kept} is kept; resume with: refit train --out ${out} --resume`
      : 'nothing was trained, so nothing was kept';
  return new InterruptedError(
    e.signal,
    e.phase,
    state?.step ?? 0,
    `interrupted (${e.signal}) ${where}; ${next}`,
  );
}
