// The predict path on a real trained tiny run and the real torch worker: each item is tokenized and encoded exactly
// once, no temporary file is written per request, and an `eval` that carries its encoded rows answers the same
// logits as one over the same rows written to an encoded dataset file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../../src/log.ts';
import { WordPieceTokenizer } from '../../src/tokenize/index.ts';
import { encodeForHead, writeEncodedDataset } from '../../src/encode/index.ts';
import { findPython } from '../../src/worker/index.ts';
import {
  expect,
  inferenceLoad,
  modelSpec,
  readModelFolder,
  setupWorker,
  startWorker,
} from '../../src/session/index.ts';
import { itemExample, openRunPredictor, type PredictItem } from '../../src/infer/index.ts';
import { NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

const ITEMS: PredictItem[] = [
  { text: 'Marie Curie was born in Warsaw.', head: 'Marie Curie', tail: 'Warsaw' },
  { text: 'Apple was founded by Steve Jobs in California.', head: 'Apple', tail: 'Steve Jobs' },
  { text: 'Pierre was not here.', head: 'Marie', tail: 'Pierre' }, // head not in the text: never encoded
];

describe('the predict path (torch worker)', { skip: NO_CLI }, () => {
  let run_dir: string;
  const scratch = mkdtempSync(join(tmpdir(), 'refit-predict-path-'));
  before(() => {
    run_dir = cachedTinyRun();
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('each item is encoded once and no temporary file is written', async () => {
    // Every encoding tokenizes the item's whole text first (tokensWithEdges / encodeDeepkeLm): count those calls.
    const calls = new Map<string, number>();
    const proto = WordPieceTokenizer.prototype;
    const original = proto.tokenizeInto;
    proto.tokenizeInto = function (this: WordPieceTokenizer, ...args: Parameters<typeof original>) {
      calls.set(args[0], (calls.get(args[0]) ?? 0) + 1);
      return original.apply(this, args);
    };
    const tmp = join(scratch, 'tmp');
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp; // os.tmpdir() reads it on each call
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const predictor = await openRunPredictor({
      run_dir,
      engine: 'torch',
      env: process.env,
      log: new RunLog(),
    });
    try {
      const out = await predictor.predict(ITEMS, { top_k: 2 });
      assert.deepEqual(
        out.map((p) => [p.id, p.error === undefined]),
        [
          [0, true],
          [1, true],
          [2, false],
        ],
      );
      assert.deepEqual(
        ITEMS.map((it) => calls.get(it.text) ?? 0),
        [1, 1, 0],
        'whole-text tokenizations per item',
      );
      // before close: a per-request folder or file would still be there
      assert.deepEqual(readdirSync(tmp), [], 'files written under TMPDIR while predicting');
    } finally {
      proto.tokenizeInto = original;
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      await predictor.close();
    }
  });

  test('an eval carrying its rows answers the logits of the same rows opened from a dataset file', async () => {
    const model = readModelFolder(run_dir);
    const log = new RunLog();
    const { python } = await findPython({ env: process.env });
    const worker = await startWorker({ python, env: process.env, log, num_threads: 1 });
    try {
      const load = inferenceLoad(
        { ...modelSpec(model), num_threads: 1 },
        { device: 'cpu', attention: 'eager' },
      );
      await setupWorker(worker, { load, datasets: [], restore_from: model.dir });
      const enc = {
        tokenizer: model.text.tokenizer,
        max_seq_len: model.refit.max_seq_len,
        markers: model.text.markers,
        deepke_lm: model.text.deepke_lm,
      };
      const examples = ITEMS.slice(0, 2).map((it, i) => itemExample(it, i + 1));
      const good = examples.filter((e) => typeof e !== 'string');
      const rows = good.map((example) => encodeForHead({ ...enc, example }));
      const ds = await writeEncodedDataset({
        ...enc,
        examples: good,
        relations: model.relations,
        cache_dir: scratch,
      });
      await expect(worker, { type: 'open_dataset', name: 'file', path: ds.path }, 'dataset_opened');
      const batches = [{ indices: [1, 0], seq_len: Math.max(...rows.map((r) => r.ids.length)) }];
      const fromFile = await expect(
        worker,
        { type: 'eval', dataset: 'file', batches, tag: 'f' },
        'eval_result',
      );
      const inline = {
        input_ids: rows.map((r) => r.ids),
        head_pos: rows.map((r) => r.head_pos),
        tail_pos: rows.map((r) => r.tail_pos),
      };
      const fromRows = await expect(worker, { type: 'eval', rows: inline, batches, tag: 'r' }, 'eval_result');
      // the same tensors through the same model: equal to the last bit
      assert.deepEqual(fromRows.logits, fromFile.logits);
      const both = await worker.request({ type: 'eval', dataset: 'file', rows: inline, batches, tag: 'x' });
      assert.equal(both.type, 'error');
      assert.match((both as { message: string }).message, /^eval: give either dataset or rows$/);
    } finally {
      await worker.close();
    }
  });
});
