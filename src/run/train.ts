// `refit train` as a function: resolve inputs → encode → start the worker → memory decision (+ CUDA probe) →
// supervised training loop → best model restored → test metrics → model/ and metrics.json. The command stays thin.
import { join } from 'node:path';
import { RunLog } from '../log.ts';
import { configToYaml, type RunConfig } from '../config/index.ts';
import { findPython, type WorkerProcess } from '../worker/index.ts';
import { TrainSupervisor, type Levers } from '../worker/index.ts';
import type { LoadCommand } from '../worker/protocol.ts';
import { parseOomReport } from '../memory/index.ts';
import { stepsPerEpoch } from '../batch/index.ts';
import { appendJsonLine, prepareOutDir, readJson, runPaths, writeJsonAtomic, writeTextAtomic } from './files.ts';
import { cacheDir, encodeSplit, modelDims, readSplits, textSide, type EncodedSplit } from './prepare.ts';
import { decideMemory, resolveDevice, type Decision, type PlanFile } from './decide.ts';
import { loadCommand, setupWorker, startWorker, type LoadSpec } from './session.ts';
import { dispatchEvent, now, type Reporter, type RunEvent } from './events.ts';
import { initialState, runLoop, MAX_RESTARTS, type LoopState } from './train-loop.ts';
import { finishRun, type RunMetrics } from './finish.ts';
import { probePlan } from './probe.ts';

/** Checkpoint `last` every this many optimizer steps (and at each epoch end), so a crash loses little. */
export const CHECKPOINT_EVERY_STEPS = 200;

/** Options of one training run. */
export interface TrainOptions { config: RunConfig; out: string; resume?: boolean; force?: boolean; env: Record<string, string | undefined>;
  reporters?: Reporter[]; num_threads?: number; checkpoint_every?: number;
  /** Dropout override (default BERT's 0.1); tests use 0 to compare runs whose micro-batch splits differ. */
  dropout?: number;
  /** Called with the run's log (refit.log) once the run folder exists, so callers can point errors at it. */
  on_log?: (log: RunLog) => void;
  /** Worker crashes tolerated before the run fails (default MAX_RESTARTS). */
  max_restarts?: number }

/** The result of a finished run: its folder and metrics. */
export interface TrainResult { run_dir: string; metrics: RunMetrics; plan: PlanFile }

/** The inputs of a run (see prepareInputs). */
type Inputs = Awaited<ReturnType<typeof prepareInputs>>;

/** What the phases of one run share. */
interface RunCtx { opts: TrainOptions; inputs: Inputs; mode: 'new' | 'resume'; log: RunLog; emit(e: RunEvent): void; datasets: Array<{ name: string; path: string }> }

