// A run's model.onnx in onnxruntime-node (CPU provider, binaries shipped inside the npm package): session options
// and padded batches of encoded examples → logits. Must never start Python: predict and serve use it without one.
import { RefitError } from '../errors.ts';
import type { EncodedExample } from '../encode/index.ts';
import { defaultThreads } from '../worker/index.ts';

/** File name of the exported model inside a run's model/ folder. */
export const ONNX_FILE = 'model.onnx';
/** File name of the int8 model beside it (refit export --quantize int8; present only when it paid). */
export const ONNX_INT8_FILE = 'model.int8.onnx';
/** Default ONNX opset of `refit export` (torch 1.13's exporter goes up to 17; 17 has LayerNormalization as one op). */
export const DEFAULT_OPSET = 17;

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;
type Tensor = import('onnxruntime-node').Tensor;
let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use (its native library is not loaded by commands that never predict). */
export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node')
    .then((m) =>
      (m as { InferenceSession?: unknown }).InferenceSession ? m : (m as unknown as { default: Ort }).default,
    )
    .catch((e: unknown) => {
      ortModule = undefined;
      throw new RefitError(
        'E_NO_ORT',
        `onnxruntime-node cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); ` +
          `reinstall with npm ci, or use --engine torch`,
      );
    });
  return ortModule;
}

/** The onnxruntime-node version in use, e.g. `1.30.0`. */
export async function ortVersion(): Promise<string> {
  const ort = await loadOrt();
  return ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';
}

/** One loaded ONNX model: its input names and a function from encoded examples to logit rows. */
export interface OnnxSession {
  /** Graph inputs (a subset of input_ids, attention_mask, head_pos, tail_pos, lengths: unused ones are pruned). */
  input_names: readonly string[];
  /** Intra-op threads the session runs with. */
  threads: number;
  /** Logits [rows.length][num_labels] of examples padded to `seq_len` (≥ every row's length) with `pad_id`. */
  logits(rows: readonly EncodedExample[], seq_len: number): Promise<number[][]>;
  /**
   * The token head's output: per row, logits [seq_len × num_labels] row-major (`logits` [batch, seq, num_labels] in
   * the graph); relation positions are not read by that graph.
   */
  tokenLogits(
    rows: readonly number[][],
    seq_len: number,
  ): Promise<{ data: Float32Array; num_labels: number }[]>;
  close(): Promise<void>;
}

/**
 * Opens `path` for latency under load: one session, graph optimisation `all` (LayerNorm, GELU and attention
 * fusions), sequential execution (a BERT graph is one chain: parallel branches gain nothing, and parallel mode with 2
 * inter-op threads measured slower, bench/results/threads.md), `threads` intra-op threads (default: defaultThreads)
 * and one inter-op thread. A file onnxruntime cannot read is one line (E_ONNX_MODEL).
 */
