// What the stages of one training run share: the caller's options and one run context that each stage widens
// with what it produced (inputs, then the open folder, then the decision and the workers). Types only, and the
// context's constructor; the stages themselves are the other files in this folder.
import { existsSync } from 'node:fs';
import { RunLog } from '../../log.ts';
import type { RunConfig } from '../../config/index.ts';
import type { ModelDims } from '../../memory/index.ts';
import type { TrainSupervisor, WorkerProcess } from '../../worker/index.ts';
import type { LoadSpec, TextSide } from '../../session/index.ts';
import type { Decision, PlanFile } from '../decide.ts';
import type { DeepkeLmRun } from '../deepke-lm.ts';
import type { Reporter, RunEvent } from '../events.ts';
import type { RunMetrics } from '../finish.ts';
import { StopRequest } from '../interrupt.ts';
import type { RunLock } from '../lock.ts';
import type { EncodedSplit, readSplits } from '../prepare.ts';
import type { NerSplits } from '../prepare-ner.ts';
import type { RunRanks } from '../ranks.ts';
import type { ResumeChange } from '../resume-config.ts';
import type { ResumePoint } from '../checkpoints.ts';
import type { LoopState } from '../loop-state.ts';

/** Checkpoint `last` every this many optimizer steps (and at each epoch end), so a crash loses little. */
export const CHECKPOINT_EVERY_STEPS = 200;

/** Options of one training run. */
export interface TrainOptions {
  config: RunConfig;
  out: string;
  resume?: boolean;
  force?: boolean;
  env: Record<string, string | undefined>;
  reporters?: Reporter[];
  num_threads?: number;
  checkpoint_every?: number;
  /** Dropout override (default BERT's 0.1); tests use 0 to compare runs whose micro-batch splits differ. */
  dropout?: number;
  /** Called with the run's log (refit.log) once the run folder exists, so callers can point errors at it. */
  on_log?: (log: RunLog) => void;
  /** Worker crashes tolerated before the run fails (default MAX_RESTARTS). */
  max_restarts?: number;
  /** Set by the caller on Ctrl-C / SIGTERM: the run stops at its next safe point, keeping a checkpoint. */
  stop?: StopRequest;
  /** Lines for the user at the start of a run (the deepke-lm head's notes); they also go to refit.log. */
  notice?: (line: string) => void;
  /**
   * Writes the run's report.html (the CLI passes report/writeReport: the core never imports report/). Called at the end
   * of every run that leaves a run folder (config.yaml), finished, failed or interrupted, after its lock is released;
   * a report that cannot be written is a line in refit.log, never the reason a run fails.
   */
  write_report?: (run_dir: string) => Promise<unknown>;
}

/** The result of a finished run: its folder and metrics. */
export interface TrainResult {
  run_dir: string;
  metrics: RunMetrics;
  plan: PlanFile;
}

/** The inputs of a run, read, sized and encoded before anything is written into the out folder. */
export interface RunInputs {
  /** The config as trained: a default batch larger than the training set is lowered to it. */
  config: RunConfig;
  /** The relation splits; for task: ner, `relations` holds the tag list as label names and the rest is empty. */
  splits: Awaited<ReturnType<typeof readSplits>>;
  /** task: ner: the NER splits and the tag list. */
  ner?: NerSplits;
  text: TextSide;
  train: EncodedSplit;
  valid: EncodedSplit | null;
  test: EncodedSplit | null;
  /** deepke-lm with gold-relation entity types: the test split with the mentions kept as text. */
  test_untyped: EncodedSplit | null;
  lm: DeepkeLmRun | undefined;
  dims: ModelDims;
  python: string;
}

/** One run from its start: what the caller asked and what the run must undo or record whatever happens. */
export interface RunContext {
  readonly opts: TrainOptions;
  readonly stop: StopRequest;
  /** The run's log before refit.log exists (its lines are copied into refit.log when the folder opens). */
  readonly pre: RunLog;
  /** The out folder did not exist before this run (a run that trains nothing removes it again). */
  readonly created_out: boolean;
  /** The folder's run files are this run's: a new run past prepareOutDir. */
  owned: boolean;
  /** At least one optimizer step finished (the folder is then kept whatever happens). */
  trained: boolean;
  lock?: RunLock;
}

/** After prepareInputs. */
export interface PreparedRun extends RunContext {
  inputs: RunInputs;
}

/** After openFolder: the run's folder is locked and its log and events are written. */
export interface OpenRun extends PreparedRun {
  mode: 'new' | 'resume';
  /** The safe config changes a resume was allowed (resume-config.ts). */
  changes: ResumeChange[];
  /** What a `--resume --force` continued despite (run-manifest.ts): recorded in the resume event. */
  forced: string[];
  log: RunLog;
  /** Appends an event to events.jsonl and hands it to the reporters. */
  emit(e: RunEvent): void;
  /** run_end is written (by emit or by the second Ctrl-C). */
  ended: boolean;
  /** The encoded datasets the workers open (a shortened window adds one). */
  datasets: Array<{ name: string; path: string }>;
  ranks: RunRanks;
  opened_ms: number;
  /** The first worker (rank 0 of the ranks), set as soon as it is started so that the run's end closes it. */
  first?: WorkerProcess;
  /**
   * Set once run_start is written: the loop state and supervisor whose step and worker the run's end records and
   * closes (before that, run_end says step 0 and an interruption says which phase it stopped in).
   */
  started?: { state: LoopState; sup: TrainSupervisor };
}

/** After decideRunMemory: the decision, the supervisor and the loop state; the first worker is started. */
export interface DecidedRun extends OpenRun {
  /** The device this run trains on now (a resume keeps plan.json's decision but resolves the device again). */
  device: string;
  plan: PlanFile;
  decision: Decision;
  /** Everything `load` needs besides the decision. */
  spec: LoadSpec;
  first: WorkerProcess;
  sup: TrainSupervisor;
  state: LoopState;
  /** A resume: the checkpoints it may restore, newest first (checkpoints.ts:resumePoints); empty for a new run. */
  resume_points: ResumePoint[];
}

/** The context of a run about to start: nothing is read or written yet. */
export function runContext(opts: TrainOptions): RunContext {
  return {
    opts,
    stop: opts.stop ?? new StopRequest(),
    pre: new RunLog(),
    created_out: !existsSync(opts.out),
    owned: false,
    trained: false,
  };
}
