// The Predictor of a run that has model/model.onnx: onnxruntime-node in this process, no Python, no process hop.
// Same answers and shape as the worker's Predictor; concurrent calls are coalesced into one batched run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunLog } from '../log.ts';
import { planEvalBatches } from '../batch/index.ts';
import { encodeForHead, type EncodedExample } from '../encode/index.ts';
import { softmax } from '../run/index.ts';
import { readModelFolder, type LoadedModel } from './model-folder.ts';
import { ONNX_FILE, ONNX_INT8_FILE, openOnnxSession, type OnnxSession } from './onnx-runtime.ts';
import { itemExample, type PredictItem, type Prediction, type Predictor } from './predictor.ts';

/**
 * Examples per onnxruntime run. Rows are sorted by length first, so padding stays small; past ~32 rows a CPU
 * batch gains no throughput and only adds latency for the requests waiting on it.
 */
export const ONNX_BATCH_SIZE = 32;

type Pending = {
  items: PredictItem[];
  top_k: number;
  na_threshold: number;
  resolve: (p: Prediction[]) => void;
  reject: (e: unknown) => void;
};
type Row = { item: PredictItem; probs?: number[]; error?: string };

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

class OnnxPredictor implements Predictor {
  readonly relations: string[];
  readonly na_label: string | null;
  readonly max_seq_len: number;
  readonly model: Record<string, unknown>;
  /** Never resolves: there is no worker to lose (a failing run rejects its own call). */
  readonly lost: Promise<Error> = new Promise(() => undefined);
  /** No child process: the server's watchdog has nothing to kill. */
  readonly pid = undefined;
  private queue: Pending[] = [];
  private busy = false;

  constructor(
    private readonly loaded: LoadedModel,
    private readonly session: OnnxSession,
    engine: string,
  ) {
    this.relations = loaded.relations.names;
    this.na_label = loaded.relations.na_label;
    this.max_seq_len = loaded.refit.max_seq_len;
    this.model = {
      dir: loaded.dir,
      ...loaded.dims,
      head: loaded.refit.head,
      lowercase: loaded.refit.lowercase,
      num_labels: loaded.refit.num_labels,
      ...(loaded.refit.rnn ? { rnn: loaded.refit.rnn } : {}),
      engine,
    };
  }

  async ping(): Promise<void> {
    // In-process: nothing can hang apart from this thread itself.
  }

  predict(items: PredictItem[], opts: { top_k?: number; na_threshold?: number } = {}): Promise<Prediction[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        items,
        top_k: Math.max(1, opts.top_k ?? 3),
        na_threshold: opts.na_threshold ?? 0,
        resolve,
        reject,
      });
      void this.drain();
    });
  }

  // Calls that arrive while a run is going wait and then go together, as the worker's Predictor does.
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0);
        try {
          const all = await this.run(batch.flatMap((p) => p.items));
          let k = 0;
          for (const p of batch) {
            p.resolve(all.slice(k, k + p.items.length).map((r, i) => this.shape(r, i, p)));
            k += p.items.length;
          }
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private async run(items: PredictItem[]): Promise<Row[]> {
    const enc = {
      tokenizer: this.loaded.text.tokenizer,
      max_seq_len: this.max_seq_len,
      markers: this.loaded.text.markers,
      deepke_lm: this.loaded.text.deepke_lm,
    };
    const rows: Row[] = [];
    const good: Array<{ row: Row; encoded: EncodedExample }> = [];
    items.forEach((item, i) => {
      const ex = itemExample(item, i + 1);
      if (typeof ex === 'string') {
        rows.push({ item, error: ex });
        return;
      }
      try {
        const row: Row = { item };
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

  private shape(r: Row, id: number, p: Pending): Prediction {
    const base = { id, head: r.item.head, tail: r.item.tail };
    if (!r.probs) return { ...base, error: r.error ?? 'not predicted' };
    const ranked = r.probs
      .map((score, i) => ({ relation: this.relations[i], score }))
      .sort((a, b) => b.score - a.score);
    const best = ranked[0];
    const relation = best.score < p.na_threshold && this.na_label !== null ? this.na_label : best.relation;
    return { ...base, relation, score: best.score, top: ranked.slice(0, p.top_k) };
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
