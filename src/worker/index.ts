// The worker folder's surface: the protocol types, finding a Python with torch, the worker process
// and the training supervisor. Other folders import from here only.
export * from './protocol.ts';
export {
  findPython,
  pythonCandidates,
  cleanEnv,
  DEFAULT_PYTHON_CANDIDATES,
  PYTHON_PROBE_TIMEOUT_MS,
  type FoundPython,
  type FindPythonOptions,
} from './python.ts';
export {
  WorkerProcess,
  WorkerCrashError,
  workerPythonPath,
  fsdpUnsupported,
  WORKER_START_TIMEOUT_MS,
  SIGKILL_GRACE_MS,
  STDERR_TAIL_LINES,
  type WorkerState,
  type WorkerStartOptions,
} from './process.ts';
export { defaultThreads, MAX_DEFAULT_THREADS, type ThreadsInput } from './threads.ts';
export { freePort, rankEnvs, runFollowerRanks, worldSize, type RankLayout } from './process.ts';
export * from './supervisor.ts';
