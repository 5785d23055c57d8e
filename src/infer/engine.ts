// Which engine predicts for a run: onnxruntime-node in-process when model/model.onnx is there (no Python), else the
// torch worker; `--engine` forces one. The only place that picks between them.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { readModelFolder } from '../session/index.ts';
import { ONNX_FILE } from './onnx-runtime.ts';
import { openOnnxPredictor } from './onnx-predictor.ts';
import { openPredictor } from './predictor.ts';
import type { Predictor, PredictItem } from './predict-item.ts';
import { predictDefaults, type PredictDefaults } from './predict-defaults.ts';

/** The prediction engines: `onnx` (onnxruntime-node, CPU) and `torch` (the Python worker, CPU or CUDA). */
export const ENGINES = ['onnx', 'torch'] as const;
export type Engine = (typeof ENGINES)[number];

/** The engine used for a run: `requested`, else onnx when the run's model has model.onnx, else torch. */
export function chooseEngine(run_dir: string, requested?: Engine): Engine {
  const model = readModelFolder(run_dir);
  const onnx = join(model.dir, ONNX_FILE);
  if (requested === 'onnx' && !existsSync(onnx)) {
    throw new RefitError(
      'E_NO_ONNX',
      `${onnx}: missing — export it first (refit export --run ${run_dir}) or predict with --engine torch`,
    );
  }
  return requested ?? (existsSync(onnx) ? 'onnx' : 'torch');
}

/**
 * Opens a Predictor for the run with the chosen engine. A call that leaves out top_k or na_threshold gets the run's
 * own (predictDefaults, read once here), so `refit predict` and the server answer alike.
 */
export async function openRunPredictor(opts: {
  run_dir: string;
  engine?: Engine;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}): Promise<Predictor & { engine: Engine; defaults: PredictDefaults }> {
  const engine = chooseEngine(opts.run_dir, opts.engine);
  const defaults = predictDefaults(opts.run_dir);
  const p = engine === 'onnx' ? await openOnnxPredictor(opts) : await openPredictor(opts);
  const predict = p.predict.bind(p);
  return Object.assign(p, {
    engine,
    defaults,
    predict: (items: PredictItem[], o: { top_k?: number; na_threshold?: number } = {}) =>
      predict(items, {
        top_k: o.top_k ?? defaults.top_k,
        na_threshold: o.na_threshold ?? defaults.na_threshold,
      }),
  });
}

/** Parses an --engine value; anything else is one line (exit 2). */
export function parseEngine(flag: string, text: string | undefined): Engine | undefined {
  if (text === undefined) return undefined;
  if ((ENGINES as readonly string[]).includes(text)) return text as Engine;
  throw new RefitError('E_CLI_OPTION', `${flag} ${text}: expected one of ${ENGINES.join(', ')}`);
}
