// The end of a run: restore the best checkpoint, evaluate valid and test with it, write model/ and metrics.json.
import { join } from 'node:path';
import type { MetricBlock } from '../metrics/index.ts';
import type { RelationSet } from '../data/types.ts';
import type { HeadKind, RnnSpec } from '../worker/protocol.ts';
import type { DeepkeLmInputInfo } from './deepke-lm.ts';
import type { TrainSupervisor } from '../worker/index.ts';
import { now, type RunEvent } from './events.ts';
import {
  expect,
  runPaths,
  verifyFolder,
  writeJsonAtomic,
  writeModelFolder,
  type NerTokens,
} from '../session/index.ts';
import { scoreSplit, type SplitScore } from './score-split.ts';
import type { TextSide } from '../session/index.ts';
import type { EncodedSplit } from './prepare.ts';
import type { LoopState } from './loop-state.ts';
import type { StopRequest } from './interrupt.ts';
import { runFacts } from './run-manifest.ts';

/** metrics.json: valid and test blocks of the restored best model, and the training throughput. */
export interface RunMetrics {
  /** Relation runs: a MetricBlock; task: ner: the entity block (`test.entity.micro_f1` …) and token accuracy. */
  valid?: SplitScore;
  test?: SplitScore;
  train: {
    optimizer_steps: number;
    examples_seen: number;
    tokens_seen: number;
    examples_per_s: number;
    tokens_per_s: number;
    peak_memory_bytes: number;
    seconds: number;
  };
  best_epoch: number | null;
  epochs_run: number;
  early_stopped: boolean;
  /** deepke-lm runs: where the entity type words came from (DeepKE's gold-relation types leak the label). */
  input?: DeepkeLmInputInfo;
  /** deepke-lm runs with gold-relation types: the same test split scored with the mentions kept as text. */
  test_without_types?: SplitScore;
}

/** Restores the best checkpoint (if any), evaluates, and writes model/ and metrics.json atomically. */
export async function finishRun(opts: {
  sup: TrainSupervisor;
  state: LoopState;
  run_dir: string;
  valid: EncodedSplit | null;
  test: EncodedSplit | null;
  relations: RelationSet;
  semeval: boolean;
  text: TextSide;
  head: HeadKind;
  max_seq_len: number;
  padding: 'dynamic' | 'max';
  emit(e: RunEvent): void;
  /**
   * deepke-lm: the RNN for refit.json, the input info for metrics.json and the untyped test split (opened in
   * the worker).
   */
  rnn?: RnnSpec;
  input?: DeepkeLmInputInfo;
  test_untyped?: EncodedSplit | null;
  /** task: ner: the tag list and how text splits into tokens, for refit.json. */
  ner?: { tags: string[]; tokens: NerTokens };
  /**
   * Ctrl-C / SIGTERM: checked before each evaluation and before the model is written (the last checkpoint
   * holds the run).
   */
  stop?: StopRequest;
}): Promise<RunMetrics> {
  const { sup, state } = opts;
  const worker = sup.worker!;
  if (state.best) {
    // On a resumed run the best checkpoint may be an earlier process's: it must still be what its manifest says.
    const best = join(opts.run_dir, state.best.path);
    verifyFolder(best, {
      what: 'checkpoint',
      warn: () => undefined,
      fix: { '*': 'the best checkpoint was changed' },
    });
    await expect(worker, { type: 'restore', path: best }, 'restored');
  }
  const score = async (split: EncodedSplit | null) => {
    if (!split || split.size === 0) return undefined;
    opts.stop?.check('evaluating', state.step);
    return scoreSplit({
      worker,
      split,
      relations: opts.relations,
      semeval: opts.semeval,
      padding: opts.padding,
      max_seq_len: sup.levers.max_seq_len,
      tag: `final-${split.name}`,
    });
  };
  const valid = await score(opts.valid);
  const test = await score(opts.test);
  const untyped = await score(opts.test_untyped ?? null);
  const epoch = state.best?.epoch ?? state.evals.length;
  if (test)
    opts.emit({
      event: 'eval',
      time: now(),
      epoch,
      step: state.step,
      split: 'test',
      accuracy: test.accuracy,
      macro_f1: test.macro_f1,
      micro_f1: test.micro_f1,
      loss: test.loss,
    });
  opts.stop?.check('writing the model', state.step);
  await writeModelFolder({
    worker,
    run_dir: opts.run_dir,
    text: opts.text,
    relations: opts.relations,
    head: opts.head,
    max_seq_len: opts.max_seq_len,
    step: state.best?.step ?? state.step,
    rnn: opts.rnn,
    facts: runFacts(opts.run_dir),
    ner: opts.ner,
  });
  const secs = state.train_seconds;
  const metrics: RunMetrics = {
    ...(valid ? { valid } : {}),
    ...(test ? { test } : {}),
    train: {
      optimizer_steps: state.step,
      examples_seen: state.examples_seen,
      tokens_seen: state.tokens_seen,
      examples_per_s: secs ? state.examples_seen / secs : 0,
      tokens_per_s: secs ? state.tokens_seen / secs : 0,
      peak_memory_bytes: state.peak_memory_bytes,
      seconds: secs,
    },
    best_epoch: state.best?.epoch ?? null,
    epochs_run: state.evals.length,
    early_stopped: state.stopped,
    ...(opts.input ? { input: opts.input } : {}),
    ...(untyped ? { test_without_types: untyped } : {}),
  };
  writeJsonAtomic(runPaths(opts.run_dir).metrics, metrics);
  return metrics;
}
