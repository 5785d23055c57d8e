// The `distributed.*` levers (issue 12): world size, strategy and rendezvous, the second section of the one lever
// table: levers.ts's LEVERS is `memory.*` (memory-levers.ts) then these, and the config schema and defaults, the
// plan flags and the docs read LEVERS, not this list. A table; no I/O, no logic.
import { int, oneOf, type Lever } from './lever-types.ts';

/**
 * How several ranks share the model states: ddp replicates them, zero1 shards the optimizer states, fsdp
 * shards all.
 */
export const STRATEGIES = Object.freeze(['ddp', 'zero1', 'fsdp'] as const);
export type Strategy = (typeof STRATEGIES)[number];
/** torch.distributed backends: nccl on CUDA, gloo on CPU (auto picks by device). */
export const BACKENDS = Object.freeze(['nccl', 'gloo'] as const);

/** Why refit's fsdp has no fp16: the worker does not use FSDP's sharded loss scaler. */
export const FSDP_NO_FP16 =
  "refit's fsdp trains in bf16 or fp32 (fp16 would need FSDP's sharded loss scaler)";
/** Whether `strategy` (none: one process) trains in `precision`: every pair but fsdp with fp16. */
export function strategyTrains(strategy: string | undefined, precision: string): boolean {
  return !(strategy === 'fsdp' && precision === 'fp16');
}
/**
 * Why adamw-8bit runs with one process, ddp or zero1 (which shards whole parameters, each with its own blocks) but not
 * fsdp: FSDP's parameters are DTensor shards, which its flat per-tensor blocks and the checkpoint's gather do not take.
 */
export const SHARDED_NO_8BIT = "adamw-8bit's blockwise states are not sharded by fsdp";
/** Whether `strategy` (none: one process) takes `optimizer`'s states: adamw-8bit's not under fsdp. */
export function strategyHolds(strategy: string | undefined, optimizer: string): boolean {
  return !(optimizer === 'adamw-8bit' && strategy === 'fsdp');
}
export type Backend = (typeof BACKENDS)[number];

/** The `distributed` section of a resolved config (keep in step with DISTRIBUTED_LEVERS). */
export interface DistributedConfig {
  /** Ranks on this machine; auto = the visible GPUs (1 on a CPU machine). */
  nproc_per_node: number | 'auto';
  nnodes: number;
  node_rank: number;
  master_addr: string;
  /** 0: a free port on node 0 (one machine only; several machines need a fixed port). */
  master_port: number;
  strategy: 'auto' | Strategy;
  backend: 'auto' | Backend;
}

/** Every `distributed.*` key in config.yaml order. */
export const DISTRIBUTED_LEVERS: readonly Lever[] = Object.freeze<Lever[]>([
  {
    name: 'nproc_per_node',
    key: 'distributed.nproc_per_node',
    schema: { anyOf: [{ type: 'integer', minimum: 1 }, { const: 'auto' }] },
    expected: 'an integer ≥ 1 or auto (the visible GPUs)',
    default: 1,
    flag: { name: 'nproc', plan: { arg: '<n>', help: 'ranks (processes, one per GPU)' } },
    prices:
      'per rank: weights and gradients stay whole (ddp, zero1), optimizer states ÷ world size with zero1; ' +
      'activations follow the per-rank micro-batch',
  },
  { name: 'nnodes', key: 'distributed.nnodes', ...int(1), default: 1 },
  { name: 'node_rank', key: 'distributed.node_rank', ...int(0), default: 0 },
  {
    name: 'master_addr',
    key: 'distributed.master_addr',
    schema: { type: 'string', minLength: 1 },
    expected: 'a host name or address',
    default: '127.0.0.1',
  },
  { name: 'master_port', key: 'distributed.master_port', ...int(0, 65535), default: 0 },
  {
    name: 'strategy',
    key: 'distributed.strategy',
    ...oneOf('auto', ...STRATEGIES),
    default: 'auto',
    values: STRATEGIES,
    flag: {
      name: 'strategy',
      plan: { arg: '<ddp|zero1|fsdp>', help: 'how ranks share model states' },
      fit: {
        arg: '<list>',
        help: 'strategies to consider with --gpus (default ddp,zero1; fsdp when listed)',
      },
    },
    prices:
      'ddp: full optimizer states per rank; zero1: optimizer states ÷ world size (+ a gather of updated ' +
      'weights); fsdp: everything ÷ world size + the gathered layer',
  },
  {
    name: 'backend',
    key: 'distributed.backend',
    ...oneOf('auto', ...BACKENDS),
    default: 'auto',
    values: BACKENDS,
  },
]);
