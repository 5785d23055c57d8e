// runShapeOf: the one way a run config becomes the run shape the planner prices, used by `refit plan -c`,
// `refit doctor -c`, `refit train`'s decision (plan.json) and the web planner. Pure, no I/O. What the config does
// not hold (the engine, DeepKE's fixed padding, DataParallel, the worker's capabilities, the data's relations and
// lengths) is passed in as facts by the caller, never re-derived here.
import type { RunConfig } from '../config/index.ts';
import { roundSeqLen } from '../batch/index.ts';
import { strategyTrains, type Strategy } from './distributed-levers.ts';
import { LORA_DEFAULT_TARGETS } from './lora-levers.ts';
import { planMemory } from './plan.ts';
import type {
  Attention,
  Engine,
  GpuSpec,
  MemoryPlan,
  ModelDims,
  Padding,
  Precision,
  RunShape,
} from './types.ts';

/** The parts of a run config a run shape is read from (a resolved RunConfig has them all). */
export interface ShapeConfig {
  train: Pick<RunConfig['train'], 'batch_size'>;
  /** the memory levers; the optimizer may be any the planner prices (sgd is a plan flag, not a config value) */
  memory: Pick<
    RunConfig['memory'],
    | 'max_seq_len'
    | 'padding'
    | 'micro_batch_size'
    | 'grad_accumulation'
    | 'precision'
    | 'attention'
    | 'grad_checkpointing'
    | 'freeze_layers'
  > & {
    optimizer: RunShape['optimizer'];
    allow?: RunConfig['memory']['allow'];
    /** absent or auto: none (fit and `memory: auto` search it) */
    offload?: RunConfig['memory']['offload'];
  };
  /** task: ner plans the token head whatever model.head says (absent: re). */
  task?: RunConfig['task'];
  model: Pick<RunConfig['model'], 'head'> & {
    rnn?: Pick<RunConfig['model']['rnn'], 'type' | 'hidden_size' | 'num_layers' | 'bidirectional'>;
    /** LoRA (rank 0 or absent: off); its targets and dropout are priced */
    lora?: Partial<Pick<RunConfig['model']['lora'], 'rank' | 'dropout' | 'targets'>>;
  };
  data: Pick<RunConfig['data'], 'num_relations'>;
  /**
   * Several ranks (nproc_per_node × nnodes) and how they share the states; fsdp trains in bf16 or fp32, so auto
   * precision is fp32 there on a card without bf16
   */
  distributed?: Partial<Pick<RunConfig['distributed'], 'strategy' | 'nproc_per_node' | 'nnodes'>>;
}

/** What the worker's torch can do on the run's device (`auto` levers follow it, as `refit train` does). */
export interface ShapeDevice {
  cuda: boolean;
  bf16: boolean;
  sdpa: boolean;
  fused_adamw: boolean;
}

/** Facts about the engine, the device and the data that a config does not hold. */
export interface ShapeFacts {
  engine: Engine;
  mode?: 'train' | 'infer';
  /** relations in the data (train reads them from the data); else data.num_relations, else DEFAULT_NUM_LABELS */
  num_labels?: number;
  /** a length every batch is padded to whatever the config says (DeepKE's collate: DEEPKE_PADDED_LENGTH) */
  padded_length?: number;
  /** example lengths: dynamic padding is planned at the longest example's padded length */
  lengths?: ArrayLike<number>;
  /** nn.DataParallel over this many GPUs (DeepKE's use_multi_gpu); GPU 0 is planned */
  data_parallel?: number;
  /** the worker's capabilities on the run's device; without them `auto` reads as the plain setting */
  device?: ShapeDevice;
  /**
   * torch.distributed ranks when the caller knows them (train's rank layout, fit's --gpus); else
   * distributed.nproc_per_node × nnodes of the config (nproc_per_node auto: 1)
   */
  world?: number;
}

/**
 * A config as planned: the run shape (its batch is the micro-batch), the effective batch, its split, and what
 * auto was read as.
 */
