// `refit export --quantize int8`: model.int8.onnx from model.onnx (onnx-int8.ts), measured against fp32 on the run's
// own labelled test rows on this machine. int8 becomes the default engine only when it pays: macro-F1 drops by at
// most INT8_MAX_F1_DROP points and it is faster; otherwise the file is removed. Both figures go into refit.json.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RunLog } from '../log.ts';
import type { Example } from '../data/types.ts';
import { encodeForHead } from '../encode/index.ts';
import { scoreLogits } from '../session/index.ts';
import { readJson, refreshManifest, writeJsonAtomic } from '../session/index.ts';
import type { LoadedModel } from '../session/index.ts';
import { onnxLogits } from './onnx-export.ts';
import { quantizeOnnxInt8 } from './onnx-int8.ts';
import { ONNX_FILE, ONNX_INT8_FILE } from './onnx-runtime.ts';

/** Largest macro-F1 drop (points, 0–100 scale) for which int8 is kept. */
export const INT8_MAX_F1_DROP = 1.0;

/** What refit.json records about int8 (key `onnx.int8`): both engines' macro-F1 and speed on the same rows. */
export interface Int8Record {
  file: string;
  kept: boolean;
  quantized_matmuls: number;
  bytes: number;
  examples: number;
  data: string;
  threads: number;
  macro_f1_fp32: number;
  macro_f1_int8: number;
  examples_per_s_fp32: number;
  examples_per_s_int8: number;
  rule: string;
}

/** Quantises `<model.dir>/model.onnx`, measures both on `examples` (labelled) and records the outcome in refit.json. */
export async function quantizeAndMeasure(opts: {
  model: LoadedModel;
  examples: Example[];
  data_name: string;
  threads: number;
  log: RunLog;
}): Promise<Int8Record> {
  const { model } = opts;
  const fp32 = join(model.dir, ONNX_FILE);
  const int8 = join(model.dir, ONNX_INT8_FILE);
  const q = quantizeOnnxInt8(readFileSync(fp32));
  writeFileSync(`${int8}.tmp-${process.pid}`, q.bytes);
  renameSync(`${int8}.tmp-${process.pid}`, int8);
  const known = new Set(model.relations.names);
  const labelled = opts.examples.filter((e) => e.relation !== undefined && known.has(e.relation));
  const enc = {
    tokenizer: model.text.tokenizer,
    max_seq_len: model.refit.max_seq_len,
    markers: model.text.markers,
    deepke_lm: model.text.deepke_lm,
  };
  const rows = labelled.map((example) =>
    encodeForHead({ ...enc, example: { ...example, relation: undefined } }),
  );
  const gold = labelled.map((e) => e.relation as string);
  const measure = async (path: string) => {
    await onnxLogits({
      path,
      rows: rows.slice(0, 8),
      max_seq_len: model.refit.max_seq_len,
      threads: opts.threads,
    }); // load and warm up once
    const t0 = performance.now();
    const logits = await onnxLogits({
      path,
      rows,
      max_seq_len: model.refit.max_seq_len,
      threads: opts.threads,
    });
    const seconds = (performance.now() - t0) / 1000;
    return {
      f1: scoreLogits({ logits, gold, relations: model.relations }).macro_f1,
      eps: rows.length / seconds,
    };
  };
  const a = await measure(fp32);
  const b = await measure(int8);
  const kept = rows.length > 0 && (a.f1 - b.f1) * 100 <= INT8_MAX_F1_DROP && b.eps > a.eps;
  const record: Int8Record = {
    file: ONNX_INT8_FILE,
    kept,
    quantized_matmuls: q.quantized,
    bytes: q.bytes.length,
    examples: rows.length,
    data: basename(opts.data_name),
    threads: opts.threads,
    macro_f1_fp32: a.f1,
    macro_f1_int8: b.f1,
    examples_per_s_fp32: a.eps,
    examples_per_s_int8: b.eps,
    rule:
      `int8 is the default engine when macro-F1 drops by at most ${INT8_MAX_F1_DROP} point and it is ` +
      `faster on this machine`,
  };
  opts.log.write(
    `export: int8 ${q.quantized} MatMuls; macro-F1 ${a.f1.toFixed(4)} → ${b.f1.toFixed(4)}, ` +
      `${a.eps.toFixed(1)} → ${b.eps.toFixed(1)} examples/s: ${kept ? 'kept' : 'not kept'}`,
  );
  if (!kept) rmSync(int8, { force: true });
  const refitJson = join(model.dir, 'refit.json');
  const current = readJson<Record<string, any>>(refitJson);
  writeJsonAtomic(refitJson, {
    ...current,
    onnx: { ...current.onnx, engine: kept ? 'onnx-int8' : 'onnx', int8: record },
  });
  refreshManifest(model.dir);
  return record;
}
