// Exporting a loaded run model to model/model.onnx: the worker writes the graph (torch.onnx.export), then
// onnxruntime-node's logits are checked against torch's on real encoded examples before the file is kept, and the
// check is recorded in refit.json. A graph that does not match is removed: predict then stays on torch.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import type { Example } from '../data/types.ts';
import { planEvalBatches } from '../batch/index.ts';
import { encodeForHead, writeEncodedDataset, type EncodedExample } from '../encode/index.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import { EVAL_BATCH_SIZE, argmax, evalLogits } from '../session/index.ts';
import { readJson, refreshManifest, writeJsonAtomic } from '../session/index.ts';
import type { LoadedModel } from '../session/index.ts';
import { ONNX_FILE, ONNX_INT8_FILE, checkOnnxGraph, openOnnxSession, ortVersion } from './onnx-runtime.ts';
import { expect } from '../session/index.ts';

/**
 * Largest |torch − onnxruntime| logit difference accepted for the fp32 graph (float32 kernels differ in
 * summation order).
 */
export const ONNX_FP32_TOLERANCE = 1e-4;
/** Examples of the run's data the export is checked on. */
export const ONNX_CHECK_EXAMPLES = 64;

/** What refit.json records about model.onnx (key `onnx`). */
export interface OnnxRecord {
  file: string;
  opset: number;
  bytes: number;
  torch_version: string;
  onnxruntime_node: string;
  /**
   * The self-check: examples compared, where they came from (file name only), the largest logit difference
   * and the tolerance.
   */
  check: { examples: number; data: string; max_abs_diff: number; tolerance: number; same_relation: number };
  /**
   * The engine predict and serve use by default: `onnx-int8` once `refit export --quantize int8` found that
   * int8 pays.
   */
  engine: 'onnx' | 'onnx-int8';
}

/**
 * Records a checked model.onnx in the folder's refit.json (`onnx`) and refreshes its manifest, so model.onnx and the
 * new refit.json are the folder's own; the relation and the NER export end alike.
 */
export async function recordOnnx(
  dir: string,
  ev: { opset: number; bytes: number },
  opts: { torch_version: string; data_name: string },
  check: { examples: number; max_abs_diff: number; same_relation: number },
): Promise<OnnxRecord> {
  const record: OnnxRecord = {
    file: ONNX_FILE,
    opset: ev.opset,
    bytes: ev.bytes,
    torch_version: opts.torch_version,
    onnxruntime_node: await ortVersion(),
    check: {
      examples: check.examples,
      data: basename(opts.data_name),
      max_abs_diff: check.max_abs_diff,
      tolerance: ONNX_FP32_TOLERANCE,
      same_relation: check.same_relation,
    },
    engine: 'onnx',
  };
  const refitJson = join(dir, 'refit.json');
  writeJsonAtomic(refitJson, { ...readJson<Record<string, unknown>>(refitJson), onnx: record });
  refreshManifest(dir);
  return record;
}

/**
 * Exports the model loaded in `worker` (restored from `model.dir`) to `<model.dir>/model.onnx` and checks it on
 * `examples` (their relations are ignored). Throws E_ONNX_PARITY, keeping no file, when logits differ by more than
 * ONNX_FP32_TOLERANCE.
 */
