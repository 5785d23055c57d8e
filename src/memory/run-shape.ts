// runShapeOf: the one way a run config becomes the run shape the planner prices, used by `refit plan -c`,
// `refit doctor -c`, `refit train`'s decision (plan.json) and the web planner. Pure, no I/O. What the config does
// not hold (the engine, DeepKE's fixed padding, DataParallel, the worker's capabilities, the data's relations and
// lengths) is passed in as facts by the caller, never re-derived here.
import type { RunConfig } from '../config/index.ts';
import { roundSeqLen } from '../batch/index.ts';
import { strategyTrains } from './distributed-levers.ts';
import type { Attention, Engine, Padding, Precision, RunShape } from './types.ts';

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
  > & { optimizer: RunShape['optimizer'] };
  model: Pick<RunConfig['model'], 'head'> & {
    rnn?: Pick<RunConfig['model']['rnn'], 'type' | 'hidden_size' | 'num_layers' | 'bidirectional'>;
  };
  data: Pick<RunConfig['data'], 'num_relations'>;
  /** fsdp trains in bf16 or fp32: auto precision is fp32 there on a card without bf16 */
  distributed?: Pick<RunConfig['distributed'], 'strategy'>;
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
}

/**
 * A config as planned: the run shape (its batch is the micro-batch), the effective batch, its split, and what
 * auto was read as.
 */
export interface ConfigShape {
  run: RunShape;
  effective_batch: number;
  micro_batch_size: number;
  grad_accumulation: number;
  padding: Padding;
  /** one phrase per setting read as something the config does not say (auto levers, DeepKE's padding, DataParallel) */
  assumed: string[];
}

/** Relations planned when neither the data nor data.num_relations says (the size of a large RE label set). */
export const DEFAULT_NUM_LABELS = 50;
/** DeepKE pads every batch to this length whatever its conf says (its collate hard-codes 512). */
export const DEEPKE_PADDED_LENGTH = 512;

/**
 * The run shape of `config` with `facts`. The micro-batch is memory.micro_batch_size, else
 * ceil(train.batch_size / memory.grad_accumulation). `auto` levers follow `facts.device` when given (precision:
 * bf16/fp16 on CUDA (fp32 instead of fp16 under fsdp), fp32 on CPU; attention: sdpa when torch has it), else read
 * as a plain run of the engine (fp32; sdpa for refit, eager for hf; no checkpointing). The length is
 * `facts.padded_length`, else with dynamic padding and known lengths the longest example's padded length, else
 * memory.max_seq_len.
 */
export function runShapeOf(config: ShapeConfig, facts: ShapeFacts): ConfigShape {
  const m = config.memory;
  const effective = config.train.batch_size;
  const micro =
    m.micro_batch_size ?? (m.grad_accumulation ? Math.ceil(effective / m.grad_accumulation) : effective);
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
  const gpus = Math.max(1, facts.data_parallel ?? 1);
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
    ...headShape(config.model),
    ...(gpus > 1 ? { data_parallel: gpus } : {}),
  };
  return {
    run,
    effective_batch: effective,
    micro_batch_size: micro,
    grad_accumulation: Math.ceil(effective / micro),
    padding: facts.padded_length !== undefined ? 'max' : m.padding,
    assumed,
  };
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

/** The head of a run shape, with the deepke-lm head's RNN from model.rnn. */
export function headShape(model: ShapeConfig['model']): Pick<RunShape, 'head' | 'rnn'> {
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
}): Pick<ShapeFacts, 'padded_length' | 'data_parallel'> {
  if (o.engine !== 'hf') return {};
  return {
    ...(o.config_file && !o.explicit_seq_len ? { padded_length: DEEPKE_PADDED_LENGTH } : {}),
    ...((o.device_ids?.length ?? 0) > 1 ? { data_parallel: o.device_ids!.length } : {}),
  };
}
