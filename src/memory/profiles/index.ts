// The engine profiles, one entry per engine. Add an engine by adding a file and a line here.
import type { Engine, EngineProfile, RnnShape, RunShape } from '../types.ts';
import { HF_PROFILE, hfTraits } from './hf.ts';
import { REFIT_PROFILE, refitTraits } from './refit.ts';
import type { EngineTraits } from './terms.ts';

/** Every engine profile by name. */
export const PROFILES: Readonly<Record<Engine, EngineProfile>> = Object.freeze({
  hf: HF_PROFILE,
  refit: REFIT_PROFILE,
});

/** Every engine's traits by name (its head's tensors, buffers, AdamW temporary): what the cost model reads. */
export const ENGINE_TRAITS: Readonly<
  Record<Engine, (head?: NonNullable<RunShape['head']>, rnn?: RnnShape) => EngineTraits>
> = Object.freeze({ hf: hfTraits, refit: refitTraits });

export { hfTraits } from './hf.ts';
export { refitTraits } from './refit.ts';
export {
  exactTerms,
  offloads,
  trainableTensors,
  rnnHeadShape,
  rnnActivationBytes,
  tokenHeadBytes,
  DEEPKE_LM_RNN,
  trainFeatures,
  inferFeatures,
  actClass,
  inferClass,
  type ActClass,
  type InferClass,
  type EngineTraits,
  type ExactTerms,
} from './terms.ts';
export {
  backwardFixed,
  stepPeak,
  inferFixed,
  estimateWith,
  DEFAULT_COEFFICIENTS,
  type Coefficients,
} from './estimate.ts';
export * as COEFFICIENTS from './coefficients.ts';
