// The training surface: runTraining, the memory decision, the out folder's policy, resume and import-deepke. Commands
// import from here; what training shares with inference (worker session, evaluation, run and model folders) is
// session/, and prediction, eval and export are infer/.
export { runTraining } from './train.ts';
export { CHECKPOINT_EVERY_STEPS, type TrainOptions, type TrainResult } from './stages/context.ts';
export { importDeepke, type ImportOptions, type ImportResult } from './import-deepke.ts';
export { prepareOutDir, assertResumable } from './files.ts';
export { decideMemory, resolveDevice, type Decision, type PlanFile } from './decide.ts';
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
export { RESUME_SAFE, RESUME_REFUSED, checkResumeChanges } from './resume-config.ts';
