// Stage 4 of a training run: the first worker loads the model (restoring the last checkpoint on a resume), the run
// announces itself (resume, run_start), and the supervised loop trains, evaluates and checkpoints each epoch.
import { stepsPerEpoch } from '../../batch/index.ts';
import { loadCommand, runPaths, setupWorker, writeJsonAtomic } from '../../session/index.ts';
import { restoreNewest } from '../checkpoints.ts';
import { now } from '../events.ts';
import { describeChanges } from '../resume-config.ts';
import { runLoop, MAX_RESTARTS } from '../train-loop.ts';
import { CHECKPOINT_EVERY_STEPS, type DecidedRun } from './context.ts';
import { shortenTrain } from './workers.ts';

/** Loads the model, writes run_start and runs the training loop to its end (see the file's header). */
export async function trainLoop(run: DecidedRun): Promise<void> {
  const { opts, inputs, sup, state, decision: d } = run;
  await loadFirst(run);
  await runLoop(
    {
      run_dir: opts.out,
      sup,
      train: inputs.train,
      valid: inputs.valid,
      relations: inputs.splits.relations,
      semeval: inputs.splits.format === 'semeval',
      epochs: inputs.config.train.epochs,
      batch_size: d.batch_size,
      seed: inputs.config.train.seed,
      padding: d.padding,
      patience: inputs.config.train.early_stopping_patience,
      checkpoint_every: opts.checkpoint_every ?? CHECKPOINT_EVERY_STEPS,
      max_restarts: opts.max_restarts ?? MAX_RESTARTS,
      emit: run.emit,
      stop: run.stop,
    },
    state,
  );
}

/** The first worker loaded with the decision (and the last checkpoint on a resume); resume and run_start written. */
async function loadFirst(run: DecidedRun): Promise<void> {
  const { opts, inputs, mode, sup, state, first, decision: d } = run;
  const { config, train } = inputs;
  if (state.levers.max_seq_len < d.max_seq_len)
    Object.assign(sup, await shortenTrain(run, state.levers.max_seq_len)); // resuming after a shortened window
  await setupWorker(first, {
    load: loadCommand(run.spec, {
      ...d,
      grad_checkpointing: sup.levers.grad_checkpointing,
      offload: sup.levers.offload ?? d.offload,
    }),
    datasets: run.datasets,
    restore_next: run.resume_points.length > 0,
  });
  if (run.resume_points.length) await restoreResumed(run);
  sup.worker = first;
  state.levers = { ...sup.levers };
  run.stop.check('loading the model', state.step);
  // Append-only events: `resume` marks the steps after from_step written before it as superseded
  // (report/run-data.ts liveMask).
  if (mode === 'resume')
    run.emit({
      event: 'resume',
      time: now(),
      from_step: state.step,
      ...(run.changes.length ? { changed: describeChanges(run.changes) } : {}),
      ...(run.forced.length ? { forced: run.forced.join('; ') } : {}),
    });
  if (run.changes.length) run.log.write(`resume: applied ${describeChanges(run.changes)}`);
  if (run.forced.length) run.log.write(`resume: --force continued despite: ${run.forced.join('; ')}`);
  run.emit({
    event: 'run_start',
    time: now(),
    run_dir: opts.out,
    total_steps: run.spec.total_steps,
    steps_per_epoch: stepsPerEpoch(train.size, config.train.batch_size),
    epochs: config.train.epochs,
    device: run.device,
    plan: { decision: d, plan: run.plan.plan },
    examples: {
      train: train.size,
      valid: inputs.valid?.size ?? 0,
      test: inputs.test?.size ?? 0,
    },
    ...(mode === 'resume' ? { resumed_from_step: state.step } : {}),
  });
  // From here the run's end records this loop state's step and closes this supervisor's worker.
  run.started = { state, sup };
}

/**
 * A resume restores the newest checkpoint the worker accepts; one older than last.json's becomes the loop state
 * (the levers stay those the supervisor was set up with) and last.json names it from now on, with a warning.
 */
async function restoreResumed(run: DecidedRun): Promise<void> {
  const { opts, state } = run;
  const warn = (line: string) => {
    run.log.write(`warning: ${line}`);
    opts.notice?.(line);
  };
  const used = await restoreNewest(run.first, { run_dir: opts.out, points: run.resume_points, warn });
  if (used.rel !== state.checkpoint)
    Object.assign(state, structuredClone(used.state), { levers: state.levers });
  if (used.rel !== run.resume_points[0].rel) writeJsonAtomic(runPaths(opts.out).last_state, state);
}
