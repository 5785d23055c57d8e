// The worker session: starting a worker for a run, the load command from a decision (training) or a saved model
// (eval, predict, export, import), opening encoded datasets, restoring a state, one command and its answer.
// The worker reads no config: every choice arrives here fully resolved (house style, TS↔worker boundary).
import type { RunLog } from '../log.ts';
import { WorkerProcess, type RankLayout } from '../worker/index.ts';
import { workerError, type SupervisedWorker } from '../worker/index.ts';
import type {
  BertConfigJson,
  DistStrategy,
  HeadKind,
  HeadSpec,
  LoadCommand,
  LoraSpec,
  RnnSpec,
} from '../worker/protocol.ts';
import { loadLevers, type LoadLevers, type LoraConfig, type ModelDims } from '../memory/index.ts';

/** Dropout before the classifier head (BERT's hidden dropout). */
export const HEAD_DROPOUT = 0.1;
/** Waiting this long for `ready` means the interpreter or torch import hangs. */
export const WORKER_START_TIMEOUT_MS = 120_000;

/** The HF config.json fields for a model of these dims. */
export function bertConfig(dims: ModelDims, dropout = HEAD_DROPOUT): BertConfigJson {
  return {
    ...dims,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    hidden_dropout_prob: dropout,
    attention_probs_dropout_prob: dropout,
    initializer_range: 0.02,
    model_type: 'bert',
    architectures: ['BertModel'],
  };
}

/** Everything `load` needs besides the decision. */
export interface LoadSpec {
  dims: ModelDims;
  pretrained?: string;
  head: HeadKind;
  num_labels: number;
  seed: number;
  learning_rate: number;
  weight_decay: number;
  warmup_steps: number;
  total_steps: number;
  max_grad_norm: number;
  num_threads?: number;
  /**
   * Dropout everywhere (BERT's 0.1 by default); 0 makes runs with different micro-batch splits comparable bit
   * for bit up to rounding.
   */
  dropout?: number;
  /** The deepke-lm head's RNN (its dropout is also the one before fc, as in DeepKE). */
  rnn?: RnnSpec;
  /** Several ranks: how they share the model states. */
  strategy?: DistStrategy;
  /** LoRA's settings (model.lora); sent when the decision's lora_rank is above 0 */
  lora?: LoraSpec;
}

/** The `load` command's LoRA settings from model.lora (alpha auto: left to the worker, 2 × the decided rank). */
export function loraSpec(lora: LoraConfig): LoraSpec {
  return {
    ...(lora.alpha === 'auto' ? {} : { alpha: lora.alpha }),
    dropout: lora.dropout,
    targets: [...lora.targets],
  };
}

/**
 * The head spec of a load command: deepke-lm carries its RNN and uses the RNN's dropout before fc (DeepKE's
 * `dropout`).
 */
export function headSpec(spec: Pick<LoadSpec, 'head' | 'num_labels' | 'dropout' | 'rnn'>): HeadSpec {
  if (spec.head === 'deepke-lm') {
    if (!spec.rnn) throw new Error('the deepke-lm head needs its rnn settings');
    return {
      kind: spec.head,
      num_labels: spec.num_labels,
      dropout: spec.dropout ?? spec.rnn.dropout,
      rnn: spec.rnn,
    };
  }
  return { kind: spec.head, num_labels: spec.num_labels, dropout: spec.dropout ?? HEAD_DROPOUT };
}

/**
 * The `load` command for a decision (run/decide.ts's Decision, or inferenceLoad's) and a model spec. The lever fields
 * are the lever table's LOAD_LEVERS, taken from `d` (a decision carries them all; predict, eval and export may leave
 * them to the table's inference values).
 */
