// Where the ranks of a run are (design §8): the layout of local worker processes and PyTorch's env:// variables of
// each (as torchrun sets them). Starts nothing: spawn.ts and process.ts do.
import { createServer } from 'node:net';

/**
 * Several ranks (design §8): this machine starts `nproc_per_node` worker processes with PyTorch's env://
 * variables. Global rank 0 speaks the protocol; the others follow its commands (broadcast) and only log.
 */
export interface RankLayout {
  nproc_per_node: number;
  nnodes: number;
  node_rank: number;
  master_addr: string;
  /** 0: a free port is picked (one machine only). */
  master_port: number;
  /** auto | nccl | gloo, passed to the workers as REFIT_DIST_BACKEND. */
  backend: string;
  /**
   * Added to each local rank's LOCAL_RANK (torchrun/Slurm: this process's own LOCAL_RANK; one rank per refit
   * process).
   */
  local_rank_offset?: number;
}

/** The world size of a layout (1 without one). */
export function worldSize(r: RankLayout | undefined): number {
  return r ? r.nproc_per_node * r.nnodes : 1;
}

/** A TCP port that was free a moment ago on this machine (for MASTER_PORT). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => done(port));
    });
  });
}

/** The environment of each local rank: PyTorch's env:// variables (as torchrun sets them) on top of `env`. */
export function rankEnvs(r: RankLayout, port: number): Array<{ rank: number; env: Record<string, string> }> {
  const world = worldSize(r);
  return Array.from({ length: r.nproc_per_node }, (_, local) => {
    const rank = r.node_rank * r.nproc_per_node + local;
    return {
      rank,
      env: {
        RANK: String(rank),
        LOCAL_RANK: String(local + (r.local_rank_offset ?? 0)),
        WORLD_SIZE: String(world),
        LOCAL_WORLD_SIZE: String(r.nproc_per_node),
        MASTER_ADDR: r.master_addr,
        MASTER_PORT: String(port),
        REFIT_DIST_BACKEND: r.backend,
      },
    };
  });
}
