// The two engines of an NER run's predictor: the torch worker (one `eval` command carrying rows with word_starts;
// it answers tags and scores) and model.onnx in this process (its `logits` [batch, seq, num_labels], read at the
// word starts here). chooseEngine (engine.ts) picks between them, as for relation runs.
import { join } from 'node:path';
import type { RunLog } from '../log.ts';
import { planEvalBatches } from '../batch/index.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import {
  EVAL_BATCH_SIZE,
  expect,
  inExampleOrder,
  readModelFolder,
  tokenTags,
  type LoadedModel,
  type TokenTags,
} from '../session/index.ts';
import { chooseEngine, type Engine } from './engine.ts';
import { IN_PROCESS, openModelWorker, workerLiveness } from './model-worker.ts';
import { NerPredictor, tagOfLogits, type TokenRows, type TokenTagger } from './ner-predictor.ts';
import { ONNX_BATCH_SIZE } from './onnx-predictor.ts';
import { ONNX_FILE, openOnnxSession, type OnnxSession } from './onnx-runtime.ts';

/** Opens an NER run's predictor on `engine` (default: onnx when model/model.onnx exists, else torch). */
export async function openNerPredictor(opts: {
  run_dir: string;
  engine?: Engine;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}): Promise<NerPredictor & { engine: Engine }> {
  const engine = chooseEngine(opts.run_dir, opts.engine);
  const model = readModelFolder(opts.run_dir);
  const tagger = engine === 'onnx' ? await onnxTagger(model, opts) : await torchTagger(model, opts);
  return Object.assign(new NerPredictor(model, tagger), { engine });
}

/** Batches of rows by length (as evaluation plans them), within the model's window. */
function batchesOf(rows: TokenRows, batch_size: number, max_seq_len: number) {
  return planEvalBatches({
    lengths: rows.input_ids.map((r) => r.length),
    batch_size,
    padding: 'dynamic',
    max_seq_len,
  });
}

async function torchTagger(
  model: LoadedModel,
  opts: { env: Record<string, string | undefined>; log: RunLog; num_threads?: number },
): Promise<TokenTagger> {
  const worker = await openModelWorker(model, opts);
  return {
    ...workerLiveness(worker),
    tagRows: (rows) => workerTagRows(worker, rows, model.refit.max_seq_len),
    close: () => worker.close().catch((e) => opts.log.write(`predictor close: ${String(e)}`)),
  };
}

async function onnxTagger(
  model: LoadedModel,
  opts: { log: RunLog; num_threads?: number },
): Promise<TokenTagger> {
  const path = join(model.dir, ONNX_FILE);
  const session = await openOnnxSession({ path, threads: opts.num_threads, pad_id: model.text.vocab.pad_id });
  opts.log.write(`predict: onnxruntime-node on ${path} (${session.threads} threads, token head)`);
  return {
    ...IN_PROCESS,
    tagRows: (rows) => onnxTagRows(session, rows, model.refit.max_seq_len),
    close: () => session.close(),
  };
}

/** The torch worker's tags and scores at the rows' word starts (one `eval` command), in row order. */
export async function workerTagRows(
  worker: SupervisedWorker,
  rows: TokenRows,
  max_seq_len: number,
  batch_size = EVAL_BATCH_SIZE,
): Promise<TokenTags> {
  const batches = batchesOf(rows, batch_size, max_seq_len);
  try {
    const ev = await expect(worker, { type: 'eval', rows, batches, tag: 'predict' }, 'eval_result');
    const t = tokenTags(ev);
    const order = batches.flatMap((b) => b.indices);
    return { tags: inExampleOrder(t.tags, order, 'tag'), scores: inExampleOrder(t.scores, order, 'score') };
  } catch (e) {
    // an OOM only means the batches are too big: halve and retry
    if (batch_size > 1 && e instanceof Error && /out of memory/i.test(e.message))
      return workerTagRows(worker, rows, max_seq_len, Math.floor(batch_size / 2));
    throw e;
  }
}

/** model.onnx's tags and scores at the rows' word starts (its logits read there), in row order. */
export async function onnxTagRows(
  session: OnnxSession,
  rows: TokenRows,
  max_seq_len: number,
): Promise<TokenTags> {
  const n = rows.input_ids.length;
  const out: TokenTags = { tags: new Array(n), scores: new Array(n) };
  for (const b of batchesOf(rows, ONNX_BATCH_SIZE, max_seq_len)) {
    const logits = await session.tokenLogits(
      b.indices.map((i) => rows.input_ids[i]),
      b.seq_len,
    );
    b.indices.forEach((i, k) => {
      const picked = rows.word_starts[i].map((p) => tagOfLogits(logits[k].data, p, logits[k].num_labels));
      out.tags[i] = picked.map((t) => t[0]);
      out.scores[i] = picked.map((t) => t[1]);
    });
  }
  return out;
}
