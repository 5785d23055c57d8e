// DeepKE's own overrides as doctor fixes, for a DeepKE run that does not fit: the largest `batch_size` and
// the most `num_hidden_layers` that fit, each planned as DeepKE runs it (the current run with only that key
// changed). Pure: planMemory for memory, microBatchMs for speed; no I/O.
import { microBatchMs } from '../cost.ts';
import { withLayers } from '../models.ts';
import { planMemory } from '../plan.ts';
import type { GpuSpec, ModelDims, RunShape } from '../types.ts';
import type { Current } from './current.ts';
import type { DoctorFix } from './fixes.ts';
import { formatBytes as fmt } from '../../bytes.ts';

/**
 * The DeepKE overrides that make the run fit `budget` (bytes, the margin taken off) on `gpu`; none when
 * nothing fits.
 */
export function deepkeFixes(o: { cur: Current; gpu: GpuSpec; budget: number }): DoctorFix[] {
  const { cur, gpu, budget } = o;
  const fits = (model: ModelDims, run: RunShape) =>
    planMemory({ model, run, gpu }).peak_device_bytes <= budget;
  const fixes: DoctorFix[] = [];
  const batch = cur.run.batch_size;
  if (cur.run.head === 'token') return nerFixes({ cur, gpu, fits });
  // DeepKE has no gradient accumulation: its batch_size is the batch of every step (memory falls with it).
  for (let b = batch - 1; b >= 1; b--) {
    const run = { ...cur.run, batch_size: b };
    if (!fits(cur.model, run)) continue;
    fixes.push(
      fix({
        key: 'batch_size',
        value: b,
        model: cur.model,
        run,
        gpu,
        title: `In DeepKE: batch_size=${b} (of ${batch})`,
        speed: `smaller steps: ${b} examples each`,
        what:
          `every step takes ${b} examples instead of ${batch} (DeepKE has no gradient accumulation; ` +
          `refit's settings keep ${cur.effective})`,
      }),
    );
    break;
  }
  const layers = cur.model.num_hidden_layers;
  for (let l = layers - 1; l >= 1; l--) {
    const model = withLayers(cur.model, l);
    if (!fits(model, cur.run)) continue;
    fixes.push(
      fix({
        key: 'num_hidden_layers',
        value: l,
        model,
        run: cur.run,
        gpu,
        title: `In DeepKE: num_hidden_layers=${l} (of ${layers})`,
        speed: 'faster, a smaller model',
        what:
          `DeepKE loads only the first ${l} of the ${layers} encoder layers of ${cur.model_name} (its ` +
          `own default is 1)`,
      }),
    );
    break;
  }
  return fixes;
}

/**
 * DeepKE's standard NER (run_bert.py) accumulates: `train_batch_size` is each micro-batch and
 * `gradient_accumulation_steps` of them make a step, so the batch that fits keeps the step (issue #179's advice);
 * its BERT has no num_hidden_layers key.
 */
function nerFixes(o: {
  cur: Current;
  gpu: GpuSpec;
  fits: (model: ModelDims, run: RunShape) => boolean;
}): DoctorFix[] {
  const { cur, gpu } = o;
  const batch = cur.run.batch_size;
  for (let k = 2; k <= batch; k++) {
    const micro = Math.ceil(batch / k);
    const run = { ...cur.run, batch_size: micro };
    if (!o.fits(cur.model, run)) continue;
    return [
      fix({
        deepke: { train_batch_size: micro, gradient_accumulation_steps: k },
        model: cur.model,
        run,
        gpu,
        title: `In DeepKE: train_batch_size=${micro} gradient_accumulation_steps=${k} (of ${batch} × 1)`,
        speed: `the same steps of ${micro * k} examples, ${k} micro-batches each`,
        what: `each step accumulates ${k} micro-batches of ${micro} (${micro * k} examples a step)`,
      }),
    ];
  }
  return [];
}

function fix(o: {
  deepke?: Record<string, number>;
  key?: string;
  value?: number;
  model: ModelDims;
  run: RunShape;
  gpu: GpuSpec;
  title: string;
  speed: string;
  what: string;
}): DoctorFix {
  const peak = planMemory({ model: o.model, run: o.run, gpu: o.gpu }).peak_device_bytes;
  const perSecond = Math.round((o.run.batch_size / microBatchMs(o.model, o.run, o.gpu)) * 1e3 * 10) / 10;
  return {
    title: o.title,
    detail:
      `${o.what}; the rest as DeepKE runs it ` +
      `(batch ${o.run.batch_size} × seq ${o.run.seq_len}, ${o.run.precision}, ${o.run.attention} ` +
      `attention): predicted peak ${fmt(peak)} on the device.`,
    speed: o.speed,
    deepke: o.deepke ?? { [o.key!]: o.value! },
    ...(o.run.head === 'token' ? { deepke_script: 'run_bert.py' } : {}),
    predicted_peak_bytes: peak,
    predicted_examples_per_s: perSecond,
    fits: true,
  };
}

/**
 * DeepKE's use_multi_gpu is nn.DataParallel: one process, GPU 0 holds the whole batch's inputs and gathered outputs,
 * the reduced gradients and the whole optimizer, so it runs out first. refit trains the same GPUs as DDP (one process
 * per GPU, each with 1/n of the batch and its own copy of the states): the per-GPU peak, planned per rank. Undefined
 * without DataParallel.
 */
export function dataParallelFix(o: {
  cur: Current;
  gpu: GpuSpec;
  budget: number;
  gpu0_peak: number;
}): DoctorFix | undefined {
  const n = o.cur.run.data_parallel ?? 1;
  if (n < 2) return undefined;
  // ddp or zero1, whichever plans lower per GPU (zero1 shards the optimizer states).
  const plans = (['ddp', 'zero1'] as const)
    .map((strategy) => {
      const run: RunShape = {
        ...o.cur.run,
        data_parallel: undefined,
        ranks: n,
        strategy,
        batch_size: Math.ceil(o.cur.run.batch_size / n),
      };
      return { strategy, run, peak: planMemory({ model: o.cur.model, run, gpu: o.gpu }).peak_device_bytes };
    })
    .sort((a, b) => a.peak - b.peak);
  const { strategy, run, peak } = plans[0];
  return {
    title:
      `Train on the ${n} GPUs with one process each instead of DataParallel (refit train -c CONFIG ` +
      `distributed.nproc_per_node=${n} distributed.strategy=${strategy})`,
    detail:
      `DeepKE's use_multi_gpu wraps the model in nn.DataParallel: one process whose GPU 0 receives the ` +
      `whole batch's inputs, ` +
      `gathers every replica's outputs, holds the reduced gradients and the whole optimizer, so GPU 0 ` +
      `needs ${fmt(o.gpu0_peak)} while the ` +
      `others need far less. With torch.distributed each GPU runs its own process with ${run.batch_size} ` +
      `of the ${o.cur.run.batch_size} examples ` +
      `and the same share of the work: ${fmt(peak)} on every GPU with ${strategy} (planned per rank, ` +
      `gradient buckets included` +
      `${strategy === 'zero1' ? `; zero1 keeps 1/${n} of the optimizer states per GPU` : ''}). ` +
      'refit trains use_multi_gpu + gpu_ids with one process per GPU by itself.',
    speed: 'faster (no scatter/gather through GPU 0, no replication every step)',
    config: { 'distributed.nproc_per_node': n, 'distributed.strategy': strategy },
    predicted_peak_bytes: peak,
    fits: peak <= o.budget,
  };
}
