// A loaded run model that predicts relations for sentences on the torch worker: one worker kept alive, each batch
// of encoded rows sent inside one `eval` command (no file per request). Used by `refit predict` and the HTTP server.
import type { RunLog } from '../log.ts';
import type { EncodedExample } from '../encode/index.ts';
import { planEvalBatches } from '../batch/index.ts';
import type { WorkerProcess } from '../worker/index.ts';
import { EVAL_BATCH_SIZE, expect, readModelFolder, type LoadedModel } from '../session/index.ts';
import { EnginePredictor } from './engine-predictor.ts';
import { openModelWorker, workerLiveness, type Liveness } from './model-worker.ts';
import type { Predictor } from './predict-item.ts';

/** Loads `<run_dir>/model` into a fresh worker (CPU fp32 unless CUDA is there) and returns a Predictor. */
export async function openPredictor(opts: {
  run_dir: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}): Promise<Predictor> {
  const model = readModelFolder(opts.run_dir);
  return new WorkerPredictor(model, await openModelWorker(model, opts), opts.log);
}

class WorkerPredictor extends EnginePredictor {
  private readonly live: Liveness;

  constructor(
    loaded: LoadedModel,
    private readonly worker: WorkerProcess,
    private readonly log: RunLog,
  ) {
    super(loaded);
    this.live = workerLiveness(worker);
  }

  get lost(): Promise<Error> {
    return this.live.lost;
  }

  get pid(): number | undefined {
    return this.live.pid;
  }

  ping(timeout_ms: number): Promise<void> {
    return this.live.ping(timeout_ms);
  }

  /**
   * One `eval` command carrying the rows themselves: one request, so concurrent calls never interleave on the
   * worker (it answers one command at a time). An OOM only means the batches are too big: halve and retry.
   */
  protected async logits(rows: EncodedExample[], batch_size = EVAL_BATCH_SIZE): Promise<number[][]> {
    const batches = planEvalBatches({
      lengths: rows.map((r) => r.ids.length),
      batch_size,
      padding: 'dynamic',
      max_seq_len: this.max_seq_len,
    });
    const encoded = {
      input_ids: rows.map((r) => r.ids),
      head_pos: rows.map((r) => r.head_pos),
      tail_pos: rows.map((r) => r.tail_pos),
    };
    let ev;
    try {
      ev = await expect(this.worker, { type: 'eval', rows: encoded, batches, tag: 'predict' }, 'eval_result');
    } catch (e) {
      if (batch_size > 1 && e instanceof Error && /out of memory/i.test(e.message))
        return this.logits(rows, Math.floor(batch_size / 2));
      throw e;
    }
    // the worker answers in batch order: back to row order
    const out: number[][] = new Array(rows.length);
    let k = 0;
    const logits = ev.logits ?? []; // a relation head answers logits (the token head tags and scores)
    for (const b of batches) for (const i of b.indices) out[i] = logits[k++];
    if (k !== logits.length) throw new Error(`worker returned ${logits.length} logit rows for ${k} rows`);
    return out;
  }

  async close(): Promise<void> {
    await this.worker.close().catch((e) => this.log.write(`predictor close: ${String(e)}`));
  }
}
