// Stage 1 of a training run: the places the run will write are checked before anything is read. Writes nothing.
import { checkFolderTarget } from '../out-paths.ts';
import type { RunContext } from './context.ts';

/**
 * The run's writes, in order: the run folder, then the encoded-data cache when set by REFIT_CACHE (room for the
 * checkpoints is checked once the model's size is known, in prepareInputs).
 */
export function checkTargets(ctx: RunContext): void {
  checkFolderTarget(ctx.opts.out, '--out');
  if (ctx.opts.env.REFIT_CACHE) checkFolderTarget(ctx.opts.env.REFIT_CACHE, 'REFIT_CACHE');
}
