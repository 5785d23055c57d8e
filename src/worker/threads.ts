// The default number of CPU threads for a model: the torch worker's intra-op threads (train, eval, predict, serve, a
// rank's share) and onnxruntime's intra-op threads (predict, serve, export's int8 check). One rule, read everywhere.
// Pure but for reading the machine's cores and load average when they are not given.
import { availableParallelism, loadavg } from 'node:os';

/**
 * Threads a model's maths gains nothing from past, on CPU: onnxruntime's BERT batches stop scaling there, and the
 * machines measured (bench/results/threads.md) never reach it. A caller that knows better passes --threads.
 */
export const MAX_DEFAULT_THREADS = 4;

/** What the default is computed from; each is read from the machine when left out. */
export interface ThreadsInput {
  /** Cores this process may run on (os.availableParallelism). */
  cores?: number;
  /** The 1-minute load average: runnable processes already competing for those cores (os.loadavg()[0]). */
  load?: number;
  /** Processes of this run sharing the cores (ranks on this node); each gets its share. */
  processes?: number;
  /** Cores left to other work of the same command (serve keeps one for its HTTP process). */
  reserve?: number;
}

/**
 * The default CPU threads of one model process: the cores nobody else is using (cores − round(load) − reserve),
 * shared among `processes`, at least 1 and at most MAX_DEFAULT_THREADS. Measured (bench/results/threads.md): a thread
 * more than the free cores costs up to 10× per step (intra-op threads wait on one that is not scheduled), while a free
 * core left unused costs at most what it would add; so never more threads than free cores.
 */
export function defaultThreads(input: ThreadsInput = {}): number {
  const cores = input.cores ?? availableParallelism();
  const load = input.load ?? loadavg()[0];
  const free = cores - Math.round(load) - (input.reserve ?? 0);
  const share = Math.floor(free / Math.max(1, input.processes ?? 1));
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, share));
}
