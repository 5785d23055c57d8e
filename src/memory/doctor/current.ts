// The run `refit doctor -c CONFIG` plans from: the config and its facts as `refit plan -c` reads them (configFacts,
// planConfig), with what the fixes search over. Below both config-fixes.ts and deepke-fixes.ts (no import circle).
import { existsSync } from 'node:fs';
import type { ResolvedConfig, RunConfig } from '../../config/index.ts';
import { knownModelDims } from '../known-models.ts';
import { modelFromConfig } from '../model-files.ts';
import { configFacts, runShapeOf, type ShapeFacts } from '../run-shape.ts';
import type { Engine, ModelDims, RunShape } from '../types.ts';

/**
 * The run the doctor plans from: the config and its facts (what fit searches over), the model, the run shape (at the
 * longest padded batch), effective batch, padding, the window fixes search over (memory.max_seq_len, or the fixed
 * padded length) and what was read as what.
 */
export interface Current {
  config: RunConfig;
  facts: ShapeFacts;
  model: ModelDims;
  model_name: string;
  run: RunShape;
  effective: number;
  padding: 'dynamic' | 'max';
  window: number;
  lengths?: number[];
  assumed: string[];
  /** DeepKE's run (the hf engine on a conf folder or DeepKE's LM head): its own overrides are fixes too */
  deepke: boolean;
}

/**
 * The run the config describes, as `refit plan -c` reads it (configFacts, runShapeOf): `auto` levers as a plain run of
 * the engine, DeepKE's facts for the hf engine (every batch padded to 512 without a length in the config,
 * use_multi_gpu's DataParallel over device_ids), dynamic padding at the longest of `lengths` when given.
 */
export function currentRun(resolved: ResolvedConfig, engine: Engine, lengths: number[] | undefined): Current {
  const config = resolved.config;
  const spec = config.model.pretrained ?? config.model.preset ?? 'bert-base';
  const model = modelFromConfig(config);
  const facts = configFacts(resolved, { engine, lengths, config_file: true });
  const shape = runShapeOf(config, facts);
  // DeepKE's overrides are fixes only for the run DeepKE makes of it (hf), not for refit's own run of the conf.
  const deepke = engine === 'hf' && (resolved.hydra !== undefined || config.model.head === 'deepke-lm');
  return {
    config,
    facts,
    model,
    model_name: existsSync(spec) ? spec : (knownModelDims(spec)?.id ?? spec),
    run: shape.run,
    effective: shape.effective_batch,
    padding: shape.padding,
    window: shape.padding === 'max' ? shape.run.seq_len : config.memory.max_seq_len,
    lengths,
    assumed: shape.assumed,
    deepke,
  };
}