export async function exportOnnx(opts: {
  worker: SupervisedWorker;
  torch_version: string;
  model: LoadedModel;
  examples: Example[];
  data_name: string;
  opset: number;
  log: RunLog;
}): Promise<OnnxRecord> {
  const { model } = opts;
  const examples = opts.examples.slice(0, ONNX_CHECK_EXAMPLES).map((e) => ({ ...e, relation: undefined }));
  if (examples.length === 0)
    throw new RefitError(
      'E_ONNX_CHECK',
      `${opts.data_name}: no examples to check the exported model on (pass --data FILE)`,
    );
  const candidate = join(model.dir, `.${ONNX_FILE}.check-${process.pid}`);
  const tmp = mkdtempSync(join(tmpdir(), 'refit-export-'));
  try {
    const ev = await expect(
      opts.worker,
      { type: 'export_onnx', path: candidate, opset: opts.opset },
      'exported',
    );
    opts.log.write(
      `export: ${ONNX_FILE} written by torch.onnx.export in ${ev.seconds.toFixed(1)} s (${ev.bytes} bytes, ` +
        `opset ${ev.opset})`,
    );
    const enc = {
      tokenizer: model.text.tokenizer,
      max_seq_len: model.refit.max_seq_len,
      markers: model.text.markers,
      deepke_lm: model.text.deepke_lm,
    };
    const ds = await writeEncodedDataset({ examples, relations: model.relations, cache_dir: tmp, ...enc });
    await expect(opts.worker, { type: 'open_dataset', name: 'onnx-check', path: ds.path }, 'dataset_opened');
    const torch = await evalLogits(opts.worker, {
      dataset: 'onnx-check',
      lengths: ds.lengths,
      padding: 'dynamic',
      max_seq_len: model.refit.max_seq_len,
      tag: 'onnx-check',
    });
    const rows = examples.map((example) => encodeForHead({ ...enc, example }));
    const onnx = await onnxLogits({ path: candidate, rows, max_seq_len: model.refit.max_seq_len });
    const diff = maxAbsDiff(torch, onnx);
    const same = torch.filter((row, i) => argmax(row) === argmax(onnx[i])).length;
    opts.log.write(
      `export: onnxruntime vs torch on ${rows.length} examples of ${opts.data_name}: max |logit diff| ` +
        `${diff.toExponential(2)}, same relation ${same}/${rows.length}`,
    );
    if (!(diff <= ONNX_FP32_TOLERANCE)) {
      throw new RefitError(
        'E_ONNX_PARITY',
        `${join(model.dir, ONNX_FILE)}: onnxruntime's logits differ from torch's by ` +
          `${diff.toExponential(2)} (more than ${ONNX_FP32_TOLERANCE}) on ${opts.data_name}; not kept, ` +
          `predict stays on torch`,
      );
    }
    renameSync(candidate, join(model.dir, ONNX_FILE));
    rmSync(join(model.dir, ONNX_INT8_FILE), { force: true }); // an int8 file of the previous export no longer matches
    return await recordOnnx(model.dir, ev, opts, {
      examples: rows.length,
      max_abs_diff: diff,
      same_relation: same,
    });
  } finally {
    if (existsSync(candidate)) rmSync(candidate, { force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Logits of encoded rows from an ONNX file, in row order, batched by length as the worker's evaluation is. */
export async function onnxLogits(opts: {
  path: string;
  rows: EncodedExample[];
  max_seq_len: number;
  threads?: number;
  /** Checked before any row is run (checkOnnxGraph): the model folder's vocabulary and relation count. */
  check?: Omit<Parameters<typeof checkOnnxGraph>[1], 'path'>;
}): Promise<number[][]> {
  const session = await openOnnxSession({ path: opts.path, threads: opts.threads });
  try {
    if (opts.check) await checkOnnxGraph(session, { ...opts.check, path: opts.path });
    const lengths = opts.rows.map((r) => r.ids.length);
    const out: number[][] = new Array(opts.rows.length);
    for (const b of planEvalBatches({
      lengths,
      batch_size: EVAL_BATCH_SIZE,
      padding: 'dynamic',
      max_seq_len: opts.max_seq_len,
    })) {
      const logits = await session.logits(
        b.indices.map((i) => opts.rows[i]),
        b.seq_len,
      );
      b.indices.forEach((i, k) => {
        out[i] = logits[k];
      });
    }
    return out;
  } finally {
    await session.close();
  }
}

/** Largest absolute difference between two equally shaped logit tables (NaN anywhere → Infinity). */
export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) =>
    row.forEach((x, j) => {
      const d = Math.abs(x - b[i][j]);
      m = Number.isNaN(d) ? Infinity : Math.max(m, d);
    }),
  );
  return m;
}