export function loadCommand(
  spec: LoadSpec,
  d: { device: string; budget_bytes?: number } & Partial<LoadLevers>,
): LoadCommand {
  const levers = loadLevers(d);
  return {
    type: 'load',
    pretrained: spec.pretrained,
    config: bertConfig(spec.dims, spec.dropout),
    head: headSpec(spec),
    seed: spec.seed,
    device: d.device,
    ...levers,
    // the optimizer lever's kind nests in its settings (the key keeps its place in the command)
    optimizer: {
      kind: levers.optimizer,
      lr: spec.learning_rate,
      weight_decay: spec.weight_decay,
      betas: [0.9, 0.999],
      eps: 1e-8,
    },
    schedule: { warmup_steps: spec.warmup_steps, total_steps: spec.total_steps },
    max_grad_norm: spec.max_grad_norm,
    budget_bytes: d.device.startsWith('cuda') ? d.budget_bytes : undefined,
    num_threads: spec.num_threads,
    ...(spec.strategy ? { strategy: spec.strategy } : {}),
    ...(levers.lora_rank > 0 && spec.lora ? { lora: spec.lora } : {}),
  };
}

/**
 * The load command of a worker that only runs the saved model (predict, eval, export, import): fp32, no
 * checkpointing, and a one-step schedule that is never stepped (the optimizer settings are placeholders).
 */
export function inferenceLoad(
  spec: Pick<LoadSpec, 'dims' | 'head' | 'rnn' | 'num_labels' | 'num_threads'>,
  d: { device: string; attention: LoadLevers['attention'] },
): LoadCommand {
  return loadCommand(
    {
      ...spec,
      seed: 0,
      learning_rate: 1e-5,
      weight_decay: 0,
      warmup_steps: 0,
      total_steps: 1,
      max_grad_norm: 1,
    },
    {
      device: d.device,
      precision: 'fp32',
      attention: d.attention,
      grad_checkpointing: false,
      freeze_layers: 0,
      optimizer: 'adamw',
    },
  );
}

/**
 * Starts a worker process (stderr → the run log). `inject_state` is the run folder the fault injection keeps
 * its state in.
 */
export async function startWorker(opts: {
  python: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  run_dir?: string;
  num_threads?: number;
  ranks?: RankLayout;
}): Promise<WorkerProcess> {
  const env = {
    ...opts.env,
    ...(opts.run_dir ? { REFIT_INJECT_STATE: opts.env.REFIT_INJECT_STATE ?? opts.run_dir } : {}),
  };
  return WorkerProcess.start({
    python: opts.python,
    env,
    log: opts.log,
    start_timeout_ms: WORKER_START_TIMEOUT_MS,
    num_threads: opts.num_threads,
    ranks: opts.ranks,
  });
}

/** Sends one command and returns its answer, turning an `error` event or an unexpected answer into an error. */
export async function expect<T extends string>(
  worker: SupervisedWorker,
  cmd: Parameters<SupervisedWorker['request']>[0],
  type: T,
  timeout_ms?: number,
): Promise<Extract<Awaited<ReturnType<SupervisedWorker['request']>>, { type: T }>> {
  const ev = await worker.request(cmd, timeout_ms ? { timeout_ms } : undefined);
  if (ev.type !== type)
    throw workerError(ev, cmd.type, 'path' in cmd && typeof cmd.path === 'string' ? cmd.path : undefined);
  return ev as never;
}

/**
 * Loads the model, opens the datasets and restores `restore_from` when given. A model that is restored next
 * (`restore_from`, or `restore_next`: the caller restores it) is built without its random initialisation.
 */
export async function setupWorker(
  worker: SupervisedWorker,
  opts: {
    load: LoadCommand;
    datasets: Array<{ name: string; path: string }>;
    restore_from?: string;
    restore_next?: boolean;
  },
): Promise<void> {
  const skip = !!opts.restore_from || !!opts.restore_next;
  await expect(worker, skip ? { ...opts.load, skip_init: true } : opts.load, 'loaded');
  for (const ds of opts.datasets)
    await expect(worker, { type: 'open_dataset', name: ds.name, path: ds.path }, 'dataset_opened');
  if (opts.restore_from) await expect(worker, { type: 'restore', path: opts.restore_from }, 'restored');
}
