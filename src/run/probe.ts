// The CUDA probe: a few real steps at the worst-case shape (the longest micro-batch the plan can produce) measure
// what the plan predicted; when the measured peak does not fit the budget, the micro-batch is halved and re-probed.
// Only runs on CUDA (a CPU has no budget to probe). The model is reloaded afterwards, so probing changes no weights.
import type { RunLog } from '../log.ts';
import type { TrainSupervisor, SupervisedWorker } from '../worker/index.ts';
import type { LoadCommand } from '../worker/protocol.ts';
import { paddedLength } from '../batch/index.ts';
import { setupWorker } from '../session/index.ts';
import { memoryPeak } from './train-loop.ts';

/** Probe steps per tried micro-batch size (the first warms the allocator, the second measures). */
export const PROBE_STEPS = 2;
/** The measured peak must stay under this share of the budget, or the micro-batch is halved. */
export const PROBE_HEADROOM = 0.95;

/** What plan.json records about the probe. */
export interface ProbeRecord {
  tried: Array<{ micro_batch_size: number; seq_len: number; peak_bytes: number | null; oom: boolean }>;
  budget_bytes: number | null;
  chosen_micro_batch_size: number;
}

/** Probes the worst-case micro-batch on `worker` and sets `sup`'s micro-batch to the largest that fits. */
export async function probePlan(opts: {
  worker: SupervisedWorker;
  load: LoadCommand;
  datasets: Array<{ name: string; path: string }>;
  sup: TrainSupervisor;
  lengths: ArrayLike<number>;
  log: RunLog;
}): Promise<ProbeRecord> {
  const { sup } = opts;
  const budget = opts.load.budget_bytes ?? null;
  const longest = Array.from({ length: opts.lengths.length }, (_, i) => i).sort(
    (a, b) => opts.lengths[b] - opts.lengths[a],
  );
  const record: ProbeRecord = {
    tried: [],
    budget_bytes: budget,
    chosen_micro_batch_size: sup.levers.micro_batch_size,
  };
  await setupWorker(opts.worker, { load: opts.load, datasets: opts.datasets });
  for (let micro = sup.levers.micro_batch_size; micro >= 1; micro = Math.floor(micro / 2)) {
    const indices = longest.slice(0, Math.min(micro, longest.length));
    const mb = {
      indices,
      seq_len: paddedLength({
        indices,
        lengths: opts.lengths,
        padding: sup.policy.padding,
        max_seq_len: sup.policy.max_seq_len,
      }),
    };
    await opts.worker.request({ type: 'memory', reset_peak: true });
    let peak: number | null = null;
    let oom = false;
    for (let s = 1; s <= PROBE_STEPS && !oom; s++) {
      const ev = await opts.worker.request({
        type: 'train_step',
        step: s,
        dataset: 'train',
        logical_batch_size: indices.length,
        micro_batches: [mb],
      });
      if (ev.type === 'oom') oom = true;
      else if (ev.type === 'step') peak = memoryPeak(ev.memory);
      else
        throw new Error(`probe: worker answered ${ev.type}${ev.type === 'error' ? `: ${ev.message}` : ''}`);
    }
    record.tried.push({ micro_batch_size: micro, seq_len: mb.seq_len, peak_bytes: peak, oom });
    opts.log.write(`probe: micro-batch ${micro} at ${mb.seq_len} tokens → ${oom ? 'OOM' : `${peak} B`}`);
    if (!oom && (budget === null || (peak ?? 0) <= PROBE_HEADROOM * budget)) {
      record.chosen_micro_batch_size = micro;
      break;
    }
    if (micro === 1) {
      record.chosen_micro_batch_size = 1;
      break;
    }
  }
  sup.setMicro(record.chosen_micro_batch_size, { keep_tokens: true });
  return record;
}
