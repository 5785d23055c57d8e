// The Predictor of a run that has model/model.onnx: onnxruntime-node in this process, no Python, no process hop.
// Same answers and shape as the worker's Predictor; concurrent calls are coalesced into one batched run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunLog } from '../log.ts';
import { planEvalBatches } from '../batch/index.ts';
import { encodeForHead, type EncodedExample } from '../encode/index.ts';
import { softmax } from '../session/index.ts';
import { readModelFolder, type LoadedModel } from '../session/index.ts';
import { ONNX_FILE, ONNX_INT8_FILE, openOnnxSession, type OnnxSession } from './onnx-runtime.ts';
import { itemExample, type PredictItem, type Predictor } from './predictor.ts';
import { CoalescingPredictor, type ScoredRow } from './coalescing-predictor.ts';

/**
 * Examples per onnxruntime run. Rows are sorted by length first, so padding stays small; past ~32 rows a CPU
 * batch gains no throughput and only adds latency for the requests waiting on it.
 */
export const ONNX_BATCH_SIZE = 32;

/** Opens `<run_dir>/model/model.onnx` with onnxruntime-node (`threads` intra-op threads) and returns a Predictor. */
export async function openOnnxPredictor(opts: {
  run_dir: string;
  log: RunLog;
  num_threads?: number;
}): Promise<Predictor> {
  const model = readModelFolder(opts.run_dir);
  // int8 only where refit export --quantize int8 measured that it pays (refit.json onnx.engine), else fp32.
  const onnx = (model.refit as { onnx?: { engine?: string } }).onnx;
  const file =
    onnx?.engine === 'onnx-int8' && existsSync(join(model.dir, ONNX_INT8_FILE)) ? ONNX_INT8_FILE : ONNX_FILE;
  const session = await openOnnxSession({ path: join(model.dir, file), threads: opts.num_threads });
  opts.log.write(
    `predict: onnxruntime-node on ${join(model.dir, file)} (${session.threads} threads, inputs ` +
      `${session.input_names.join(', ')})`,
  );
  return new OnnxPredictor(model, session, file === ONNX_INT8_FILE ? 'onnx-int8' : 'onnx');
}

class OnnxPredictor extends CoalescingPredictor {
  /** Never resolves: there is no worker to lose (a failing run rejects its own call). */
  readonly lost: Promise<Error> = new Promise(() => undefined);
  /** No child process: the server's watchdog has nothing to kill. */
  readonly pid = undefined;

  constructor(
    loaded: LoadedModel,
    private readonly session: OnnxSession,
    engine: string,
  ) {
    super(loaded, { engine });
  }

  async ping(): Promise<void> {
    // In-process: nothing can hang apart from this thread itself.
  }

  protected async score(items: PredictItem[]): Promise<ScoredRow[]> {
    const enc = {
      tokenizer: this.loaded.text.tokenizer,
      max_seq_len: this.max_seq_len,
      markers: this.loaded.text.markers,
      deepke_lm: this.loaded.text.deepke_lm,
    };
    const rows: ScoredRow[] = [];
    const good: Array<{ row: ScoredRow; encoded: EncodedExample }> = [];
    items.forEach((item, i) => {
      const ex = itemExample(item, i + 1);
      if (typeof ex === 'string') {
        rows.push({ item, error: ex });
        return;
      }
      try {
        const row: ScoredRow = { item };
        good.push({ row, encoded: encodeForHead({ ...enc, example: ex }) });
        rows.push(row);
      } catch (e) {
        rows.push({ item, error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
      }
    });
    const lengths = good.map((g) => g.encoded.ids.length);
    for (const b of planEvalBatches({
      lengths,
      batch_size: ONNX_BATCH_SIZE,
      padding: 'dynamic',
      max_seq_len: this.max_seq_len,
    })) {
      const logits = await this.session.logits(
        b.indices.map((i) => good[i].encoded),
        b.seq_len,
      );
      b.indices.forEach((i, k) => {
        good[i].row.probs = softmax(logits[k]);
      });
    }
    return rows;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
