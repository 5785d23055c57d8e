// The torch worker of a saved model, for the predictors of both heads (relation and token): one function starts it,
// loads `<run>/model` for inference (CUDA when the worker has it, SDPA when it can) and stops it again on a failed
// load. What the server needs to keep it alive (lost, pid, ping) comes with it, for both predictors alike.
import type { RunLog } from '../log.ts';
import { findPython, type WorkerProcess } from '../worker/index.ts';
import { inferenceLoad, modelSpec, setupWorker, startWorker, type LoadedModel } from '../session/index.ts';

/** What the server watches on an engine: `lost` resolves when its worker dies or hangs; `ping` checks it is alive. */
export interface Liveness {
  /** Resolves at once when the worker dies or hangs (not on close), with why: the server restarts it then. */
  lost: Promise<Error>;
  /** The worker's process id (undefined in-process: nothing to kill). */
  pid: number | undefined;
  /**
   * Asks the idle worker for a cheap answer; one not given within `timeout_ms` means it hangs: it is killed
   * (and `lost` resolves).
   */
  ping(timeout_ms: number): Promise<void>;
}

/** Starts a worker and loads `model` into it for inference; a failed load stops the worker before it throws. */
export async function openModelWorker(
  model: LoadedModel,
  opts: { env: Record<string, string | undefined>; log: RunLog; num_threads?: number },
): Promise<WorkerProcess> {
  const { python } = await findPython({ env: opts.env });
  const worker = await startWorker({ python, env: opts.env, log: opts.log, num_threads: opts.num_threads });
  const device = worker.ready.capabilities.cuda ? 'cuda' : 'cpu';
  try {
    const load = inferenceLoad(
      { ...modelSpec(model), num_threads: opts.num_threads },
      { device, attention: worker.ready.capabilities.sdpa ? 'sdpa' : 'eager' },
    );
    await setupWorker(worker, { load, datasets: [], restore_from: model.dir });
  } catch (e) {
    await worker.close().catch(() => undefined);
    throw e;
  }
  return worker;
}

/** The liveness of a model worker: its loss, its pid, and a ping that is a cheap `memory` command. */
export function workerLiveness(worker: WorkerProcess): Liveness {
  return {
    lost: worker.lost,
    pid: worker.pid,
    ping: async (timeout_ms) => {
      await worker.request({ type: 'memory' }, { timeout_ms });
    },
  };
}

/** The liveness of an engine in this process (onnxruntime): never lost, no process, nothing that can hang. */
export const IN_PROCESS: Liveness = {
  lost: new Promise(() => undefined),
  pid: undefined,
  ping: async () => undefined,
};
