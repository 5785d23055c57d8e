// Batch planning surface: logical batches, micro-batch splits, padded shapes, re-splitting after an OOM.
export {
  type BatchPolicy,
  BUCKET_CHUNK_BATCHES,
  stepsPerEpoch,
  planEpoch,
  splitLogicalBatch,
  resplitRemaining,
  planEvalBatches,
  countTokens,
} from './plan.ts';
export { roundSeqLen, paddedLength, SMALL_SEQ_STEP, SMALL_SEQ_LIMIT, LARGE_SEQ_STEP } from './shapes.ts';
export { seededRandom, shuffleInPlace, epochSeed } from './rng.ts';
