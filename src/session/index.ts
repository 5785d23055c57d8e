// The layer below training (run/) and inference (infer/) that both use: the worker session (starting a worker, the
// load command, one command and its answer), evaluation logits and scores, the run folder's files and the model
// folder. It imports neither run/ nor infer/.
export {
  bertConfig,
  expect,
  headSpec,
  inferenceLoad,
  loadCommand,
  loraSpec,
  setupWorker,
  startWorker,
  type LoadSpec,
} from './worker-session.ts';
export {
  EVAL_BATCH_SIZE,
  argmax,
  evalAnswer,
  evalLogits,
  inExampleOrder,
  scoreLogits,
  softmax,
  type EvalRequest,
} from './evaluate.ts';
export {
  evalTokenTags,
  meanTokenLoss,
  scoreTokenTags,
  tokenTags,
  wordTags,
  type NerScore,
  type TokenTags,
} from './ner-eval.ts';
export { runPaths, readJson, writeJsonAtomic, writeTextAtomic, appendJsonLine } from './run-files.ts';
export {
  readModelFolder,
  writeModelFolder,
  modelSpec,
  type RefitJson,
  type NerTokens,
  type LoadedModel,
} from './model-folder.ts';
export { checkSafetensors, checkModelWeights } from './weights-check.ts';
export {
  MANIFEST_FILE,
  fingerprint,
  readManifest,
  refreshManifest,
  relationDifference,
  relationFacts,
  sha256File,
  sha256Text,
  verifyFolder,
  writeManifest,
  type FileFingerprint,
  type Manifest,
  type ManifestFacts,
} from './manifest.ts';
export type { TextSide } from './text-side.ts';
export { resolveDataPaths } from './data-paths.ts';
