// The Predictor of a run that has model/model.onnx: onnxruntime-node in this process, no Python, no process hop.
// Same answers and shape as the worker's Predictor (both are EnginePredictors: items encoded once there).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunLog } from '../log.ts';
import { planEvalBatches } from '../batch/index.ts';
import type { EncodedExample } from '../encode/index.ts';
import { readModelFolder, type LoadedModel } from '../session/index.ts';
import {
  ONNX_FILE,
  ONNX_INT8_FILE,
  checkOnnxGraph,
  openOnnxSession,
  type OnnxSession,
} from './onnx-runtime.ts';
import type { Predictor } from './predict-item.ts';
import { EnginePredictor } from './engine-predictor.ts';

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
  try {
    await checkOnnxGraph(session, onnxCheckOf(model, file));
  } catch (e) {
    await session.close().catch(() => undefined);
    throw e;
  }
  opts.log.write(
    `predict: onnxruntime-node on ${join(model.dir, file)} (${session.threads} threads, inputs ` +
      `${session.input_names.join(', ')})`,
  );
  return new OnnxPredictor(model, session, file === ONNX_INT8_FILE ? 'onnx-int8' : 'onnx');
}

/** What checkOnnxGraph checks `file` of a model folder against: its vocabulary and its relation count. */
export function onnxCheckOf(model: LoadedModel, file: string) {
  return {
    path: join(model.dir, file),
    vocab_size: model.text.vocab.size,
    vocab_path: model.text.vocab_path,
    num_labels: model.refit.num_labels,
  };
}

class OnnxPredictor extends EnginePredictor {
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

  protected async logits(rows: EncodedExample[]): Promise<number[][]> {
    const out: number[][] = new Array(rows.length);
    for (const b of planEvalBatches({
      lengths: rows.map((r) => r.ids.length),
      batch_size: ONNX_BATCH_SIZE,
      padding: 'dynamic',
      max_seq_len: this.max_seq_len,
    })) {
      const logits = await this.session.logits(
        b.indices.map((i) => rows[i]),
        b.seq_len,
      );
      b.indices.forEach((i, k) => {
        out[i] = logits[k];
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
