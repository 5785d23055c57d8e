// A run's checkpoints on disk: each is written into a temporary folder and only then renamed to its final name
// (sealCheckpoint), leftovers of a save cut short are removed at the next run, and a resume takes the newest
// checkpoint whose files are whole, falling back to older ones with a warning. Never reads a checkpoint's tensors
// (the worker does; a restore it refuses falls back too, in restoreNewest).
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { RefitError } from '../errors.ts';
import { isWorkerLoss, type SupervisedWorker } from '../worker/index.ts';
import {
  expect,
  readJson,
  runPaths,
  verifyFolder,
  writeJsonAtomic,
  writeManifest,
} from '../session/index.ts';
import { runFacts } from './run-manifest.ts';
import { tryLoopState, readLoopState, type LoopState } from './loop-state.ts';

/** Names in checkpoints/ that start so are folders (or files) being written; no final name ever starts so. */
export const CHECKPOINT_TMP_PREFIX = '.tmp-';
/** The loop state a step checkpoint carries inside its folder, as last.json held it when the folder was sealed. */
export const STATE_FILE = 'state.json';
/** The supervisor's scratch checkpoint (a reload after an OOM): it is never resumed from. */
const SCRATCH = 'recovery';
const STEP_FOLDER = /^step-(\d+)$/;

/** The temporary folder a checkpoint `rel` (checkpoints/step-N) is written into before sealCheckpoint. */
export function checkpointTmpDir(run_dir: string, rel: string): string {
  return join(runPaths(run_dir).checkpoints, `${CHECKPOINT_TMP_PREFIX}${basename(rel)}`);
}

/**
 * Makes the complete checkpoint in `tmpDir` visible as `finalDir`, by renames only: a folder under a final name is
 * always whole (a kill between the renames leaves temporary names, removed by cleanLeftovers). An older folder of
 * the same name (a damaged one a resume fell back from) is moved aside first. Whatever must be in a checkpoint
 * before anyone may read it is written into `tmpDir` before this is called.
 */
export function sealCheckpoint(tmpDir: string, finalDir: string): void {
  const aside = join(finalDir, '..', `${CHECKPOINT_TMP_PREFIX}old-${basename(finalDir)}`);
  if (existsSync(finalDir)) {
    rmSync(aside, { recursive: true, force: true });
    renameSync(finalDir, aside);
  }
  renameSync(tmpDir, finalDir);
  rmSync(aside, { recursive: true, force: true });
}

/**
 * Saves the worker's model as the checkpoint `rel` of `run_dir`: into its temporary folder, with `state`
 * (the loop state it resumes, its `checkpoint` set to `rel`) as state.json when given, then sealed.
 */
export async function saveCheckpoint(
  worker: SupervisedWorker,
  o: { run_dir: string; rel: string; step: number; checkpoint: boolean; state?: LoopState },
): Promise<void> {
  const tmp = checkpointTmpDir(o.run_dir, o.rel);
  rmSync(tmp, { recursive: true, force: true }); // a save of the same name cut short earlier in this run
  await expect(worker, { type: 'save', path: tmp, checkpoint: o.checkpoint, step: o.step }, 'saved');
  if (o.state) writeJsonAtomic(join(tmp, STATE_FILE), { ...o.state, checkpoint: o.rel });
  // Its manifest (each file's size and SHA-256, the run's data and config hash) goes in last, before the seal.
  writeManifest(tmp, 'checkpoint', runFacts(o.run_dir));
  sealCheckpoint(tmp, join(o.run_dir, o.rel));
}

/**
 * Removes what a save cut short left in checkpoints/ (temporary folders and files, the scratch checkpoint); returns
 * their names. Called with the run folder locked, so no other run is writing them.
 */
export function cleanLeftovers(run_dir: string): string[] {
  const dir = runPaths(run_dir).checkpoints;
  if (!existsSync(dir)) return [];
  const left = readdirSync(dir).filter(
    (f) => f.startsWith(CHECKPOINT_TMP_PREFIX) || f.includes('.tmp-') || f === SCRATCH,
  );
  for (const f of left) rmSync(join(dir, f), { recursive: true, force: true });
  return left;
}

/** The older folders a new checkpoint keeps: the one before it (a fallback) and the best folders both name. */
export function keptCheckpoints(run_dir: string, state: LoopState, previous: string | null): Set<string> {
  const keep = new Set([state.checkpoint, state.best?.path, previous]);
  if (previous) {
    const r = tryLoopState(join(run_dir, previous, STATE_FILE));
    if ('state' in r) keep.add(r.state.best?.path);
  }
  return new Set([...keep].filter((k): k is string => !!k));
}

/** What is wrong with the files of checkpoint folder `dir` (missing, empty, truncated), or null if they look whole. */
export function checkpointProblem(dir: string): string | null {
  if (!existsSync(dir)) return 'the folder is missing';
  for (const f of ['config.json', 'model.safetensors', 'checkpoint.pt']) {
    const path = join(dir, f);
    if (!existsSync(path)) return `${f} is missing`;
    if (statSync(path).size === 0) return `${f} is empty`;
  }
  try {
    readJson(join(dir, 'config.json'));
  } catch {
    return 'config.json is not valid JSON';
  }
  return (
    safetensorsProblem(join(dir, 'model.safetensors')) ??
    zipProblem(join(dir, 'checkpoint.pt')) ??
    manifestProblem(dir)
  );
}