export interface ConfigShape {
  run: RunShape;
  effective_batch: number;
  /** per rank with several ranks (effective batch = micro-batch × accumulation × world) */
  micro_batch_size: number;
  grad_accumulation: number;
  padding: Padding;
  /** torch.distributed ranks (1: one process) */
  world: number;
  /** one phrase per setting read as something the config does not say (auto levers, DeepKE's padding, DataParallel) */
  assumed: string[];
}

/** Relations planned when neither the data nor data.num_relations says (the size of a large RE label set). */
export const DEFAULT_NUM_LABELS = 50;
/** DeepKE pads every batch to this length whatever its conf says (its collate hard-codes 512). */
export const DEEPKE_PADDED_LENGTH = 512;

/** The ranks a config trains on: facts.world, else distributed.nproc_per_node × nnodes (auto: 1). */
export function worldOf(config: Pick<ShapeConfig, 'distributed'>, facts: Pick<ShapeFacts, 'world'>): number {
  if (facts.world !== undefined) return Math.max(1, Math.floor(facts.world));
  const d = config.distributed;
  const nproc = typeof d?.nproc_per_node === 'number' ? d.nproc_per_node : 1;
  return Math.max(1, nproc * (d?.nnodes ?? 1));
}

/**
 * The run shape of `config` with `facts`. The micro-batch (per rank) is memory.micro_batch_size, else
 * ceil(train.batch_size / (memory.grad_accumulation × world)). `auto` levers follow `facts.device` when given
 * (precision: bf16/fp16 on CUDA (fp32 instead of fp16 under fsdp), fp32 on CPU; attention: sdpa when torch has it),
 * else read as a plain run of the engine (fp32; sdpa for refit, eager for hf; no checkpointing). The length is
 * `facts.padded_length`, else with dynamic padding and known lengths the longest example's padded length (the
 * batcher's rule, roundSeqLen), else memory.max_seq_len. Several ranks: the plan is one rank's.
 */
export function runShapeOf(config: ShapeConfig, facts: ShapeFacts): ConfigShape {
  const m = config.memory;
  const effective = config.train.batch_size;
  const world = worldOf(config, facts);
  const micro = m.micro_batch_size ?? Math.ceil(effective / ((m.grad_accumulation ?? 1) * world));
  const strategy = world > 1 ? strategyOf(config) : undefined;
  const dev = facts.device;
  const assumed: string[] = [];
  const auto = <T>(key: string, value: T | 'auto', chosen: T): T => {
    if (value !== 'auto') return value;
    assumed.push(`${key}: auto read as ${String(chosen)}`);
    return chosen;
  };
  const precision: Precision = auto(
    'memory.precision',
    m.precision,
    !dev?.cuda
      ? 'fp32'
      : dev.bf16
        ? 'bf16'
        : strategyTrains(config.distributed?.strategy, 'fp16')
          ? 'fp16'
          : 'fp32',
  );
  const attention: Attention = auto(
    'memory.attention',
    m.attention,
    dev ? (dev.sdpa ? 'sdpa' : 'eager') : facts.engine === 'hf' ? 'eager' : 'sdpa',
  );
  // DataParallel (one process over several GPUs) only without torch.distributed ranks
  const gpus = world > 1 ? 1 : Math.max(1, facts.data_parallel ?? 1);
  if (facts.padded_length !== undefined)
    assumed.push(`sequence length ${facts.padded_length}: DeepKE pads every batch to it`);
  if (gpus > 1)
    assumed.push(
      `DataParallel over ${gpus} GPUs (use_multi_gpu): GPU 0 holds the optimizer and runs ` +
        `${Math.ceil(micro / gpus)} of each batch`,
    );
  const run: RunShape = {
    engine: facts.engine,
    mode: facts.mode ?? 'train',
    batch_size: micro,
    seq_len: seqLenOf(config, facts),
    precision,
    attention,
    grad_checkpointing: auto('memory.grad_checkpointing', m.grad_checkpointing, false),
    // fused AdamW falls back to the foreach one where torch lacks it (the worker does the same)
    optimizer: m.optimizer === 'adamw-fused' && dev && !dev.fused_adamw ? 'adamw' : m.optimizer,
    num_labels: facts.num_labels ?? config.data.num_relations ?? DEFAULT_NUM_LABELS,
    freeze_layers: m.freeze_layers,
    offload: m.offload === undefined || m.offload === 'auto' ? 'none' : m.offload,
    ...loraShape(config.model),
    ...headShape(config.model, config.task),
    ...(gpus > 1 ? { data_parallel: gpus } : {}),
    ...(strategy ? { ranks: world, strategy } : {}),
  };
  return {
    run,
    effective_batch: effective,
    micro_batch_size: micro,
    grad_accumulation: Math.ceil(effective / (micro * world)),
    padding: facts.padded_length !== undefined ? 'max' : m.padding,
    world,
    assumed,
  };
}

