// The workers of a run, for the stages that need them: starting rank 0 (or the one process), the supervisor that
// relaunches them with the run's load spec, and the shortened training window an OOM may ask for. Not a stage.
import { encodeNerSplit } from '../prepare-ner.ts';
import { join } from 'node:path';
import { RefitError } from '../../errors.ts';
import { parseOomReport } from '../../memory/index.ts';
import { TrainSupervisor, WorkerCrashError, type Levers, type WorkerProcess } from '../../worker/index.ts';
import { loadCommand, setupWorker, startWorker, type LoadSpec } from '../../session/index.ts';
import type { Decision } from '../decide.ts';
import { now } from '../events.ts';
import { cacheDir, encodeSplit } from '../prepare.ts';
import type { LoopState } from '../loop-state.ts';
import type { OpenRun } from './context.ts';

/** Starts the run's worker: one process, or this machine's ranks (rank 0 speaks the protocol). */
export async function startRanks(run: OpenRun): Promise<WorkerProcess> {
  const { opts, ranks } = run;
  try {
    return await startWorker({
      python: run.inputs.python,
      env: { ...opts.env, ...ranks.env },
      log: run.log,
      run_dir: opts.out,
      num_threads: ranks.threads_per_rank ?? opts.num_threads,
      ranks: ranks.layout,
    });
  } catch (e) {
    // Ranks that never formed their group (a node that did not come, a port in use): the worker's own line says why.
    if (ranks.layout && e instanceof WorkerCrashError && e.state === 'starting') {
      const why =
        [...e.stderr_tail]
          .reverse()
          .find((l) => l.includes('refit_worker:'))
          ?.replace(/^.*refit_worker: /, '') ?? e.message;
      throw new RefitError('E_WORKER_CRASH', `the ${ranks.world} ranks could not start: ${why}`);
    }
    throw e;
  }
}

/**
 * memory.allow_shorter_seq: re-encodes the training data with a shorter (still entity-aware) window; NER sentences
 * keep their first sub-tokens.
 */
export async function shortenTrain(
  run: OpenRun,
  max_seq_len: number,
): Promise<{ lengths: Int32Array; dataset: string }> {
  const { inputs } = run;
  const name = `train-${max_seq_len}`;
  const cache_dir = cacheDir({ out: run.opts.out, env: run.opts.env });
  const short = inputs.ner
    ? await encodeNerSplit({
        name,
        sentences: inputs.ner.train,
        tags: inputs.ner.tags,
        text: inputs.text,
        max_seq_len,
        cache_dir,
      })
    : await encodeSplit({
        name,
        examples: inputs.train.examples,
        relations: inputs.splits.relations,
        text: inputs.lm?.text ?? inputs.text,
        max_seq_len,
        cache_dir,
      });
  run.datasets.push({ name, path: short.path });
  return { lengths: short.lengths, dataset: name };
}

/**
 * The supervisor of this run: it launches workers with the run's load spec and reports OOMs and recoveries as
 * events.
 */
export function makeSupervisor(run: OpenRun, spec: LoadSpec, d: Decision, state: LoopState): TrainSupervisor {
  const { opts, inputs, emit } = run;
  const launch = async (levers: Levers, restore_from?: string) => {
    const w = await startRanks(run);
    await setupWorker(w, {
      load: loadCommand(spec, {
        ...d,
        grad_checkpointing: levers.grad_checkpointing,
        offload: levers.offload ?? d.offload,
      }),
      datasets: run.datasets,
      restore_from,
    });
    return w;
  };
  return new TrainSupervisor({
    hooks: {
      launch,
      scratch_dir: join(opts.out, 'checkpoints', 'recovery'),
      parseOom: parseOomReport,
      log: run.log,
      shorten: (n) => shortenTrain(run, n),
      onOom: (e, r) =>
        emit({
          event: 'oom',
          time: now(),
          step: e.step,
          completed_micro_batches: e.completed_micro_batches,
          message: e.message,
          kind: r.kind,
          requested_bytes: r.requested_bytes,
          free_bytes: r.free_bytes,
          memory: e.memory,
          ...(e.rank !== undefined ? { rank: e.rank } : {}),
        }),
      onRecover: (step, a) =>
        emit({
          event: 'recovery',
          time: now(),
          step,
          action: a.kind,
          from: a.from,
          to: a.to,
          reason: a.reason,
        }),
    },
    levers: state.levers,
    policy: {
      batch_size: d.batch_size,
      micro_batch_size: state.levers.micro_batch_size,
      padding: d.padding,
      batching: d.batching,
      max_tokens: d.max_tokens,
      max_seq_len: d.max_seq_len,
    },
    lengths: inputs.train.lengths,
    dataset: 'train',
    ranks: run.ranks.world,
    allow_shorter_seq: inputs.config.memory.allow_shorter_seq,
  });
}
