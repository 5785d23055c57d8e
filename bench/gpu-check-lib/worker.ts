// Driving the real refit worker for the GPU check: start, load a model shape, open a dataset, run steps,
// read memory. Every answer that is not the expected event becomes an Error carrying the worker's message.
import { RunLog } from '../../src/log.ts';
import {
  WorkerProcess,
  type BertConfigJson,
  type LoadCommand,
  type MicroBatch,
  type StepEvent,
  type OomEvent,
  type WorkerCommand,
  type WorkerEvent,
  type Precision,
  type Attention,
  type OptimizerKind,
  type MemoryStats,
} from '../../src/worker/index.ts';
import { loadLevers, type ModelDims, type Offload } from '../../src/memory/index.ts';

/** Relation labels of every synthetic head (the golden measurement's 50). */
export const NUM_LABELS = 50;
/** Longest wait for start, load or open: a hung worker is killed and the point recorded as failed. */
export const LOAD_TIMEOUT_MS = 180_000;
/** Longest wait for one train step. */
export const STEP_TIMEOUT_MS = 120_000;

/** What one model load asks for. */
export interface LoadSpec {
  dims: ModelDims;
  device: string;
  precision: Precision;
  attention: Attention;
  grad_checkpointing: boolean;
  optimizer: OptimizerKind;
  /** memory.offload (default none) */
  offload?: Offload;
  budget_bytes?: number;
  total_steps?: number;
  /** LoRA adapters of this rank (0 or absent: none; the worker's default alpha, dropout and targets) */
  lora_rank?: number;
}

/** The HF config.json fields of `dims` (gelu, eps 1e-12, dropout 0.1 as BERT). */
export function bertConfig(dims: ModelDims): BertConfigJson {
  return {
    ...dims,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    initializer_range: 0.02,
    pad_token_id: 0,
  };
}

/** The worker's `load` command for a spec (random init, entity-start head, AdamW lr 2e-5, clip 1.0 like refit's defaults). */
export function loadCommand(spec: LoadSpec): LoadCommand {
  return {
    type: 'load',
    config: bertConfig(spec.dims),
    head: { kind: 'entity-start', num_labels: NUM_LABELS, dropout: 0.1 },
    seed: 42,
    device: spec.device,
    ...loadLevers({
      precision: spec.precision,
      attention: spec.attention,
      grad_checkpointing: spec.grad_checkpointing,
      offload: spec.offload,
      lora_rank: spec.lora_rank,
    }),
    optimizer: { kind: spec.optimizer, lr: 2e-5, weight_decay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
    schedule: { warmup_steps: 0, total_steps: spec.total_steps ?? 1000 },
    max_grad_norm: 1.0,
    ...(spec.budget_bytes ? { budget_bytes: spec.budget_bytes } : {}),
  };
}

/** A started worker with helpers that expect a particular answer. */
export class CheckWorker {
  private constructor(readonly proc: WorkerProcess) {}

  /** Starts `python -m refit_worker` (extra env such as REFIT_INJECT_OOM applies to this worker only). */
  static async start(opts: {
    python: string;
    env: Record<string, string | undefined>;
    log: RunLog;
    extra_env?: Record<string, string>;
    num_threads?: number;
  }): Promise<CheckWorker> {
    const proc = await WorkerProcess.start({
      python: opts.python,
      env: { ...opts.env, ...opts.extra_env },
      log: opts.log,
      start_timeout_ms: LOAD_TIMEOUT_MS,
      num_threads: opts.num_threads,
    });
    return new CheckWorker(proc);
  }

  /** The worker's ready event (versions and capabilities). */
  get ready() {
    return this.proc.ready;
  }

  /** Sends `cmd`; an `error` event becomes a thrown Error. */
  async ask(cmd: WorkerCommand, timeout_ms: number): Promise<WorkerEvent> {
    const ev = await this.proc.request(cmd, { timeout_ms });
    if (ev.type === 'error') throw new Error(`${cmd.type}: ${ev.code}: ${ev.message}`);
    return ev;
  }

  /** Loads a model; returns the `loaded` event's params and memory. */
  async load(spec: LoadSpec): Promise<{ params: number; memory: MemoryStats }> {
    const ev = await this.ask(loadCommand(spec), LOAD_TIMEOUT_MS);
    if (ev.type !== 'loaded') throw new Error(`load answered ${ev.type}`);
    return { params: ev.params, memory: ev.memory };
  }

  /** Opens an encoded dataset under `name`. */
  async open(name: string, path: string): Promise<void> {
    const ev = await this.ask({ type: 'open_dataset', name, path }, LOAD_TIMEOUT_MS);
    if (ev.type !== 'dataset_opened') throw new Error(`open_dataset answered ${ev.type}`);
  }

  /** One optimizer step over `micro_batches`; resolves with the `step` or the `oom` event. */
  async step(opts: {
    step: number;
    dataset: string;
    micro_batches: MicroBatch[];
  }): Promise<StepEvent | OomEvent> {
    const logical = opts.micro_batches.reduce((s, m) => s + m.indices.length, 0);
    const ev = await this.ask(
      {
        type: 'train_step',
        step: opts.step,
        dataset: opts.dataset,
        logical_batch_size: logical,
        micro_batches: opts.micro_batches,
      },
      STEP_TIMEOUT_MS,
    );
    if (ev.type !== 'step' && ev.type !== 'oom') throw new Error(`train_step answered ${ev.type}`);
    return ev;
  }

  /** Current memory figures; with `reset_peak`, a new peak window starts after they are read. */
  async memory(reset_peak: boolean): Promise<MemoryStats> {
    const ev = await this.ask({ type: 'memory', reset_peak }, 30_000);
    if (ev.type !== 'memory') throw new Error(`memory answered ${ev.type}`);
    return ev.memory;
  }

  /**
   * Bytes on the device outside PyTorch's allocator now (CUDA context, loaded kernels, library handles): total − free −
   * reserved. The protocol reports only the peak reserved, so the peak is reset first: right after, peak = current.
   * Resets the peak window (read peaks before calling). Undefined on CPU.
   */
  async nonPytorch(): Promise<number | undefined> {
    await this.memory(true);
    const m = await this.memory(false);
    if (
      m.mem_get_info_total === undefined ||
      m.mem_get_info_free === undefined ||
      m.max_memory_reserved === undefined
    )
      return undefined;
    return m.mem_get_info_total - m.mem_get_info_free - m.max_memory_reserved;
  }

  /** Shuts the worker down (SIGTERM/SIGKILL after a grace period); never throws. */
  async close(): Promise<void> {
    try {
      await this.proc.close();
    } catch {
      /* already gone */
    }
  }
}

/** The micro-batch holding examples [from, from + count) padded to `seq_len`. */
export function rangeBatch(from: number, count: number, seq_len: number): MicroBatch {
  return { indices: Array.from({ length: count }, (_, i) => from + i), seq_len };
}
