// DeepKE's own overrides as doctor fixes, for a DeepKE run that does not fit: the largest `batch_size` and
// the most `num_hidden_layers` that fit, each planned as DeepKE runs it (the current run with only that key
// changed). Pure: planMemory for memory, microBatchMs for speed; no I/O.
import { microBatchMs } from '../cost.ts';
import { withLayers } from '../models.ts';
import { planMemory } from '../plan.ts';
import type { GpuSpec, ModelDims, RunShape } from '../types.ts';
import type { Current } from './config-fixes.ts';
import type { DoctorFix } from './fixes.ts';
import { formatBytes as fmt } from '../../bytes.ts';

/** The DeepKE overrides that make the run fit `budget` (bytes, the margin taken off) on `gpu`; none when nothing fits. */
export function deepkeFixes(o: { cur: Current; gpu: GpuSpec; budget: number }): DoctorFix[] {
  const { cur, gpu, budget } = o;
  const fits = (model: ModelDims, run: RunShape) => planMemory({ model, run, gpu }).peak_device_bytes <= budget;
  const fixes: DoctorFix[] = [];
  const batch = cur.run.batch_size;
  // DeepKE has no gradient accumulation: its batch_size is the batch of every step (memory falls with it).
  for (let b = batch - 1; b >= 1; b--) {
    const run = { ...cur.run, batch_size: b };
    if (!fits(cur.model, run)) continue;
    fixes.push(fix({ key: 'batch_size', value: b, model: cur.model, run, gpu,
      title: `In DeepKE: batch_size=${b} (of ${batch})`,
      speed: `smaller steps: ${b} examples each`,
      what: `every step takes ${b} examples instead of ${batch} (DeepKE has no gradient accumulation; refit's settings keep ${cur.effective})` }));
    break;
  }
  const layers = cur.model.num_hidden_layers;
  for (let l = layers - 1; l >= 1; l--) {
    const model = withLayers(cur.model, l);
    if (!fits(model, cur.run)) continue;
    fixes.push(fix({ key: 'num_hidden_layers', value: l, model, run: cur.run, gpu,
      title: `In DeepKE: num_hidden_layers=${l} (of ${layers})`,
      speed: 'faster, a smaller model',
      what: `DeepKE loads only the first ${l} of the ${layers} encoder layers of ${cur.model_name} (its own default is 1)` }));
    break;
  }
  return fixes;
}

function fix(o: { key: string; value: number; model: ModelDims; run: RunShape; gpu: GpuSpec; title: string; speed: string; what: string }): DoctorFix {
  const peak = planMemory({ model: o.model, run: o.run, gpu: o.gpu }).peak_device_bytes;
  const perSecond = Math.round((o.run.batch_size / microBatchMs(o.model, o.run, o.gpu)) * 1e3 * 10) / 10;
  return {
    title: o.title,
    detail: `${o.what}; the rest as DeepKE runs it `
      + `(batch ${o.run.batch_size} × seq ${o.run.seq_len}, ${o.run.precision}, ${o.run.attention} attention): predicted peak ${fmt(peak)} on the device.`,
    speed: o.speed, deepke: { [o.key]: o.value }, predicted_peak_bytes: peak, predicted_examples_per_s: perSecond, fits: true,
  };
}
