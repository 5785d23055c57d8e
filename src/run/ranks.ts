// How many ranks a run trains on and how (issue 12): the `distributed.*` config, DeepKE's use_multi_gpu (device_ids)
// and a group already started by torchrun or Slurm, turned into the rank layout the worker process starts.
// No processes are started here; `auto` looks at the visible GPUs only when asked for.
import { execFileSync } from 'node:child_process';
import type { RunConfig } from '../config/index.ts';
import { ConfigError, RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import {
  defaultThreads,
  findPython,
  runFollowerRanks,
  type DistStrategy,
  type RankLayout,
} from '../worker/index.ts';

/** The ranks of a run: the layout this machine starts (undefined: one process), the world size and the strategy. */
export interface RunRanks {
  layout?: RankLayout;
  world: number;
  strategy: DistStrategy;
  /** Extra environment for every rank (CUDA_VISIBLE_DEVICES for DeepKE's gpu_ids). */
  env: Record<string, string>;
  /** Threads per rank on CPU: the cores shared out (each rank's torch would otherwise take them all). */
  threads_per_rank?: number;
  /** Why, in one line (refit.log and plan.json reasons). */
  reason: string;
}

/** GPUs the worker's torch would see (CUDA_VISIBLE_DEVICES, else asked of torch); 0 when none or no torch. */
export function visibleGpus(python: string, env: Record<string, string | undefined>): number {
  if (env.CUDA_VISIBLE_DEVICES !== undefined)
    return env.CUDA_VISIBLE_DEVICES.split(',').filter((s) => s.trim() !== '' && s.trim() !== '-1').length;
  try {
    return (
      Number(
        execFileSync(python, ['-c', 'import torch; print(torch.cuda.device_count())'], {
          encoding: 'utf8',
          timeout: 60_000,
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim(),
      ) || 0
    );
  } catch {
    return 0;
  }
}

/**
 * The rank layout of a run. `distributed.nproc_per_node` (auto: the visible GPUs) × `nnodes`; DeepKE's use_multi_gpu
 * (`device_ids`) is DDP over those GPUs when nproc_per_node is left at 1. strategy auto is ddp (ZeRO-1 and FSDP only
 * when asked: at BERT sizes activations, not model states, decide what fits).
 */
export function runRanks(opts: {
  config: RunConfig;
  python: string;
  env: Record<string, string | undefined>;
  num_threads?: number;
}): RunRanks {
  const { config, env } = opts;
  const d = config.distributed;
  const strategy: DistStrategy = d.strategy === 'auto' ? 'ddp' : d.strategy;
  const cpu = config.device === 'cpu';
  if (launchedByTorchrun(env)) {
    // torchrun / Slurm started one refit per rank: each starts one worker that joins their group (their env:// values).
    const world = Number(env.WORLD_SIZE),
      rank = Number(env.RANK);
    return {
      layout: {
        nproc_per_node: 1,
        nnodes: world,
        node_rank: rank,
        master_addr: env.MASTER_ADDR ?? '127.0.0.1',
        master_port: Number(env.MASTER_PORT ?? 0),
        backend: d.backend === 'auto' ? (cpu ? 'gloo' : 'auto') : d.backend,
        local_rank_offset: Number(env.LOCAL_RANK ?? 0),
      },
      world,
      strategy,
      env: {},
      threads_per_rank: opts.num_threads,
      reason: `joined the group of RANK ${rank} of WORLD_SIZE ${world} (torchrun or Slurm), ${strategy}`,
    };
  }
  let nproc =
    d.nproc_per_node === 'auto' ? Math.max(1, cpu ? 1 : visibleGpus(opts.python, env)) : d.nproc_per_node;
  const extra: Record<string, string> = {};
  let reason = '';
  const ids = config.device_ids ?? [];
  if (nproc === 1 && ids.length > 1 && !cpu) {
    nproc = ids.length;
    extra.CUDA_VISIBLE_DEVICES = ids.join(',');
    reason = `DeepKE's use_multi_gpu over GPUs ${ids.join(',')}: DDP with one process per GPU (not DataParallel)`;
  }
  if (d.node_rank >= d.nnodes)
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `distributed.node_rank ${d.node_rank} must be below distributed.nnodes ${d.nnodes}`,
    );
  const world = nproc * d.nnodes;
  // One process trains plain unless a strategy is asked for by name: then it runs under DistributedDataParallel in a
  // group of one (what DDP costs on one GPU, measured against plain by bench/gpu-check part d).
  if (world === 1 && d.strategy === 'auto') return { world, strategy, env: extra, reason: 'one process' };
  if (d.nnodes > 1 && !d.master_port)
    throw new ConfigError(
      'E_CONFIG_VALUE',
      'distributed.master_port must be set (the same on every node) when distributed.nnodes > 1',
    );
  const backend = d.backend === 'auto' ? (cpu ? 'gloo' : 'auto') : d.backend;
  if (backend === 'nccl' && cpu)
    throw new ConfigError(
      'E_CONFIG_VALUE',
      'distributed.backend nccl needs CUDA; device=cpu trains with gloo',
    );
  const threads = cpu ? (opts.num_threads ?? defaultThreads({ processes: nproc })) : opts.num_threads;
  return {
    layout: {
      nproc_per_node: nproc,
      nnodes: d.nnodes,
      node_rank: d.node_rank,
      master_addr: d.master_addr,
      master_port: d.master_port,
      backend,
    },
    world,
    strategy,
    env: extra,
    threads_per_rank: threads,
    reason:
      reason ||
      `${world} rank${world > 1 ? 's' : ''} ` +
        `(${nproc} per node × ${d.nnodes} node${d.nnodes > 1 ? 's' : ''}), ${strategy}, ` +
        `${backend === 'auto' ? 'nccl on CUDA, gloo on CPU' : backend}`,
  };
}

/** Ranks already started by torchrun or Slurm (RANK and WORLD_SIZE set): refit would join that group, not start one. */
export function launchedByTorchrun(env: Record<string, string | undefined>): boolean {
  return env.RANK !== undefined && env.WORLD_SIZE !== undefined && Number(env.WORLD_SIZE) > 1;
}

/**
 * This machine only follows (distributed.node_rank ≥ 1, or RANK ≥ 1 under torchrun): it starts its ranks and
 * waits.
 */
export function followsOnly(ranks: RunRanks): boolean {
  return !!ranks.layout && ranks.layout.node_rank > 0;
}

/**
 * A node that is not node 0: starts this machine's ranks, which follow global rank 0's commands, logs them and
 * waits for them; it writes no run folder (only node 0 does). Throws E_WORKER_CRASH naming the rank that failed.
 */
export async function runFollowerNode(opts: {
  config: RunConfig;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}): Promise<void> {
  const { python } = await findPython({ env: opts.env, configured: opts.config.engine.python });
  const ranks = runRanks({ config: opts.config, python, env: opts.env, num_threads: opts.num_threads });
  if (!ranks.layout || !followsOnly(ranks)) throw new Error('runFollowerNode: this machine is node 0');
  opts.log.write(`ranks: ${ranks.reason}; node ${ranks.layout.node_rank} follows rank 0`);
  const r = await runFollowerRanks({
    python,
    env: { ...opts.env, ...ranks.env },
    log: opts.log,
    num_threads: ranks.threads_per_rank,
    ranks: ranks.layout,
  });
  if (r.code !== 0)
    throw new RefitError('E_WORKER_CRASH', `node ${ranks.layout.node_rank}: ${r.detail}; see the log`);
}
