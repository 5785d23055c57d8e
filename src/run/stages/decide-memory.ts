// Stage 3 of a training run: the first worker is started (its capabilities decide `auto`), the memory decision is
// made (run/decide.ts; a resume reads its plan.json back), the supervisor is set up, a CUDA run probes its plan, and
// config.yaml and plan.json are written. The model is not loaded yet (trainLoop does that).
import { runHead } from '../prepare-ner.ts';
import { configToYaml } from '../../config/index.ts';
import { stepsPerEpoch } from '../../batch/index.ts';
import type { TrainSupervisor, WorkerProcess } from '../../worker/index.ts';
import type { LoadCommand } from '../../worker/protocol.ts';
import {
  loadCommand,
  loraSpec,
  readJson,
  runPaths,
  writeJsonAtomic,
  writeTextAtomic,
} from '../../session/index.ts';
import type { LoadSpec } from '../../session/index.ts';
import { decideMemory, resolveDevice, type PlanFile } from '../decide.ts';
import { rnnSpec } from '../deepke-lm.ts';
import { probePlan } from '../probe.ts';
import { writeRunManifest } from '../run-manifest.ts';
import { resumePoints, resumeState } from '../checkpoints.ts';
import { initialState } from '../loop-state.ts';
import type { DecidedRun, OpenRun } from './context.ts';
import { runDataPaths } from './open-folder.ts';
import { makeSupervisor, startRanks } from './workers.ts';

/** Decides how the run uses memory and sets up its supervisor (see the file's header). */
export async function decideRunMemory(run: OpenRun): Promise<DecidedRun> {
  const { opts, inputs, mode } = run;
  const { config, train, dims } = inputs;
  const paths = runPaths(opts.out);
  // A resume reads its checkpoints first: a damaged last.json or no usable checkpoint is its one line at once.
  const points = mode === 'resume' ? resumePoints(opts.out) : [];
  const resumed = mode === 'resume' ? resumeState(opts.out, points) : undefined;
  const first = await startRanks(run);
  run.first = first;
  run.stop.check('starting the worker');
  const caps = first.ready.capabilities;
  const device = resolveDevice(config, caps);
  const total = stepsPerEpoch(train.size, config.train.batch_size) * config.train.epochs;
  const spec: LoadSpec = {
    dims,
    pretrained: config.model.pretrained,
    head: runHead(config),
    num_labels: inputs.splits.relations.names.length,
    seed: config.train.seed,
    learning_rate: config.train.learning_rate,
    weight_decay: config.train.weight_decay,
    warmup_steps: Math.round(config.train.warmup_ratio * total),
    total_steps: total,
    max_grad_norm: config.train.max_grad_norm,
    num_threads: run.ranks.threads_per_rank ?? opts.num_threads,
    dropout: config.model.dropout ?? opts.dropout,
    rnn: rnnSpec(config),
    ...(run.ranks.layout ? { strategy: run.ranks.strategy } : {}),
    lora: loraSpec(config.model.lora),
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
          world: run.ranks.world,
        });
  const d = plan.decision;
  // several ranks: the strategy decided (memory: auto fits it when distributed.strategy is auto)
  if (run.ranks.layout && d.strategy) spec.strategy = d.strategy;
  // Several ranks: the batch plan's micro-batches are global (per-rank micro-batch × world size); each rank takes its
  // share, so effective batch = per-rank micro-batch × accumulation × world size.
  const world = run.ranks.world;
  if (mode === 'new' && world > 1)
    d.reasons.push(
      `${run.ranks.reason}: micro-batch ${d.micro_batch_size} per rank, ${d.micro_batch_size * world} over the ranks`,
    );
  const state =
    resumed ??
    initialState({
      micro_batch_size: d.micro_batch_size * world,
      grad_checkpointing: d.grad_checkpointing,
      offload: d.offload,
      max_seq_len: d.max_seq_len,
    });
  const sup = makeSupervisor(run, spec, d, state);
  run.stop.check('planning');
  // The probe measures one plain process; in a group (even of one) the plan stands and OOM recovery (agreed by
  // all ranks) corrects it.
  if (mode === 'new' && device.startsWith('cuda') && !run.ranks.layout)
    await applyProbe(run, first, sup, plan, loadCommand(spec, d));
  run.stop.check(mode === 'new' && device.startsWith('cuda') ? 'probing the GPU' : 'planning');
  // A resume rewrites config.yaml only for the safe changes it was allowed (resume-config.ts).
  if (mode === 'new' || run.changes.length) writeTextAtomic(paths.config, configToYaml(config));
  // What the run is from here on (checked by the next --resume): written at every start, after the resume checks.
  writeRunManifest({ run_dir: run.opts.out, relations: inputs.splits.relations, data: runDataPaths(inputs) });
  if (mode === 'new') writeJsonAtomic(paths.plan, plan);
  return Object.assign(run, { device, plan, decision: d, spec, first, sup, state, resume_points: points });
}

/** CUDA only: probes the worst-case shape and corrects the decision (recorded in plan.json). */
async function applyProbe(
  run: OpenRun,
  first: WorkerProcess,
  sup: TrainSupervisor,
  plan: PlanFile,
  load: LoadCommand,
): Promise<void> {
  const d = plan.decision;
  const probe = await probePlan({
    worker: first,
    load,
    datasets: run.datasets,
    sup,
    lengths: run.inputs.train.lengths,
    log: run.log,
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
