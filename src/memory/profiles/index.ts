// The engine profiles, one entry per engine. Add an engine by adding a file and a line here.
import type { Engine, EngineProfile } from '../types.ts';
import { HF_PROFILE } from './hf.ts';
import { REFIT_PROFILE } from './refit.ts';

/** Every engine profile by name. */
export const PROFILES: Readonly<Record<Engine, EngineProfile>> = Object.freeze({
  hf: HF_PROFILE,
  refit: REFIT_PROFILE,
});

export { hfTraits } from './hf.ts';
export { refitTraits } from './refit.ts';
export {
  exactTerms,
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
