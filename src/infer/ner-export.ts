// Exporting an NER run's token head to model/model.onnx: the worker writes the graph (output `logits` [batch, seq,
// num_labels]), then onnxruntime-node's tags and scores at each word start are checked against the worker's on the
// run's own sentences before the file is kept, and the check is recorded in refit.json, as for relation heads.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import { expect, type LoadedModel } from '../session/index.ts';
import { nerRows } from './ner-predictor.ts';
import { onnxTagRows, workerTagRows } from './ner-engines.ts';
import { ONNX_CHECK_EXAMPLES, ONNX_FP32_TOLERANCE, recordOnnx, type OnnxRecord } from './onnx-export.ts';
import { ONNX_FILE, ONNX_INT8_FILE, openOnnxSession } from './onnx-runtime.ts';

/**
 * Exports the token head loaded in `worker` and checks it on `texts`: every tag equal and every score within
 * ONNX_FP32_TOLERANCE (a probability moves less than the logits it comes from). Throws E_ONNX_PARITY, keeping no
 * file, otherwise.
 */
export async function exportNerOnnx(opts: {
  worker: SupervisedWorker;
  torch_version: string;
  model: LoadedModel;
  texts: string[];
  data_name: string;
  opset: number;
  log: RunLog;
}): Promise<OnnxRecord> {
  const { model } = opts;
  const texts = opts.texts.slice(0, ONNX_CHECK_EXAMPLES);
  if (texts.length === 0)
    throw new RefitError('E_ONNX_CHECK', `${opts.data_name}: no sentences to check the exported model on`);
  const candidate = join(model.dir, `.${ONNX_FILE}.check-${process.pid}`);
  try {
    const ev = await expect(
      opts.worker,
      { type: 'export_onnx', path: candidate, opset: opts.opset },
      'exported',
    );
    opts.log.write(
      `export: ${ONNX_FILE} (token head) written in ${ev.seconds.toFixed(1)} s (${ev.bytes} bytes)`,
    );
    const { rows } = nerRows(model, texts);
    const torch = await workerTagRows(opts.worker, rows, model.refit.max_seq_len);
    const session = await openOnnxSession({ path: candidate, pad_id: model.text.vocab.pad_id });
    const onnx = await onnxTagRows(session, rows, model.refit.max_seq_len).finally(() => session.close());
    let diff = 0;
    let same = 0;
    let words = 0;
    torch.tags.forEach((tags, i) =>
      tags.forEach((t, w) => {
        words++;
        if (t === onnx.tags[i][w]) same++;
        const d = Math.abs(torch.scores[i][w] - onnx.scores[i][w]);
        diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      }),
    );
    opts.log.write(
      `export: onnxruntime vs torch on ${texts.length} sentences of ${opts.data_name}: max |score diff| ` +
        `${diff.toExponential(2)}, same tag ${same}/${words}`,
    );
    if (!(diff <= ONNX_FP32_TOLERANCE) || same !== words)
      throw new RefitError(
        'E_ONNX_PARITY',
        `${join(model.dir, ONNX_FILE)}: onnxruntime's tags differ from torch's (${words - same} of ${words} tags, ` +
          `scores by ${diff.toExponential(2)}) on ${opts.data_name}; not kept, predict stays on torch`,
      );
    renameSync(candidate, join(model.dir, ONNX_FILE));
    rmSync(join(model.dir, ONNX_INT8_FILE), { force: true });
    return await recordOnnx(model.dir, ev, opts, {
      examples: texts.length,
      max_abs_diff: diff,
      same_relation: same,
    });
  } finally {
    if (existsSync(candidate)) rmSync(candidate, { force: true });
  }
}
