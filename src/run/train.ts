// `refit train` as a function: a pipeline of named stages (src/run/stages/), each taking the one run context.
// The command stays thin; it exports model.onnx after this returns (training never imports infer/).
import { checkTargets } from './stages/check-targets.ts';
import { runContext, type TrainOptions, type TrainResult } from './stages/context.ts';
import { decideRunMemory } from './stages/decide-memory.ts';
import { finish } from './stages/finish.ts';
import { trainLoop } from './stages/loop.ts';
import { openFolder, removeUntrained, reportRun } from './stages/open-folder.ts';
import { prepareInputs } from './stages/prepare-inputs.ts';
import { recordRun } from './stages/run-end.ts';

/**
 * Trains one run into `out` (see design §5 for the folder); throws RefitError on bad input, writes run_end
 * either way.
 */
export async function runTraining(opts: TrainOptions): Promise<TrainResult> {
  const ctx = runContext(opts);
  // The paths refit will write are checked first, then the inputs are read and checked, all before the out
  // folder is touched: bad input or an unwritable place leaves no folder behind.
  checkTargets(ctx);
  let finished = false;
  try {
    const run = openFolder(await prepareInputs(ctx));
    const result = await recordRun(run, async () => {
      const decided = await decideRunMemory(run);
      await trainLoop(decided);
      return await finish(decided);
    });
    finished = true;
    return result;
  } catch (e) {
    removeUntrained(ctx, e); // a run that trained nothing leaves nothing behind
    throw e;
  } finally {
    ctx.lock?.release();
    // a failed run's one line is its error: a report that fails then too is told in refit.log only
    await reportRun(ctx, { notice: finished });
  }
}
