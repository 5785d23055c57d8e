// The training surface: runTraining, the memory decision, run folders, and the worker session and eval logits that
// infer/ shares. Commands and the server import from here; prediction, eval and export are infer/ (infer/index.ts).
export { runTraining, CHECKPOINT_EVERY_STEPS, type TrainOptions, type TrainResult } from './train.ts';
export { importDeepke, type ImportOptions, type ImportResult } from './import-deepke.ts';
export { runPaths, prepareOutDir, assertResumable, writeJsonAtomic, writeTextAtomic } from './files.ts';
export { decideMemory, resolveDevice, worstSeqLen, type Decision, type PlanFile } from './decide.ts';
export {
  dispatchEvent,
  type Reporter,
  type RunEvent,
  type StepRunEvent,
  type EvalRunEvent,
  type RunStartEvent,
  type RunEndEvent,
} from './events.ts';
export type { RunMetrics } from './finish.ts';
export { StopRequest, InterruptedError, signalExitCode } from './interrupt.ts';
export { lockRunFolder, LOCK_FILE, type RunLock } from './lock.ts';
export { checkFileTarget, checkFolderTarget } from './out-paths.ts';
export { checkSafetensors, checkModelWeights } from './weights-check.ts';
export { RESUME_SAFE, RESUME_REFUSED, checkResumeChanges } from './resume-config.ts';
export { EVAL_BATCH_SIZE, argmax, evalLogits, scoreLogits, softmax } from './evaluate.ts';
export { readJson } from './files.ts';
export { type TextSide, resolveDataPaths } from './prepare.ts';
export { expect, inferenceLoad, loadCommand, setupWorker, startWorker } from './session.ts';
