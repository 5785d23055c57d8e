// `refit train` as a function: resolve inputs → encode → start the worker → memory decision (+ CUDA probe) →
// supervised training loop → best model restored → test metrics → model/ and metrics.json.
// The command stays thin.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RunLog } from '../log.ts';
import { DEFAULTS, configToYaml, resolveConfig, type RunConfig } from '../config/index.ts';
import { RefitError, fsError } from '../errors.ts';
import { findPython, WorkerCrashError, WorkerProcess } from '../worker/index.ts';
import { TrainSupervisor, type Levers } from '../worker/index.ts';
import type { LoadCommand } from '../worker/protocol.ts';
import { parseOomReport, type ModelDims } from '../memory/index.ts';
import { stepsPerEpoch } from '../batch/index.ts';
import {
  appendJsonLine,
  prepareOutDir,
  readJson,
  runPaths,
  writeJsonAtomic,
  writeTextAtomic,
} from './files.ts';
import {
  cacheDir,
  encodeSplit,
  modelDims,
  readSplits,
  textSide,
  RUN_CACHE_DIR,
  type EncodedSplit,
} from './prepare.ts';
import { decideMemory, resolveDevice, type Decision, type PlanFile } from './decide.ts';
import { loadCommand, setupWorker, startWorker, type LoadSpec } from './session.ts';
import { dispatchEvent, now, type Reporter, type RunEndEvent, type RunEvent } from './events.ts';
import { InterruptedError, StopRequest } from './interrupt.ts';
import { lockRunFolder, type RunLock } from './lock.ts';
import { checkFolderTarget, checkFreeSpace } from './out-paths.ts';
import { checkModelWeights } from './weights-check.ts';
import { checkResumeChanges, describeChanges, type ResumeChange } from './resume-config.ts';
import { initialState, runLoop, MAX_RESTARTS, type LoopState } from './train-loop.ts';
import { finishRun, type RunMetrics } from './finish.ts';
import { exportRun } from '../infer/index.ts';
import { deepkeLmRun, rnnSpec } from './deepke-lm.ts';
import { probePlan } from './probe.ts';
import { runRanks, type RunRanks } from './ranks.ts';

/** Checkpoint `last` every this many optimizer steps (and at each epoch end), so a crash loses little. */
export const CHECKPOINT_EVERY_STEPS = 200;

/** Options of one training run. */
export interface TrainOptions {
  config: RunConfig;
  out: string;
  resume?: boolean;
  force?: boolean;
  env: Record<string, string | undefined>;
  reporters?: Reporter[];
  num_threads?: number;
  checkpoint_every?: number;
  /** Dropout override (default BERT's 0.1); tests use 0 to compare runs whose micro-batch splits differ. */
  dropout?: number;
  /** Called with the run's log (refit.log) once the run folder exists, so callers can point errors at it. */
  on_log?: (log: RunLog) => void;
  /** Worker crashes tolerated before the run fails (default MAX_RESTARTS). */
  max_restarts?: number;
  /** Set by the caller on Ctrl-C / SIGTERM: the run stops at its next safe point, keeping a checkpoint. */
  stop?: StopRequest;
  /** Lines for the user at the start of a run (the deepke-lm head's notes); they also go to refit.log. */
  notice?: (line: string) => void;
  /**
   * Writes the run's report.html (the CLI passes report/writeReport: the core never imports report/). Called at the end
   * of every run that leaves a run folder (config.yaml), finished, failed or interrupted, after its lock is released;
   * a report that cannot be written is a line in refit.log, never the reason a run fails.
   */
  write_report?: (run_dir: string) => Promise<unknown>;
}

/** The result of a finished run: its folder and metrics. */
export interface TrainResult {
  run_dir: string;
  metrics: RunMetrics;
  plan: PlanFile;
}

/** The inputs of a run (see prepareInputs). */
type Inputs = Awaited<ReturnType<typeof prepareInputs>>;