export async function openOnnxSession(opts: {
  path: string;
  threads?: number;
  /** Inter-op threads; above 1 the graph runs in parallel mode (bench/threads.ts measures it, default 1). */
  inter_op_threads?: number;
  pad_id?: number;
}): Promise<OnnxSession> {
  const ort = await loadOrt();
  const threads = opts.threads ?? defaultThreads();
  const inter = opts.inter_op_threads ?? 1;
  let session: Session;
  try {
    session = await ort.InferenceSession.create(opts.path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: inter > 1 ? 'parallel' : 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: inter,
      // Errors reach the caller as exceptions, turned into one line there; onnxruntime's own log would add a raw one.
      logSeverityLevel: 4,
    });
  } catch (e) {
    throw new RefitError(
      'E_ONNX_MODEL',
      `${opts.path}: onnxruntime cannot load it (` +
        `${e instanceof Error ? e.message.split('\n')[0] : String(e)}); export it again with refit export --run DIR`,
    );
  }
  const pad = BigInt(opts.pad_id ?? 0);
  const names = session.inputNames;
  return {
    input_names: names,
    threads,
    async logits(rows, seq_len) {
      const feeds = batchTensors(ort, { rows, seq_len, pad });
      // onnxruntime-node 1.30 runs the graph on the calling thread (its intra-op pool does the maths): the event loop
      // waits for this batch, and requests arriving meanwhile are joined into the next one by PredictBatcher.
      const out = await session.run(Object.fromEntries(names.map((n: string) => [n, feeds[n]])));
      const t = out[session.outputNames[0]];
      const width = Number(t.dims[1]);
      const data = t.data as Float32Array;
      return rows.map((_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
    },
    async tokenLogits(rows, seq_len) {
      const encoded = rows.map((ids) => ({ ids, head_pos: 0, tail_pos: 0, truncated: false }));
      const feeds = batchTensors(ort, { rows: encoded, seq_len, pad });
      const out = await session.run(Object.fromEntries(names.map((n: string) => [n, feeds[n]])));
      const t = out[session.outputNames[0]];
      const num_labels = Number(t.dims[2]);
      const data = t.data as Float32Array;
      const per = seq_len * num_labels;
      return rows.map((_, i) => ({ data: data.subarray(i * per, (i + 1) * per), num_labels }));
    },
    close: () => session.release(),
  };
}

/** The five possible inputs of one batch as int64 tensors ([b, n] ids and mask, [b] positions and lengths). */
function batchTensors(
  ort: Ort,
  { rows, seq_len, pad }: { rows: readonly EncodedExample[]; seq_len: number; pad: bigint },
): Record<string, Tensor> {
  const b = rows.length;
  const ids = new BigInt64Array(b * seq_len).fill(pad);
  const mask = new BigInt64Array(b * seq_len);
  const head = new BigInt64Array(b);
  const tail = new BigInt64Array(b);
  const lengths = new BigInt64Array(b);
  rows.forEach((r, i) => {
    if (r.ids.length > seq_len)
      throw new Error(`row ${i} has ${r.ids.length} tokens, more than the batch's ${seq_len}`);
    for (let j = 0; j < r.ids.length; j++) {
      ids[i * seq_len + j] = BigInt(r.ids[j]);
      mask[i * seq_len + j] = 1n;
    }
    head[i] = BigInt(r.head_pos);
    tail[i] = BigInt(r.tail_pos);
    lengths[i] = BigInt(r.ids.length);
  });
  return {
    input_ids: new ort.Tensor('int64', ids, [b, seq_len]),
    attention_mask: new ort.Tensor('int64', mask, [b, seq_len]),
    head_pos: new ort.Tensor('int64', head, [b]),
    tail_pos: new ort.Tensor('int64', tail, [b]),
    lengths: new ort.Tensor('int64', lengths, [b]),
  };
}

/**
 * Before a session answers: one dummy row through the graph with the vocabulary's largest id, so a graph whose
 * embedding is smaller than vocab.txt, or whose output is not one logit per relation, is one line (E_MANIFEST)
 * instead of an internal error or answers meaning other relations.
 */
export async function checkOnnxGraph(
  session: OnnxSession,
  o: { path: string; vocab_size: number; num_labels: number; vocab_path: string },
): Promise<void> {
  const top = Math.max(0, o.vocab_size - 1);
  const row: EncodedExample = { ids: [0, top, 0], head_pos: 0, tail_pos: 1, truncated: false };
  let width: number;
  try {
    width = (await session.logits([row], 3))[0].length;
  } catch (e) {
    throw new RefitError(
      'E_MANIFEST',
      `${o.path}: the graph cannot take ${o.vocab_path}'s ids (up to ${top}): ` +
        `${e instanceof Error ? e.message.split('\n')[0].slice(0, 160) : String(e)} — model.onnx and vocab.txt ` +
        `are from different models; export it again with refit export --run DIR`,
    );
  }
  if (width !== o.num_labels)
    throw new RefitError(
      'E_MANIFEST',
      `${o.path}: the graph answers ${width} relations, the model folder has ${o.num_labels} (refit.json): ` +
        `another run's model.onnx; export it again with refit export --run DIR`,
    );
}