/** How several ranks share the states: distributed.strategy, auto being ddp. */
function strategyOf(config: Pick<ShapeConfig, 'distributed'>): Strategy {
  const s = config.distributed?.strategy;
  return s === undefined || s === 'auto' ? 'ddp' : s;
}

/**
 * The padded length planned: the engine's fixed length, else the longest example's (dynamic padding), else
 * the window.
 */
function seqLenOf(config: ShapeConfig, facts: ShapeFacts): number {
  const m = config.memory;
  if (facts.padded_length !== undefined) return facts.padded_length;
  if (m.padding === 'max' || !facts.lengths) return m.max_seq_len;
  // lengths past the window are truncated to it (train encodes them so; --lengths-from may give raw lengths)
  let longest = 0;
  for (let i = 0; i < facts.lengths.length; i++)
    longest = Math.max(longest, Math.min(facts.lengths[i], m.max_seq_len));
  return roundSeqLen(longest, m.max_seq_len);
}

/** The LoRA fields of a run shape (none without LoRA): model.lora's rank, targets and dropout. */
export function loraShape(
  model: ShapeConfig['model'],
): Pick<RunShape, 'lora_rank' | 'lora_targets' | 'lora_dropout'> {
  const rank = model.lora?.rank ?? 0;
  if (rank <= 0) return {};
  return {
    lora_rank: rank,
    lora_targets: model.lora?.targets ?? LORA_DEFAULT_TARGETS,
    lora_dropout: model.lora?.dropout ?? 0,
  };
}

/** The head of a run shape, with the deepke-lm head's RNN from model.rnn; task: ner is the token head. */
export function headShape(
  model: ShapeConfig['model'],
  task?: ShapeConfig['task'],
): Pick<RunShape, 'head' | 'rnn'> {
  if (task === 'ner') return { head: 'token' };
  if (model.head !== 'deepke-lm' || !model.rnn) return { head: model.head };
  const { type, hidden_size, num_layers, bidirectional } = model.rnn;
  return { head: model.head, rnn: { type, hidden_size, num_layers, bidirectional } };
}

/**
 * The facts of DeepKE's run of a config file (a DeepKE conf folder or a YAML), for the hf engine (Hugging
 * Face BertModel
 * as DeepKE runs it): with a config file that sets no length every batch is padded to 512; DeepKE's use_multi_gpu is
 * DataParallel over device_ids. None for refit's engine.
 */
export function deepkeFacts(o: {
  engine: Engine;
  config_file: boolean;
  explicit_seq_len: boolean;
  device_ids?: readonly number[];
  /** task: ner: DeepKE's standard NER (run_bert.py) pads every sentence to max_seq_length, this length */
  ner_padded_length?: number;
}): Pick<ShapeFacts, 'padded_length' | 'data_parallel'> {
  if (o.engine !== 'hf') return {};
  return {
    ...(o.config_file && !o.explicit_seq_len ? { padded_length: DEEPKE_PADDED_LENGTH } : {}),
    ...(o.config_file && o.ner_padded_length !== undefined ? { padded_length: o.ner_padded_length } : {}),
    ...((o.device_ids?.length ?? 0) > 1 ? { data_parallel: o.device_ids!.length } : {}),
  };
}