/** What the phases of one run share. */
interface RunCtx {
  opts: TrainOptions;
  inputs: Inputs;
  mode: 'new' | 'resume';
  log: RunLog;
  emit(e: RunEvent): void;
  datasets: Array<{ name: string; path: string }>;
  stop: StopRequest;
  changes: ResumeChange[];
  ranks: RunRanks;
}

/**
 * Trains one run into `out` (see design §5 for the folder); throws RefitError on bad input, writes run_end
 * either way.
 */
export async function runTraining(opts: TrainOptions): Promise<TrainResult> {
  const stop = opts.stop ?? new StopRequest();
  // The paths refit will write are checked first, then the inputs are read and checked, all before the out
  // folder is touched: bad input or an unwritable place leaves no folder behind.
  checkRunTargets(opts);
  const pre = new RunLog();
  const createdOut = !existsSync(opts.out);
  let lock: RunLock | undefined;
  let owned = false; // the folder's run files are this run's: a new run past prepareOutDir
  let trained = false; // at least one optimizer step finished
  try {
    const inputs = await prepareInputs(opts, pre, stop);
    stop.check('preparing the data');
    makeFolder(opts.out);
    lock = lockRunFolder(opts.out, 'refit train', { log: (l) => pre.write(l) });
    stop.onForce(() => lock?.release());
    const mode = prepareOutDir({ dir: opts.out, resume: !!opts.resume, force: !!opts.force });
    owned = mode === 'new';
    const changes = mode === 'resume' ? resumeChanges(opts, inputs.config) : [];
    return await trainInFolder(opts, inputs, mode, changes, pre, stop, () => {
      trained = true;
    });
  } catch (e) {
    // A run that trained nothing leaves nothing behind (an internal error keeps its folder, for the log).
    const locked = e instanceof RefitError && e.code === 'E_RUN_LOCKED';
    if (!trained && !locked && e instanceof RefitError && (owned || createdOut))
      removeUntrained(opts.out, createdOut);
    throw e;
  } finally {
    lock?.release();
    await reportRun(opts);
  }
}

/** The end of every run: its report through `opts.write_report`, when the run left a folder (see TrainOptions). */
async function reportRun(opts: TrainOptions): Promise<void> {
  const paths = runPaths(opts.out);
  if (!opts.write_report || !existsSync(paths.config)) return;
  try {
    await opts.write_report(opts.out);
  } catch (e) {
    new RunLog(paths.log).write(
      `report.html not written: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    opts.notice?.(`report.html not written: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
}

/**
 * The run's writes, in order: the run folder, the encoded-data cache when set by REFIT_CACHE, and room for
 * checkpoints.
 */
function checkRunTargets(opts: TrainOptions): void {
  checkFolderTarget(opts.out, '--out');
  if (opts.env.REFIT_CACHE) checkFolderTarget(opts.env.REFIT_CACHE, 'REFIT_CACHE');
}

/** Creates the run folder (and its parents); a refused write is one line naming it. */
function makeFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, dir) ?? e;
  }
}

/** Removes what a run that trained nothing wrote into `dir` (and `dir` itself when this run created it). */
function removeUntrained(dir: string, created: boolean): void {
  try {
    if (!existsSync(dir)) return;
    if (created) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const p = runPaths(dir);
    for (const f of [
      p.config,
      p.plan,
      p.events,
      p.log,
      p.checkpoints,
      join(dir, 'report.html'),
      join(dir, RUN_CACHE_DIR),
    ])
      rmSync(f, { recursive: true, force: true });
  } catch {
    /* best effort: the error being reported matters more */
  }
}

/** The config a resume asks for against the run's config.yaml: safe changes are returned, others refused. */
function resumeChanges(opts: TrainOptions, asked: RunConfig): ResumeChange[] {
  const stored = resolveConfig({ file: runPaths(opts.out).config, overrides: [], warn: () => undefined });
  return checkResumeChanges(stored, asked, opts.out);
}