/** A checkpoint whose files are not those its manifest.json lists (bytes changed at equal size too), or null. */
function manifestProblem(dir: string): string | null {
  try {
    verifyFolder(dir, { what: 'checkpoint', warn: () => undefined });
    return null;
  } catch (e) {
    if (!(e instanceof RefitError)) throw e;
    return e.message.split(`${dir}/`).join('');
  }
}

function readAt(path: string, position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, position);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** A safetensors file whose header or data section is cut short (the worker checks the rest). */
function safetensorsProblem(path: string): string | null {
  const size = statSync(path).size;
  const len = size >= 8 ? Number(readAt(path, 0, 8).readBigUInt64LE()) : Infinity;
  if (len > size - 8) return `model.safetensors is truncated (${size} bytes, shorter than its header)`;
  let end = 0;
  try {
    const header = JSON.parse(readAt(path, 8, len).toString('utf8')) as Record<
      string,
      { data_offsets?: number[] }
    >;
    for (const [k, v] of Object.entries(header))
      if (k !== '__metadata__') end = Math.max(end, v.data_offsets?.[1] ?? 0);
  } catch {
    return 'model.safetensors has a garbled header';
  }
  return 8 + len + end > size ? `model.safetensors is truncated (${size} of ${8 + len + end} bytes)` : null;
}

/** torch.save writes a zip: a file cut short has lost its end-of-central-directory record. */
function zipProblem(path: string): string | null {
  const size = statSync(path).size;
  const tail = readAt(path, Math.max(0, size - 65_557), Math.min(size, 65_557));
  return tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) < 0
    ? `checkpoint.pt is truncated (${size} bytes, no zip end record)`
    : null;
}

/** A checkpoint a resume may start from: its folder (run-relative), the loop state it resumes, what is wrong. */
export interface ResumePoint {
  rel: string;
  state: LoopState;
  problem: string | null;
}

/**
 * The checkpoints a resume may start from, newest first: the one last.json names (its state is last.json), then
 * every older step-N folder with a whole state.json. `problem` says why one's files cannot be used.
 */
export function resumePoints(run_dir: string): ResumePoint[] {
  const last = readLoopState(runPaths(run_dir).last_state);
  const points: ResumePoint[] = [];
  if (last.checkpoint)
    points.push({
      rel: last.checkpoint,
      state: last,
      problem: checkpointProblem(join(run_dir, last.checkpoint)),
    });
  const dir = runPaths(run_dir).checkpoints;
  const older = readdirSync(dir)
    .map((f) => ({ f, step: Number(STEP_FOLDER.exec(f)?.[1] ?? NaN) }))
    .filter((o) => o.step < last.step)
    .sort((a, b) => b.step - a.step);
  for (const { f } of older) {
    const rel = `checkpoints/${f}`;
    const r = tryLoopState(join(dir, f, STATE_FILE));
    if ('state' in r) points.push({ rel, state: r.state, problem: checkpointProblem(join(run_dir, rel)) });
    else points.push({ rel, state: last, problem: `${STATE_FILE} is ${r.problem}` });
  }
  return points;
}

/** The one line a resume ends with when no checkpoint can be used: each one and why. */
export function noUsableCheckpoint(
  run_dir: string,
  tried: Array<{ rel: string; problem: string }>,
): RefitError {
  return new RefitError(
    'E_RESUME',
    `${run_dir}: no usable checkpoint to resume from (` +
      (tried.map((t) => `${t.rel}: ${t.problem}`).join('; ') || 'last.json names none') +
      '); start the run again with --force, or use another --out',
  );
}

/**
 * The loop state a resume starts with: that of the newest of `points` whose files look whole (the worker may still
 * refuse it: restoreNewest then goes on to older ones); none is noUsableCheckpoint.
 */
export function resumeState(run_dir: string, points: ResumePoint[]): LoopState {
  const first = points.find((p) => !p.problem);
  if (!first)
    throw noUsableCheckpoint(
      run_dir,
      points.map((p) => ({ rel: p.rel, problem: p.problem! })),
    );
  return structuredClone(first.state);
}

/** The warning of a resume that falls back from `damaged` (and why) to the older checkpoint `used`. */
export function fallbackWarning(damaged: { rel: string; problem: string }, used: string): string {
  return `${damaged.rel} is damaged (${damaged.problem}); resuming from ${used}, the newest complete checkpoint`;
}

/**
 * Restores the newest of `points` whose files are whole and that the worker accepts into `worker`; each newer one
 * skipped is one warning naming it, why, and the checkpoint used instead. A worker that dies is not a refusal (its
 * error is thrown); none usable is noUsableCheckpoint.
 */
export async function restoreNewest(
  worker: SupervisedWorker,
  o: { run_dir: string; points: ResumePoint[]; warn(line: string): void },
): Promise<ResumePoint> {
  const damaged: Array<{ rel: string; problem: string }> = [];
  for (const p of o.points) {
    if (p.problem) {
      damaged.push({ rel: p.rel, problem: p.problem });
      continue;
    }
    try {
      await expect(worker, { type: 'restore', path: join(o.run_dir, p.rel) }, 'restored');
    } catch (e) {
      if (isWorkerLoss(e) || !(e instanceof Error)) throw e;
      // The worker read every file before changing its model (checkpoint.py): an older one can be restored into it.
      damaged.push({
        rel: p.rel,
        problem: e.message.split('\n')[0].replace(`${join(o.run_dir, p.rel)}/`, ''),
      });
      continue;
    }
    for (const d of damaged) o.warn(fallbackWarning(d, p.rel));
    return p;
  }
  throw noUsableCheckpoint(o.run_dir, damaged);
}
