// The loop state a checkpoint carries (checkpoints/last.json, and state.json inside each step checkpoint): its type,
// a fresh one, and the one reader that checks every field, so a damaged file is one line naming the field, never an
// internal error further on. Reads files only; which checkpoint a resume uses is checkpoints.ts.
import { existsSync, readFileSync } from 'node:fs';
import { RefitError } from '../errors.ts';
import { OFFLOADS, type Offload } from '../memory/lever-types.ts';

/** Everything about the run's progress that a checkpoint must carry to continue identically (checkpoints/last.json). */
export interface LoopState {
  step: number;
  checkpoint: string | null;
  examples_seen: number;
  tokens_seen: number;
  train_seconds: number;
  peak_memory_bytes: number;
  best: { epoch: number; step: number; macro_f1: number; path: string } | null;
  bad_epochs: number;
  stopped: boolean;
  evals: Array<{ epoch: number; accuracy: number; macro_f1: number; micro_f1: number; loss: number }>;
  /** offload: absent in a run state written before the lever (none) */
  levers: { micro_batch_size: number; grad_checkpointing: boolean; max_seq_len: number; offload?: Offload };
}

/** A fresh loop state. */
export function initialState(levers: LoopState['levers']): LoopState {
  return {
    step: 0,
    checkpoint: null,
    examples_seen: 0,
    tokens_seen: 0,
    train_seconds: 0,
    peak_memory_bytes: 0,
    best: null,
    bad_epochs: 0,
    stopped: false,
    evals: [],
    levers: { ...levers },
  };
}

type Check = [test: (v: unknown) => boolean, expected: string];

const count: Check = [(v) => Number.isInteger(v) && (v as number) >= 0, 'a whole number ≥ 0'];
const positive: Check = [(v) => Number.isInteger(v) && (v as number) > 0, 'a whole number > 0'];
const amount: Check = [(v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, 'a number ≥ 0'];
// A metric of a degenerate evaluation may be NaN, which JSON writes as null.
const metric: Check = [(v) => v === null || typeof v === 'number', 'a number'];
const flag: Check = [(v) => typeof v === 'boolean', 'true or false'];
// A folder inside checkpoints/, never a path that leaves the run folder.
const text: Check = [
  (v) => typeof v === 'string' && /^checkpoints\/(?!\.)[\w.-]+$/.test(v),
  'checkpoints/<folder>',
];

function object(fields: Record<string, Check>, what: string): Check {
  return [(v) => isObject(v) && Object.entries(fields).every(([k, [t]]) => t(v[k])), what];
}

const EVAL = object(
  { epoch: positive, accuracy: metric, macro_f1: metric, micro_f1: metric, loss: metric },
  'an object {epoch, accuracy, macro_f1, micro_f1, loss}',
);

/** Every field of a LoopState and what it must hold (the table readLoopState checks, in file order). */
const FIELDS: Record<keyof LoopState, Check> = {
  step: count,
  checkpoint: [(v) => v === null || text[0](v), 'a checkpoint folder (checkpoints/step-N) or null'],
  examples_seen: count,
  tokens_seen: count,
  train_seconds: amount,
  peak_memory_bytes: amount,
  best: [
    (v) => v === null || object({ epoch: positive, step: count, macro_f1: metric, path: text }, '')[0](v),
    'null or an object {epoch, step, macro_f1, path}',
  ],
  bad_epochs: count,
  stopped: flag,
  evals: [(v) => Array.isArray(v) && v.every(EVAL[0]), `a list, each ${EVAL[1]}`],
  levers: object(
    {
      micro_batch_size: positive,
      grad_checkpointing: flag,
      max_seq_len: positive,
      offload: [(v) => v === undefined || (OFFLOADS as readonly unknown[]).includes(v), ''],
    },
    `an object {micro_batch_size, grad_checkpointing, max_seq_len, offload?: ${OFFLOADS.join('|')}}`,
  ),
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What is wrong with the loop state in `value` ('field "step" is missing (expected …)'), or null when every field
 * holds what it must.
 */
export function loopStateProblem(value: unknown): string | null {
  if (!isObject(value)) return 'not a JSON object';
  for (const [k, [test, expected]] of Object.entries(FIELDS)) {
    if (!(k in value)) return `field "${k}" is missing (expected ${expected})`;
    if (!test(value[k]))
      return `field "${k}" is ${JSON.stringify(value[k])?.slice(0, 60)}, expected ${expected}`;
  }
  return null;
}

/** What is wrong with the loop-state file `path` (missing, not JSON, a bad field), or its state. */
export function tryLoopState(path: string): { state: LoopState } | { problem: string } {
  if (!existsSync(path)) return { problem: 'missing' };
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return { problem: `not valid JSON (${e instanceof Error ? e.message.split('\n')[0] : String(e)})` };
  }
  const problem = loopStateProblem(value);
  return problem ? { problem } : { state: value as LoopState };
}

/**
 * The loop state in `path` (checkpoints/last.json), every field checked; a missing, unreadable or damaged file is
 * RefitError E_RUN_FILE naming it and the field, with the way on.
 */
export function readLoopState(path: string): LoopState {
  const r = tryLoopState(path);
  if ('state' in r) return r.state;
  throw new RefitError(
    'E_RUN_FILE',
    `${path}: ${r.problem}; the record of the run's last checkpoint is damaged, so the run cannot be resumed ` +
      '(start it again with --force, or use another --out)',
  );
}