/** The run proper, inside its locked folder: worker, decision, loop, final evaluation, run_end. */
async function trainInFolder(
  opts: TrainOptions,
  inputs: Inputs,
  mode: 'new' | 'resume',
  changes: ResumeChange[],
  pre: RunLog,
  stop: StopRequest,
  onTrained: () => void,
): Promise<TrainResult> {
  const paths = runPaths(opts.out);
  const log = new RunLog(paths.log);
  for (const l of pre.lastLines(200)) log.write(l);
  opts.on_log?.(log);
  let ended = false;
  const emit = (e: RunEvent) => {
    if (e.event === 'run_end') ended = true;
    if (e.event === 'step') onTrained();
    try {
      appendJsonLine(paths.events, e);
    } catch (err) {
      throw fsError(err, paths.events) ?? err;
    }
    dispatchEvent(opts.reporters ?? [], e);
  };
  const ranks = runRanks({
    config: inputs.config,
    python: inputs.python,
    env: opts.env,
    num_threads: opts.num_threads,
  });
  if (ranks.layout) log.write(`ranks: ${ranks.reason}`);
  const ctx: RunCtx = {
    opts,
    inputs,
    mode,
    log,
    emit,
    stop,
    changes,
    ranks,
    datasets: [inputs.train, inputs.valid, inputs.test, inputs.test_untyped]
      .filter((s): s is EncodedSplit => !!s)
      .map((s) => ({ name: s.name, path: s.path })),
  };
  const t0 = Date.now();
  let state: LoopState | undefined;
  let sup: TrainSupervisor | undefined;
  let first: WorkerProcess | undefined;
  const endEvent = (status: RunEndEvent['status'], extra: Partial<RunEndEvent>): RunEndEvent => ({
    event: 'run_end',
    time: now(),
    status,
    optimizer_steps: state?.step ?? 0,
    examples_seen: state?.examples_seen ?? 0,
    seconds: (Date.now() - t0) / 1000,
    ...extra,
  });
  // The second Ctrl-C: the end is recorded synchronously and the workers are killed; the caller then exits.
  const unforce = stop.onForce(() => {
    if (!ended) {
      ended = true;
      appendJsonLine(
        paths.events,
        endEvent('interrupted', {
          signal: stop.signal ?? undefined,
          message: `stopped at once (${stop.signal} twice)`,
          checkpoint_step: checkpointStep(opts.out),
        }),
      );
    }
    WorkerProcess.killAll();
  });
  try {
    first = await startRanks(ctx);
    stop.check('starting the worker');
    const started = await startRun(ctx, first);
    ({ state, sup } = started);
    await runLoop(
      {
        run_dir: opts.out,
        sup,
        train: inputs.train,
        valid: inputs.valid,
        relations: inputs.splits.relations,
        semeval: inputs.splits.format === 'semeval',
        epochs: inputs.config.train.epochs,
        batch_size: started.decision.batch_size,
        seed: inputs.config.train.seed,
        padding: started.decision.padding,
        patience: inputs.config.train.early_stopping_patience,
        checkpoint_every: opts.checkpoint_every ?? CHECKPOINT_EVERY_STEPS,
        max_restarts: opts.max_restarts ?? MAX_RESTARTS,
        emit,
        stop,
      },
      state,
    );
    stop.check('finishing', state.step);
    const metrics = await finishRun({
      sup,
      state,
      run_dir: opts.out,
      valid: inputs.valid,
      test: inputs.test,
      relations: inputs.splits.relations,
      semeval: inputs.splits.format === 'semeval',
      text: inputs.text,
      head: inputs.config.model.head,
      max_seq_len: sup.levers.max_seq_len,
      padding: started.decision.padding,
      emit,
      rnn: rnnSpec(inputs.config),
      input: inputs.lm?.info,
      test_untyped: inputs.test_untyped,
      stop,
    });
    if (inputs.config.export.onnx) await exportAfterTraining(opts, log);
    emit(endEvent('ok', { best_epoch: state.best?.epoch }));
    return { run_dir: opts.out, metrics, plan: started.plan };
  } catch (e) {
    log.write(`run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const err = e instanceof InterruptedError ? interrupted(e, opts.out, state, hasBegun(state)) : e;
    if (!ended) {
      const end =
        err instanceof InterruptedError
          ? endEvent('interrupted', {
              signal: err.signal,
              message: err.message,
              checkpoint_step: checkpointStep(opts.out),
            })
          : endEvent('failed', { error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
      try {
        emit(end);
      } catch {
        /* the disk that failed the run may fail this line too */
      }
    }
    throw err;
  } finally {
    unforce();
    if (sup?.worker && sup.worker !== first) await sup.worker.close().catch(() => undefined);
    await first?.close().catch(() => undefined);
  }
}

/** Starts the run's worker: one process, or this machine's ranks (rank 0 speaks the protocol). */
async function startRanks(ctx: RunCtx): Promise<WorkerProcess> {
  const { opts, ranks } = ctx;
  try {
    return await startWorker({
      python: ctx.inputs.python,
      env: { ...opts.env, ...ranks.env },
      log: ctx.log,
      run_dir: opts.out,
      num_threads: ranks.threads_per_rank ?? opts.num_threads,
      ranks: ranks.layout,
    });
  } catch (e) {
    // Ranks that never formed their group (a node that did not come, a port in use): the worker's own line says why.
    if (ranks.layout && e instanceof WorkerCrashError && e.state === 'starting') {
      const why =
        [...e.stderr_tail]
          .reverse()
          .find((l) => l.includes('refit_worker:'))
          ?.replace(/^.*refit_worker: /, '') ?? e.message;
      throw new RefitError('E_WORKER_CRASH', `the ${ranks.world} ranks could not start: ${why}`);
    }
    throw e;
  }
}

const hasBegun = (state: LoopState | undefined): boolean =>
  !!state && (state.step > 0 || state.checkpoint !== null);

/** The step of the run's last checkpoint (checkpoints/last.json), or null when it has none. */
function checkpointStep(run_dir: string): number | null {
  try {
    return (JSON.parse(readFileSync(runPaths(run_dir).last_state, 'utf8')) as LoopState).step;
  } catch {
    return null;
  }
}

/** The interruption as the user reads it: where it stopped, what was kept and how to go on. */
function interrupted(
  e: InterruptedError,
  out: string,
  state: LoopState | undefined,
  began: boolean,
): InterruptedError {
  const kept = checkpointStep(out);
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

/**
 * Decision (or the resumed one), supervisor, CUDA probe, config.yaml + plan.json, the loaded first worker,
 * run_start.
 */
async function startRun(
  ctx: RunCtx,
  first: WorkerProcess,
): Promise<{ plan: PlanFile; decision: Decision; state: LoopState; sup: TrainSupervisor }> {
  const { opts, inputs, mode } = ctx;
  const { config, train, dims } = inputs;
  const paths = runPaths(opts.out);
  const caps = first.ready.capabilities;
  const device = resolveDevice(config, caps);
  const spe = stepsPerEpoch(train.examples.length, config.train.batch_size);
  const total = spe * config.train.epochs;
  const spec: LoadSpec = {
    dims,
    pretrained: config.model.pretrained,
    head: config.model.head,
    num_labels: inputs.splits.relations.names.length,
    seed: config.train.seed,
    learning_rate: config.train.learning_rate,
    weight_decay: config.train.weight_decay,
    warmup_steps: Math.round(config.train.warmup_ratio * total),
    total_steps: total,
    max_grad_norm: config.train.max_grad_norm,
    num_threads: ctx.ranks.threads_per_rank ?? opts.num_threads,
    dropout: config.model.dropout ?? opts.dropout,
    rnn: rnnSpec(config),
    ...(ctx.ranks.layout ? { strategy: ctx.ranks.strategy } : {}),
  };
  const plan =
    mode === 'resume'
      ? readJson<PlanFile>(paths.plan)
      : decideMemory({
          config,
          dims,
          caps,
          device,
          lengths: train.lengths,
          num_labels: spec.num_labels,
          world: ctx.ranks.world,
        });
  const d = plan.decision;
  // several ranks: the strategy decided (memory: auto fits it when distributed.strategy is auto)
  if (ctx.ranks.layout && d.strategy) spec.strategy = d.strategy;
  // Several ranks: the batch plan's micro-batches are global (per-rank micro-batch × world size); each rank takes its
  // share, so effective batch = per-rank micro-batch × accumulation × world size.
  const world = ctx.ranks.world;
  if (mode === 'new' && world > 1)
    d.reasons.push(
      `${ctx.ranks.reason}: micro-batch ${d.micro_batch_size} per rank, ${d.micro_batch_size * world} over the ranks`,
    );
  const state =
    mode === 'resume'
      ? readJson<LoopState>(paths.last_state)
      : initialState({
          micro_batch_size: d.micro_batch_size * world,
          grad_checkpointing: d.grad_checkpointing,
          max_seq_len: d.max_seq_len,
        });
  const sup = makeSupervisor(ctx, spec, d, state);
  ctx.stop.check('planning');
  // The probe measures one plain process; in a group (even of one) the plan stands and OOM recovery (agreed by
  // all ranks) corrects it.
  if (mode === 'new' && device.startsWith('cuda') && !ctx.ranks.layout)
    await applyProbe(ctx, first, sup, plan, loadCommand(spec, d));
  ctx.stop.check(mode === 'new' && device.startsWith('cuda') ? 'probing the GPU' : 'planning');
  // A resume rewrites config.yaml only for the safe changes it was allowed (resume-config.ts).
  if (mode === 'new' || ctx.changes.length) writeTextAtomic(paths.config, configToYaml(config));
  if (mode === 'new') writeJsonAtomic(paths.plan, plan);
  if (state.levers.max_seq_len < d.max_seq_len)
    Object.assign(sup, await shortenTrain(ctx, state.levers.max_seq_len)); // resuming after a shortened window
  const restore = state.checkpoint ? join(opts.out, state.checkpoint) : undefined;
  await setupWorker(first, {
    load: loadCommand(spec, { ...d, grad_checkpointing: sup.levers.grad_checkpointing }),
    datasets: ctx.datasets,
    restore_from: restore,
  });
  sup.worker = first;
  state.levers = { ...sup.levers };
  ctx.stop.check('loading the model', state.step);
  // Append-only events: `resume` marks the steps after from_step written before it as superseded
  // (report/run-data.ts liveMask).
  if (mode === 'resume')
    ctx.emit({
      event: 'resume',
      time: now(),
      from_step: state.step,
      ...(ctx.changes.length ? { changed: describeChanges(ctx.changes) } : {}),
    });
  if (ctx.changes.length) ctx.log.write(`resume: applied ${describeChanges(ctx.changes)}`);
  ctx.emit({
    event: 'run_start',
    time: now(),
    run_dir: opts.out,
    total_steps: total,
    steps_per_epoch: spe,
    epochs: config.train.epochs,
    device,
    plan: { decision: d, plan: plan.plan },
    examples: {
      train: train.examples.length,
      valid: inputs.valid?.examples.length ?? 0,
      test: inputs.test?.examples.length ?? 0,
    },
    ...(mode === 'resume' ? { resumed_from_step: state.step } : {}),
  });
  return { plan, decision: d, state, sup };
}

/** memory.allow_shorter_seq: re-encodes the training data with a shorter (still entity-aware) window. */
async function shortenTrain(
  ctx: RunCtx,
  max_seq_len: number,
): Promise<{ lengths: Int32Array; dataset: string }> {
  const { inputs } = ctx;
  const name = `train-${max_seq_len}`;
  const short = await encodeSplit({
    name,
    examples: inputs.train.examples,
    relations: inputs.splits.relations,
    text: inputs.lm?.text ?? inputs.text,
    max_seq_len,
    cache_dir: cacheDir({ out: ctx.opts.out, env: ctx.opts.env }),
  });
  ctx.datasets.push({ name, path: short.path });
  return { lengths: short.lengths, dataset: name };
}

/**
 * The supervisor of this run: it launches workers with the run's load spec and reports OOMs and recoveries as
 * events.
 */
function makeSupervisor(ctx: RunCtx, spec: LoadSpec, d: Decision, state: LoopState): TrainSupervisor {
  const { opts, inputs, emit } = ctx;
  const launch = async (levers: Levers, restore_from?: string) => {
    const w = await startRanks(ctx);
    await setupWorker(w, {
      load: loadCommand(spec, { ...d, grad_checkpointing: levers.grad_checkpointing }),
      datasets: ctx.datasets,
      restore_from,
    });
    return w;
  };
  return new TrainSupervisor({
    hooks: {
      launch,
      scratch_dir: join(opts.out, 'checkpoints', 'recovery'),
      parseOom: parseOomReport,
      log: ctx.log,
      shorten: (n) => shortenTrain(ctx, n),
      onOom: (e, r) =>
        emit({
          event: 'oom',
          time: now(),
          step: e.step,
          completed_micro_batches: e.completed_micro_batches,
          message: e.message,
          kind: r.kind,
          requested_bytes: r.requested_bytes,
          free_bytes: r.free_bytes,
          memory: e.memory,
          ...(e.rank !== undefined ? { rank: e.rank } : {}),
        }),
      onRecover: (step, a) =>
        emit({
          event: 'recovery',
          time: now(),
          step,
          action: a.kind,
          from: a.from,
          to: a.to,
          reason: a.reason,
        }),
    },
    levers: state.levers,
    policy: {
      batch_size: d.batch_size,
      micro_batch_size: state.levers.micro_batch_size,
      padding: d.padding,
      batching: d.batching,
      max_tokens: d.max_tokens,
      max_seq_len: d.max_seq_len,
    },
    lengths: inputs.train.lengths,
    dataset: 'train',
    ranks: ctx.ranks.world,
    allow_shorter_seq: inputs.config.memory.allow_shorter_seq,
  });
}

/** CUDA only: probes the worst-case shape and corrects the decision (recorded in plan.json). */
async function applyProbe(
  ctx: RunCtx,
  first: WorkerProcess,
  sup: TrainSupervisor,
  plan: PlanFile,
  load: LoadCommand,
): Promise<void> {
  const d = plan.decision;
  const probe = await probePlan({
    worker: first,
    load,
    datasets: ctx.datasets,
    sup,
    lengths: ctx.inputs.train.lengths,
    log: ctx.log,
  });
  plan.probe = probe;
  if (probe.chosen_micro_batch_size !== d.micro_batch_size) {
    d.reasons.push(
      `probe: micro-batch ${d.micro_batch_size} measured over budget; corrected to ${probe.chosen_micro_batch_size}`,
    );
    d.micro_batch_size = probe.chosen_micro_batch_size;
    d.grad_accumulation = Math.ceil(d.batch_size / d.micro_batch_size);
  }
}

/** The inputs of a run, read, sized and encoded before anything is written into the out folder. */
async function prepareInputs(opts: TrainOptions, log: RunLog, stop: StopRequest) {
  let config = opts.config;
  const splits = await readSplits({ config, warn: (l) => log.write(`warning: ${l}`) });
  stop.check('reading the data');
  const text = textSide(config);
  // Sizes before memory: the model's shape (bounded in validateDims), the window against its positions, the
  // batch against the data.
  const dims = modelDims(config, text.vocab.size);
  config = checkRunSizes(config, dims, splits.train.length, log);
  if (config.model.pretrained) checkModelWeights(config.model.pretrained);
  checkFreeSpace(opts.out, checkpointBytes(dims), '--out');
  const cache = cacheDir({ out: opts.out, env: opts.env });
  if (cache.startsWith(join(opts.out, RUN_CACHE_DIR))) {
    log.write(`the user cache folder cannot be written: encoded data is cached in ${cache}`);
    makeFolder(opts.out);
  }
  // deepke-lm: DeepKE's LM text, with the gold relation's entity types when relation.csv has them (said at start).
  const lm = await deepkeLmRun({
    config,
    relations_path: splits.paths.relations,
    text,
    num_hidden_layers: dims.num_hidden_layers,
  });
  for (const line of lm?.notes ?? []) {
    log.write(`note: ${line}`);
    opts.notice?.(line);
  }
  const enc = async (name: string, ex: typeof splits.train, side = lm?.text ?? text) => {
    const r = await encodeSplit({
      name,
      examples: ex,
      relations: splits.relations,
      text: side,
      max_seq_len: config.memory.max_seq_len,
      cache_dir: cache,
    });
    stop.check('encoding the data');
    return r;
  };
  const train = await enc('train', splits.train);
  const valid = splits.valid.length ? await enc('valid', splits.valid) : null;
  const test = splits.test.length ? await enc('test', splits.test) : null;
  const test_untyped =
    test && lm?.info.entity_types === 'gold-relation'
      ? await enc('test-untyped', splits.test, lm.untyped)
      : null;
  const { python } = await findPython({ env: opts.env, configured: config.engine.python });
  return { config, splits, text, train, valid, test, test_untyped, lm, dims, python };
}

/**
 * Bytes a run's checkpoints and saved model take at most: two `last` states (weights + AdamW moments), `best`
 * and model/, fp32.
 */
export function checkpointBytes(dims: ModelDims): number {
  const h = dims.hidden_size,
    I = dims.intermediate_size;
  const params =
    (dims.vocab_size + dims.max_position_embeddings + dims.type_vocab_size) * h +
    dims.num_hidden_layers * (4 * h * h + 2 * h * I + 9 * h + I);
  return params * 4 * 8;
}

/**
 * Run sizes against the model and the data, before anything is encoded or allocated: the window must fit the
 * model's positions; the effective batch must not exceed the training set (the default batch is lowered to it
 * with a warning, a batch the user set is refused).
 */
export function checkRunSizes(config: RunConfig, dims: ModelDims, n_train: number, log: RunLog): RunConfig {
  const m = config.model;
  const model = m.pretrained ? `${join(m.pretrained, 'config.json')}` : `model.preset ${m.preset}`;
  const seq = config.memory.max_seq_len;
  if (seq > dims.max_position_embeddings) {
    throw new RefitError(
      'E_MODEL_SHAPE',
      `memory.max_seq_len ${seq} is above the model's ${dims.max_position_embeddings} positions ` +
        `(max_position_embeddings of ${model}); set memory.max_seq_len=${dims.max_position_embeddings} or less`,
    );
  }
  const batch = config.train.batch_size;
  if (n_train > 0 && batch > n_train) {
    if (batch !== DEFAULTS['train.batch_size']) {
      throw new RefitError(
        'E_BATCH_SIZE',
        `train.batch_size ${batch} is larger than the ${n_train} training examples; set ` +
          `train.batch_size=${n_train} or less`,
      );
    }
    log.write(
      `warning: the default train.batch_size ${batch} is larger than the ${n_train} training examples; ` +
        `using ${n_train}`,
    );
    return { ...config, train: { ...config.train, batch_size: n_train } };
  }
  return config;
}

/**
 * model/model.onnx for predict and serve without Python (export.onnx): a fresh CPU fp32 worker exports and checks
 * it, whatever device and precision trained the run. A failed export does not fail the run: one notice, and
 * predict stays on torch.
 */
async function exportAfterTraining(opts: TrainOptions, log: RunLog): Promise<void> {
  try {
    const r = await exportRun({ run_dir: opts.out, env: opts.env, log });
    log.write(
      `export: model.onnx kept (max |logit diff| vs torch ${r.check.max_abs_diff.toExponential(2)} on ` +
        `${r.check.examples} examples)`,
    );
  } catch (e) {
    const line = e instanceof Error ? e.message.split('\n')[0] : String(e);
    log.write(`export: ${line}`);
    opts.notice?.(
      `model.onnx not written (${line}); predict and serve use the torch worker (retry: refit export --run ` +
        `${opts.out})`,
    );
  }
}