/** A resolved config as the planning commands read it (config/resolve.ts's ResolvedConfig). */
export interface ResolvedShapeConfig<C extends ShapeConfig = ShapeConfig> {
  config: C & { device_ids?: readonly number[] };
  /** the dotted keys the config file or the overrides set */
  explicit: ReadonlySet<string>;
  /** set when the config was a DeepKE conf folder (Hydra) */
  hydra?: unknown;
}

/**
 * The facts `refit plan`, `refit fit` and `refit doctor` plan a resolved config with: the engine (given, else `hf`
 * for a DeepKE conf folder, else refit) and, for the hf engine, DeepKE's own facts (deepkeFacts: every batch padded
 * to 512 when a config file sets no length, use_multi_gpu's DataParallel). One function, so the three agree.
 */
export function configFacts(
  resolved: ResolvedShapeConfig,
  o: Omit<ShapeFacts, 'engine'> & { engine?: Engine; config_file: boolean; explicit_seq_len?: boolean },
): ShapeFacts {
  const { config_file, explicit_seq_len, engine: given, ...facts } = o;
  const engine: Engine = given ?? (resolved.hydra !== undefined ? 'hf' : 'refit');
  return {
    ...facts,
    engine,
    ...deepkeFacts({
      engine,
      config_file,
      explicit_seq_len: explicit_seq_len || resolved.explicit.has('memory.max_seq_len'),
      device_ids: resolved.config.device_ids,
      ner_padded_length: resolved.config.task === 'ner' ? resolved.config.memory.max_seq_len : undefined,
    }),
  };
}

/**
 * The one planning path: a config and its facts → its run shape (runShapeOf) → its memory plan (planMemory).
 * `refit plan`, `refit fit` (each candidate), `refit doctor` (its `current`), train's decision (plan.json) and the web
 * planner all plan through it.
 */
export function planConfig(o: { config: ShapeConfig; facts: ShapeFacts; model: ModelDims; gpu?: GpuSpec }): {
  shape: ConfigShape;
  plan: MemoryPlan;
} {
  const shape = runShapeOf(o.config, o.facts);
  return { shape, plan: planMemory({ model: o.model, run: shape.run, gpu: o.gpu }) };
}

/**
 * The config of a plain run described by its numbers (the web planner's controls, a benchmark's grid): every lever
 * not given at its plain value (max padding, fp32, sdpa, no checkpointing, AdamW, no frozen layers, the
 * entity-start head, one process).
 */
export function plainConfig(o: {
  batch_size: number;
  max_seq_len: number;
  padding?: Padding;
  micro_batch_size?: number;
  precision?: Precision | 'auto';
  attention?: Attention | 'auto';
  grad_checkpointing?: boolean | 'auto';
  optimizer?: RunShape['optimizer'];
  freeze_layers?: number;
  offload?: ShapeConfig['memory']['offload'];
  lora_rank?: number;
  num_relations?: number;
  head?: RunShape['head'];
  rnn?: ShapeConfig['model']['rnn'];
  nproc_per_node?: number;
  strategy?: Strategy;
}): ShapeConfig {
  return {
    train: { batch_size: o.batch_size },
    memory: {
      max_seq_len: o.max_seq_len,
      padding: o.padding ?? 'max',
      micro_batch_size: o.micro_batch_size,
      precision: o.precision ?? 'fp32',
      attention: o.attention ?? 'sdpa',
      grad_checkpointing: o.grad_checkpointing ?? false,
      freeze_layers: o.freeze_layers ?? 0,
      optimizer: o.optimizer ?? 'adamw',
      ...(o.offload ? { offload: o.offload } : {}),
    },
    // the token head is task: ner (model.head stays a relation head's name)
    ...(o.head === 'token' ? { task: 'ner' as const } : {}),
    model: {
      head: o.head === 'token' || o.head === undefined ? 'entity-start' : o.head,
      ...(o.rnn ? { rnn: o.rnn } : {}),
      ...(o.lora_rank ? { lora: { rank: o.lora_rank } } : {}),
    },
    data: { num_relations: o.num_relations },
    distributed: { nproc_per_node: o.nproc_per_node ?? 1, strategy: o.strategy ?? 'auto' },
  };
}