/** Trains one run into `out` (see design §5 for the folder); throws RefitError on bad input, writes run_end either way. */
export async function runTraining(opts: TrainOptions): Promise<TrainResult> {
  // Inputs are read and checked before the out folder is touched: bad input leaves no folder behind.
  const pre = new RunLog();
  const inputs = await prepareInputs(opts, pre);
  const mode = prepareOutDir({ dir: opts.out, resume: !!opts.resume, force: !!opts.force });
  const paths = runPaths(opts.out);
  const log = new RunLog(paths.log);
  for (const l of pre.lastLines(200)) log.write(l);
  opts.on_log?.(log);
  const emit = (e: RunEvent) => { appendJsonLine(paths.events, e); dispatchEvent(opts.reporters ?? [], e); };
  const ctx: RunCtx = { opts, inputs, mode, log, emit, datasets: [inputs.train, inputs.valid, inputs.test].filter((s): s is EncodedSplit => !!s).map((s) => ({ name: s.name, path: s.path })) };
  const t0 = Date.now();
  let state: LoopState | undefined;
  let sup: TrainSupervisor | undefined;
  let first: WorkerProcess | undefined;
  try {
    first = await startWorker({ python: inputs.python, env: opts.env, log, run_dir: opts.out, num_threads: opts.num_threads });
    const started = await startRun(ctx, first);
    ({ state, sup } = started);
    await runLoop({ run_dir: opts.out, sup, train: inputs.train, valid: inputs.valid, relations: inputs.splits.relations, semeval: inputs.splits.format === 'semeval',
      epochs: inputs.config.train.epochs, batch_size: started.decision.batch_size, seed: inputs.config.train.seed, padding: started.decision.padding,
      patience: inputs.config.train.early_stopping_patience, checkpoint_every: opts.checkpoint_every ?? CHECKPOINT_EVERY_STEPS, max_restarts: opts.max_restarts ?? MAX_RESTARTS, emit }, state);
    const metrics = await finishRun({ sup, state, run_dir: opts.out, valid: inputs.valid, test: inputs.test, relations: inputs.splits.relations, semeval: inputs.splits.format === 'semeval',
      text: inputs.text, head: inputs.config.model.head, max_seq_len: sup.levers.max_seq_len, padding: started.decision.padding, emit });
    emit({ event: 'run_end', time: now(), status: 'ok', optimizer_steps: state.step, examples_seen: state.examples_seen, seconds: (Date.now() - t0) / 1000, best_epoch: state.best?.epoch });
    return { run_dir: opts.out, metrics, plan: started.plan };
  } catch (e) {
    log.write(`run failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    emit({ event: 'run_end', time: now(), status: 'failed', optimizer_steps: state?.step ?? 0, examples_seen: state?.examples_seen ?? 0, seconds: (Date.now() - t0) / 1000, error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
    throw e;
  } finally {
    if (sup?.worker && sup.worker !== first) await sup.worker.close().catch(() => undefined);
    await first?.close().catch(() => undefined);
  }
}

/** Decision (or the resumed one), supervisor, CUDA probe, config.yaml + plan.json, the loaded first worker, run_start. */
async function startRun(ctx: RunCtx, first: WorkerProcess): Promise<{ plan: PlanFile; decision: Decision; state: LoopState; sup: TrainSupervisor }> {
  const { opts, inputs, mode } = ctx;
  const { config, train, dims } = inputs;
  const paths = runPaths(opts.out);
  const caps = first.ready.capabilities;
  const device = resolveDevice(config, caps);
  const spe = stepsPerEpoch(train.examples.length, config.train.batch_size);
  const total = spe * config.train.epochs;
  const spec: LoadSpec = { dims, pretrained: config.model.pretrained, head: config.model.head, num_labels: inputs.splits.relations.names.length, seed: config.train.seed,
    learning_rate: config.train.learning_rate, weight_decay: config.train.weight_decay, warmup_steps: Math.round(config.train.warmup_ratio * total),
    total_steps: total, max_grad_norm: config.train.max_grad_norm, num_threads: opts.num_threads, dropout: opts.dropout };
  const plan = mode === 'resume' ? readJson<PlanFile>(paths.plan) : decideMemory({ config, dims, caps, device, lengths: train.lengths, num_labels: spec.num_labels });
  const d = plan.decision;
  const state = mode === 'resume' ? readJson<LoopState>(paths.last_state) : initialState({ micro_batch_size: d.micro_batch_size, grad_checkpointing: d.grad_checkpointing, max_seq_len: d.max_seq_len });
  const sup = makeSupervisor(ctx, spec, d, state);
  if (mode === 'new' && device.startsWith('cuda')) await applyProbe(ctx, first, sup, plan, loadCommand(spec, d));
  if (mode === 'new') {
    writeTextAtomic(paths.config, configToYaml(config));
    writeJsonAtomic(paths.plan, plan);
  }
  if (state.levers.max_seq_len < d.max_seq_len) Object.assign(sup, await shortenTrain(ctx, state.levers.max_seq_len)); // resuming after a shortened window
  const restore = state.checkpoint ? join(opts.out, state.checkpoint) : undefined;
  await setupWorker(first, { load: loadCommand(spec, { ...d, grad_checkpointing: sup.levers.grad_checkpointing }), datasets: ctx.datasets, restore_from: restore });
  sup.worker = first;
  state.levers = { ...sup.levers };
  ctx.emit({ event: 'run_start', time: now(), run_dir: opts.out, total_steps: total, steps_per_epoch: spe, epochs: config.train.epochs, device, plan: { decision: d, plan: plan.plan },
    examples: { train: train.examples.length, valid: inputs.valid?.examples.length ?? 0, test: inputs.test?.examples.length ?? 0 },
    ...(mode === 'resume' ? { resumed_from_step: state.step } : {}) });
  return { plan, decision: d, state, sup };
}

/** memory.allow_shorter_seq: re-encodes the training data with a shorter (still entity-aware) window. */
async function shortenTrain(ctx: RunCtx, max_seq_len: number): Promise<{ lengths: Int32Array; dataset: string }> {
  const { inputs } = ctx;
  const name = `train-${max_seq_len}`;
  const short = await encodeSplit({ name, examples: inputs.train.examples, relations: inputs.splits.relations, text: inputs.text, max_seq_len, cache_dir: cacheDir({ out: ctx.opts.out, env: ctx.opts.env }) });
  ctx.datasets.push({ name, path: short.path });
  return { lengths: short.lengths, dataset: name };
}

/** The supervisor of this run: it launches workers with the run's load spec and reports OOMs and recoveries as events. */
function makeSupervisor(ctx: RunCtx, spec: LoadSpec, d: Decision, state: LoopState): TrainSupervisor {
  const { opts, inputs, emit } = ctx;
  const launch = async (levers: Levers, restore_from?: string) => {
    const w = await startWorker({ python: inputs.python, env: opts.env, log: ctx.log, run_dir: opts.out, num_threads: opts.num_threads });
    await setupWorker(w, { load: loadCommand(spec, { ...d, grad_checkpointing: levers.grad_checkpointing }), datasets: ctx.datasets, restore_from });
    return w;
  };
  return new TrainSupervisor({
    hooks: { launch, scratch_dir: join(opts.out, 'checkpoints', 'recovery'), parseOom: parseOomReport, log: ctx.log, shorten: (n) => shortenTrain(ctx, n),
      onOom: (e, r) => emit({ event: 'oom', time: now(), step: e.step, completed_micro_batches: e.completed_micro_batches, message: e.message, kind: r.kind, requested_bytes: r.requested_bytes, free_bytes: r.free_bytes, memory: e.memory }),
      onRecover: (step, a) => emit({ event: 'recovery', time: now(), step, action: a.kind, from: a.from, to: a.to, reason: a.reason }) },
    levers: state.levers, policy: { batch_size: d.batch_size, micro_batch_size: state.levers.micro_batch_size, padding: d.padding, batching: d.batching, max_tokens: d.max_tokens, max_seq_len: d.max_seq_len },
    lengths: inputs.train.lengths, dataset: 'train', allow_shorter_seq: inputs.config.memory.allow_shorter_seq,
  });
}

/** CUDA only: probes the worst-case shape and corrects the decision (recorded in plan.json). */
async function applyProbe(ctx: RunCtx, first: WorkerProcess, sup: TrainSupervisor, plan: PlanFile, load: LoadCommand): Promise<void> {
  const d = plan.decision;
  const probe = await probePlan({ worker: first, load, datasets: ctx.datasets, sup, lengths: ctx.inputs.train.lengths, log: ctx.log });
  plan.probe = probe;
  if (probe.chosen_micro_batch_size !== d.micro_batch_size) {
    d.reasons.push(`probe: micro-batch ${d.micro_batch_size} measured over budget; corrected to ${probe.chosen_micro_batch_size}`);
    d.micro_batch_size = probe.chosen_micro_batch_size;
    d.grad_accumulation = Math.ceil(d.batch_size / d.micro_batch_size);
  }
}

/** The inputs of a run, read and encoded before anything is written into the out folder. */
async function prepareInputs(opts: TrainOptions, log: RunLog) {
  const config = opts.config;
  const splits = await readSplits({ config, warn: (l) => log.write(`warning: ${l}`) });
  const text = textSide(config);
  const cache = cacheDir({ out: opts.out, env: opts.env });
  const enc = async (name: string, ex: typeof splits.train) => encodeSplit({ name, examples: ex, relations: splits.relations, text, max_seq_len: config.memory.max_seq_len, cache_dir: cache });
  const train = await enc('train', splits.train);
  const valid = splits.valid.length ? await enc('valid', splits.valid) : null;
  const test = splits.test.length ? await enc('test', splits.test) : null;
  const dims = modelDims(config, text.vocab.size);
  const { python } = await findPython({ env: opts.env, configured: config.engine.python });
  return { config, splits, text, train, valid, test, dims, python };
}
