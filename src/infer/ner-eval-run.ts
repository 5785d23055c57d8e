// `refit eval` of an NER run: the run's model on any NER file, through the one NER predict path (either engine),
// its entities scored against the file's as seqeval's default mode does (the same block as metrics.json's entity).
import { entitySpans, readNerDataset } from '../data/index.ts';
import { spanMetrics, type EntityMetricBlock } from '../metrics/index.ts';
import type { Engine } from './engine.ts';
import { openNerPredictor } from './ner-engines.ts';
import type { EvalRunOptions } from './run-eval.ts';

/** Entity scores of the run's model on `data` (an NER file: its sentences' text in, its tags as gold). */
export async function evaluateNerRun(
  opts: EvalRunOptions,
): Promise<{ entity: EntityMetricBlock; n: number; engine: Engine }> {
  const gold = await readNerDataset({ path: opts.data, format: opts.format, on_bad_row: 'error' });
  const predictor = await openNerPredictor(opts);
  try {
    const pred = await predictor.entities(gold.sentences.map((s) => s.text));
    const entity = spanMetrics({ gold: gold.sentences.map((s) => entitySpans(s)), pred });
    return { entity, n: gold.sentences.length, engine: predictor.engine };
  } finally {
    await predictor.close();
  }
}
