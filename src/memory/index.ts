// The memory part's surface: model shapes, GPUs, engine profiles, plan, fit and the cost model. The calibration
// helpers (calibrate.ts, golden.ts) are the benchmarks' and tests' only, imported from their files.
export type { RankBreakdown } from './types.ts';
export {
  STRATEGIES,
  BACKENDS,
  FSDP_NO_FP16,
  strategyTrains,
  type DistributedConfig,
  type Strategy,
  type Backend,
} from './distributed-levers.ts';
export {
  LORA_TARGETS,
  LORA_DEFAULT_TARGETS,
  LORA_FIT_RANK,
  type LoraConfig,
  type LoraTarget,
} from './lora-levers.ts';
export { rankTerms, DIST_BUCKET_BYTES, hostStepBytes } from './profiles/estimate.ts';
export type {
  ModelDims,
  RunShape,
  RnnShape,
  GpuSpec,
  MemoryPlan,
  MemoryBreakdown,
  HostBytes,
  FitResult,
  FitCandidate,
  EngineProfile,
  ProfileEstimate,
  Precision,
  Attention,
  Optimizer,
  Engine,
} from './types.ts';
export {
  LEVERS,
  FIT_LEVERS,
  RECOVERY_LEVERS,
  ADVICE_LEVERS,
  DECISION_LEVERS,
  LOAD_LEVERS,
  lever,
  loadLevers,
  chooseRecovery,
  MIN_SEQ_LEN,
  PRECISIONS,
  ATTENTIONS,
  OPTIMIZERS,
  PADDINGS,
  OFFLOADS,
  BATCHINGS,
  MEMORY_MODES,
  type Lever,
  type LeverFlag,
  type MemoryConfig,
  type LoadLevers,
  type RunLevers,
  type FitLevers,
  type LeverAdvice,
  type Padding,
  type Offload,
  type Batching,
  type MemoryMode,
  type RecoveryLevers,
  type RecoveryAction,
  type RecoveryInput,
  type OomNumbers,
} from './levers.ts';
export { PRESETS, DEFAULT_VOCAB_SIZE, validateDims, checkSeqLen, withLayers } from './models.ts';
export { loadModelDims, modelFromConfig } from './model-files.ts';
export {
  runShapeOf,
  planConfig,
  plainConfig,
  configFacts,
  worldOf,
  headShape,
  deepkeFacts,
  DEEPKE_PADDED_LENGTH,
  DEFAULT_NUM_LABELS,
  type ShapeConfig,
  type ShapeFacts,
  type ShapeDevice,
  type ConfigShape,
  type ResolvedShapeConfig,
} from './run-shape.ts';
export { KNOWN_MODELS, knownModelDims } from './known-models.ts';
export { GPUS, hostLink, resolveGpu, parseSize } from './gpus.ts';
export {
  paramTensors,
  countParams,
  tensorBytes,
  roundAlloc,
  ALLOC_ROUND_BYTES,
  type ParamTensor,
  type HeadShape,
  type RnnHeadShape,
} from './params.ts';
export {
  PROFILES,
  hfTraits,
  refitTraits,
  rnnHeadShape,
  rnnActivationBytes,
  tokenHeadBytes,
  DEEPKE_LM_RNN,
  exactTerms,
  trainFeatures,
  inferFeatures,
  actClass,
  estimateWith,
  DEFAULT_COEFFICIENTS,
  COEFFICIENTS,
  type ActClass,
  type Coefficients,
} from './profiles/index.ts';
export { planMemory, reservedFromAllocated, validateRun } from './plan.ts';
export {
  fitConfig,
  configAllow,
  valueAt,
  withValue,
  expectedPaddedLength,
  DEFAULT_MARGIN,
  type FitAllow,
  type FitOptions,
} from './fit.ts';
export {
  HOST_MEMORY_GBS,
  OPTIMIZER_STEP,
  microBatchMs,
  offloadMs,
  optimizerStepMs,
  trainFlopsPerToken,
} from './cost.ts';
export { formatBytes } from '../bytes.ts';
// The OOM doctor (src/memory/doctor): its parse/diagnose surface, re-exported by name.
export {
  parseOomReport,
  findOomReports,
  diagnose,
  runDoctor,
  doctorJson,
  type OomReport,
  type OomKind,
  type Diagnosis,
  type DoctorResult,
} from './doctor/index.ts';
