// Between preparing the inputs and deciding memory: the run folder is created and locked, checked for a new run or
// a resume, and gets its log and events. Also the folder's two endings: what a run that trained nothing removes,
// and the report every run that left a folder writes.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RunLog } from '../../log.ts';
import { resolveConfig, type RunConfig } from '../../config/index.ts';
import { RefitError, fsError } from '../../errors.ts';
import { appendJsonLine, runPaths } from '../../session/index.ts';
import { dispatchEvent, type RunEvent } from '../events.ts';
import { cleanLeftovers } from '../checkpoints.ts';
import { makeFolder, prepareOutDir } from '../files.ts';
import { lockRunFolder } from '../lock.ts';
import { RUN_CACHE_DIR, type EncodedSplit } from '../prepare.ts';
import { runRanks } from '../ranks.ts';
import { checkResumeChanges, type ResumeChange } from '../resume-config.ts';
import { checkSameRun, type RunDataPaths } from '../run-manifest.ts';
import type { OpenRun, PreparedRun, RunContext, TrainOptions } from './context.ts';

/** Creates, locks and prepares the run folder; opens refit.log and events.jsonl and lays out the ranks. */
export function openFolder(ctx: PreparedRun): OpenRun {
  const { opts, inputs, stop } = ctx;
  makeFolder(opts.out);
  ctx.lock = lockRunFolder(opts.out, 'refit train', { log: (l) => ctx.pre.write(l) });
  stop.onForce(() => ctx.lock?.release());
  const mode = prepareOutDir({ dir: opts.out, resume: !!opts.resume, force: !!opts.force });
  ctx.owned = mode === 'new';
  const changes = mode === 'resume' ? resumeChanges(opts, inputs.config) : [];
  // The same run: its relation list, data files and config.yaml against the manifest it was started with.
  const forced =
    mode === 'resume'
      ? checkSameRun({
          run_dir: opts.out,
          relations: inputs.splits.relations,
          data: runDataPaths(inputs),
          force: !!opts.force,
          note: (l) => {
            ctx.pre.write(`note: ${l}`);
            opts.notice?.(l);
          },
        })
      : [];
  const paths = runPaths(opts.out);
  const log = new RunLog(paths.log);
  for (const l of ctx.pre.lastLines(200)) log.write(l);
  // What a save cut short left (a kill during it, a second Ctrl-C): never a checkpoint, so removed.
  const left = cleanLeftovers(opts.out);
  if (left.length)
    log.write(`removed what an interrupted checkpoint save left in checkpoints/: ${left.join(', ')}`);
  opts.on_log?.(log);
  const ranks = runRanks({
    config: inputs.config,
    python: inputs.python,
    env: opts.env,
    num_threads: opts.num_threads,
  });
  if (ranks.layout) log.write(`ranks: ${ranks.reason}`);
  const run: OpenRun = Object.assign(ctx, {
    mode,
    changes,
    forced,
    log,
    ended: false,
    emit: (e: RunEvent) => {
      if (e.event === 'run_end') run.ended = true;
      if (e.event === 'step') run.trained = true;
      try {
        appendJsonLine(paths.events, e);
      } catch (err) {
        throw fsError(err, paths.events) ?? err;
      }
      dispatchEvent(opts.reporters ?? [], e);
    },
    ranks,
    datasets: [inputs.train, inputs.valid, inputs.test, inputs.test_untyped]
      .filter((s): s is EncodedSplit => !!s)
      .map((s) => ({ name: s.name, path: s.path })),
    opened_ms: Date.now(),
  });
  return run;
}

/** The files the run reads, by role (what its manifest fingerprints). */
export function runDataPaths(inputs: PreparedRun['inputs']): RunDataPaths {
  return { ...inputs.splits.paths, vocab: inputs.text.vocab_path };
}

/** The config a resume asks for against the run's config.yaml: safe changes are returned, others refused. */
function resumeChanges(opts: TrainOptions, asked: RunConfig): ResumeChange[] {
  const stored = resolveConfig({ file: runPaths(opts.out).config, overrides: [], warn: () => undefined });
  return checkResumeChanges(stored, asked, opts.out);
}

/**
 * A run that failed with `e` having trained nothing leaves nothing behind: what it wrote into the folder (and the
 * folder itself when this run created it) is removed. An internal error keeps its folder, for the log; a folder
 * locked by another run is not this run's.
 */
export function removeUntrained(ctx: RunContext, e: unknown): void {
  const locked = e instanceof RefitError && e.code === 'E_RUN_LOCKED';
  if (ctx.trained || locked || !(e instanceof RefitError) || !(ctx.owned || ctx.created_out)) return;
  const dir = ctx.opts.out;
  try {
    if (!existsSync(dir)) return;
    if (ctx.created_out) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const p = runPaths(dir);
    for (const f of [
      p.config,
      p.manifest,
      p.plan,
      p.events,
      p.log,
      p.checkpoints,
      join(dir, 'report.html'),
      join(dir, RUN_CACHE_DIR),
    ])
      rmSync(f, { recursive: true, force: true });
  } catch {
    /* best effort: the error being reported matters more */
  }
}

/** The end of every run: its report through `opts.write_report`, when the run left a folder (see TrainOptions). */
export async function reportRun(ctx: RunContext, o: { notice: boolean }): Promise<void> {
  const { opts } = ctx;
  const paths = runPaths(opts.out);
  if (!opts.write_report || !existsSync(paths.config)) return;
  try {
    await opts.write_report(opts.out);
  } catch (e) {
    new RunLog(paths.log).write(
      `report.html not written: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    if (o.notice)
      opts.notice?.(
        `report.html not written: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`,
      );
  }
}
