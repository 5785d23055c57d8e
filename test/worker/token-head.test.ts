// The token head (NER) through the real worker on Weibo NER sentences encoded as `refit train` encodes them: its loss
// and gradients against plain torch (in-process, check_token_head.py), eval's tags, scores and per-position
// cross-entropy (the eval loss), predict's rows, a few steps lowering the loss, save → restore → continue equal to an
// uninterrupted run, and the exported ONNX graph's logits in onnxruntime-node equal to torch's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nerLabelNames, readNerDataset } from '../../src/data/index.ts';
import { readNerEncoded, writeNerDataset, type NerDatasetView } from '../../src/encode/index.ts';
import { loadOrt } from '../../src/infer/index.ts';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import type { LoadCommand, MicroBatch, WorkerEvent, WorkerProcess } from '../../src/worker/index.ts';
import {
  expectEvent,
  makeExamples,
  maxDiff,
  readSafetensors,
  REPO,
  SHARED,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const python = await testPython();
const skip =
  (!existsSync(SHARED) && 'needs ../shared (Weibo NER and the Chinese BERT vocabulary)') ||
  (!python && 'needs a python3 with torch (apt-get install python3-torch)');
const dir = tempDir('refit-token-head-');
const SENTENCES = 32;
let view: NerDatasetView;
let worker: WorkerProcess;

before(async () => {
  if (skip) return;
  // The first SENTENCES sentences of Weibo NER's train file, a character per position, cut at 64 positions.
  const d = await readNerDataset({ path: join(SHARED, 'assets/weibo-ner/train.txt') });
  const tokenizer = new WordPieceTokenizer(
    Vocab.fromFile(join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt')),
    { lowercase: true },
  );
  const written = await writeNerDataset({
    sentences: d.sentences.slice(0, SENTENCES),
    labels: nerLabelNames({ tags: d.tags }),
    tokenizer,
    max_seq_len: 64,
    cache_dir: dir,
  });
  view = readNerEncoded(written.path);
  ({ worker } = await startWorker());
});
after(async () => {
  await worker?.close();
});

/** A tiny BERT over the Chinese vocabulary with the token head (num_labels = the file's tags). */
function tokenLoad(over: Partial<LoadCommand> = {}, dropout = 0.1): LoadCommand {
  const base = tinyLoad({}, dropout);
  return {
    ...base,
    config: { ...base.config, vocab_size: 21128, max_position_embeddings: 128 },
    head: { kind: 'token', num_labels: view.header.labels.length, dropout },
    ...over,
  };
}

const lengthOf = (i: number): number => view.lengths[i];
/** A micro-batch of `indices` padded to its longest sentence. */
const micro = (indices: number[]): MicroBatch => ({ indices, seq_len: Math.max(...indices.map(lengthOf)) });
/** Sentence i's labelled positions (label id not -100), in order. */
function labelled(i: number): number[] {
  const start = Number(view.offsets[i]);
  const out: number[] = [];
  for (let p = 0; p < view.lengths[i]; p++) if (view.label_ids[start + p] !== -100) out.push(p);
  return out;
}

async function open(): Promise<void> {
  await expectEvent(worker, { type: 'open_dataset', name: 'ner', path: view.path }, 'dataset_opened');
}

async function trainStep(step: number, indices: number[][]): Promise<Extract<WorkerEvent, { type: 'step' }>> {
  const logical_batch_size = indices.reduce((n, m) => n + m.length, 0);
  return expectEvent(
    worker,
    { type: 'train_step', step, dataset: 'ner', logical_batch_size, micro_batches: indices.map(micro) },
    'step',
  );
}

test(
  'in-process: loss and gradients equal plain torch (one batch, two micro-batches, an OOM continued); eval is argmax/softmax',
  { skip },
  (t) => {
    const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_token_head.py'), view.path, dir], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    const out = run.stdout || `{"ok":false,"stderr":${JSON.stringify(run.stderr)}}`;
    const result = JSON.parse(out) as Record<string, { ok: boolean }>;
    t.diagnostic(JSON.stringify(result));
    for (const [name, r] of Object.entries(result)) assert.ok(r.ok, `${name}: ${JSON.stringify(r, null, 1)}`);
    assert.equal(run.status, 0, run.stderr);
  },
);

test(
  'eval answers tags and scores at each labelled position; predict rows (word_starts) give the same',
  { skip },
  async () => {
    await expectEvent(worker, tokenLoad(), 'loaded');
    await open();
    const batches = [micro([0, 1, 2]), { indices: [3, 4, 5, 6], seq_len: 64 }];
    const ev = await expectEvent(
      worker,
      { type: 'eval', dataset: 'ner', batches, tag: 'dev' },
      'eval_result',
    );
    assert.equal(ev.logits, undefined);
    const order = batches.flatMap((b) => b.indices);
    assert.equal(ev.tags!.length, order.length);
    order.forEach((i, row) => {
      assert.equal(ev.tags![row].length, labelled(i).length, `sentence ${i}: one tag per labelled position`);
      assert.equal(ev.scores![row].length, labelled(i).length);
      ev.tags![row].forEach((t) => assert.ok(Number.isInteger(t) && t >= 0 && t < view.header.labels.length));
      ev.scores![row].forEach((s) => assert.ok(s > 0 && s <= 1));
      // a labelled data set: the gold tag's cross-entropy at each position read (check_token_head.py: plain torch's)
      assert.equal(ev.nll![row].length, labelled(i).length);
      ev.nll![row].forEach((v) => assert.ok(Number.isFinite(v) && v >= 0));
    });
    // Predict's rows: the same sentences with their words' first sub-tokens (word_pos without the cut -1s).
    const rows = {
      input_ids: order.map((i) =>
        Array.from(view.input_ids.subarray(Number(view.offsets[i]), Number(view.offsets[i + 1]))),
      ),
      word_starts: order.map((i) =>
        Array.from(
          view.word_pos.subarray(Number(view.word_offsets[i]), Number(view.word_offsets[i + 1])),
        ).filter((p) => p >= 0),
      ),
    };
    const again = await expectEvent(
      worker,
      // rows 0..6 are sentences 0..6: the same batches
      { type: 'eval', rows, batches, tag: 'predict' },
      'eval_result',
    );
    assert.deepEqual(again.tags, ev.tags);
    assert.equal(again.nll, undefined, "predict's rows carry no labels: no loss");
    // the same rows in the same batches: the same sums, so the same probabilities (fp32; 1e-6 allows another BLAS path)
    again.scores!.forEach((r, i) => r.forEach((s, j) => assert.ok(Math.abs(s - ev.scores![i][j]) <= 1e-6)));
  },
);

test(
  'a head and a dataset of different tasks, or rows without word_starts, are one E_DATASET/E_BAD_COMMAND line',
  { skip },
  async () => {
    const relations = writeDataset(join(dir, 'relations.refit-ds'), makeExamples(4));
    await expectEvent(worker, tokenLoad(), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 're', path: relations }, 'dataset_opened');
    const wrong = await worker.request({
      type: 'eval',
      dataset: 're',
      batches: [{ indices: [0], seq_len: 24 }],
      tag: 'x',
    });
    assert.equal(wrong.type, 'error');
    assert.match((wrong as { message: string }).message, /the token head reads an NER dataset \(task: ner\)/);
    const noStarts = await worker.request({
      type: 'eval',
      rows: { input_ids: [[101, 102]], head_pos: [0], tail_pos: [1] },
      batches: [{ indices: [0], seq_len: 2 }],
      tag: 'x',
    });
    assert.equal((noStarts as { code?: string }).code, 'E_BAD_COMMAND');
    assert.match((noStarts as { message: string }).message, /rows must hold input_ids and word_starts/);
    await expectEvent(
      worker,
      tinyLoad({ config: { ...tinyLoad().config, vocab_size: 21128, max_position_embeddings: 128 } }),
      'loaded',
    );
    await open();
    const re = await worker.request({
      type: 'train_step',
      step: 1,
      dataset: 'ner',
      logical_batch_size: 1,
      micro_batches: [micro([0])],
    });
    assert.equal((re as { code?: string }).code, 'E_DATASET');
    assert.match(
      (re as { message: string }).message,
      /the entity-start head reads a relation dataset, not this ner one/,
    );
  },
);

test('training a few steps on Weibo NER lowers the loss', { skip }, async (t) => {
  await expectEvent(
    worker,
    tokenLoad({
      optimizer: { kind: 'adamw', lr: 3e-3, weight_decay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
      schedule: { warmup_steps: 0, total_steps: 100 },
    }),
    'loaded',
  );
  await open();
  const losses: number[] = [];
  for (let step = 1; step <= 24; step++) {
    const first = ((step - 1) * 8) % SENTENCES;
    const ev = await trainStep(step, [
      [0, 1, 2, 3].map((k) => first + k),
      [4, 5, 6, 7].map((k) => first + k),
    ]);
    assert.equal(ev.examples, 8);
    losses.push(ev.loss);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  t.diagnostic(`loss ${losses[0].toFixed(3)} → ${losses.at(-1)!.toFixed(3)}`);
  // ln(17 tags) ≈ 2.8 at random init; predicting the frequent O alone brings it well under half of that
  assert.ok(losses[0] > 2, `first loss ${losses[0]}`);
  assert.ok(
    mean(losses.slice(-4)) < 0.5 * mean(losses.slice(0, 4)),
    losses.map((l) => l.toFixed(3)).join(' '),
  );
});

test(
  'save → restore → continue gives the weights and losses of the uninterrupted run',
  { skip },
  async () => {
    // dropout 0.1 and AdamW: the restore must bring the optimizer state, the schedule and the dropout seeds back
    const steps = [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
      [12, 13, 14, 15],
    ];
    const ckpt = join(dir, 'ckpt');
    await expectEvent(worker, tokenLoad(), 'loaded');
    await open();
    const clean: number[] = [];
    for (let s = 1; s <= 4; s++) {
      clean.push((await trainStep(s, [steps[s - 1].slice(0, 2), steps[s - 1].slice(2)])).loss);
      if (s === 2)
        await expectEvent(worker, { type: 'save', path: ckpt, checkpoint: true, step: 2 }, 'saved');
    }
    await expectEvent(
      worker,
      { type: 'save', path: join(dir, 'clean'), checkpoint: false, step: 4 },
      'saved',
    );
    await expectEvent(worker, tokenLoad(), 'loaded'); // the run's seed: it seeds the dropout of every micro-batch
    await open();
    assert.equal((await expectEvent(worker, { type: 'restore', path: ckpt }, 'restored')).step, 2);
    const resumed: number[] = [];
    for (let s = 3; s <= 4; s++)
      resumed.push((await trainStep(s, [steps[s - 1].slice(0, 2), steps[s - 1].slice(2)])).loss);
    await expectEvent(
      worker,
      { type: 'save', path: join(dir, 'resumed'), checkpoint: false, step: 4 },
      'saved',
    );
    // The same computation on the same machine: bit-identical with the reference BLAS and OpenBLAS; 1e-6 leaves room
    // for a BLAS whose kernels follow memory alignment, while one lost AdamW state moves weights by about lr = 1e-3.
    const a = readSafetensors(join(dir, 'clean', 'model.safetensors')).tensors;
    const b = readSafetensors(join(dir, 'resumed', 'model.safetensors')).tensors;
    assert.ok(maxDiff(a, b) <= 1e-6, `max |clean − resumed| ${maxDiff(a, b)}`);
    resumed.forEach((l, i) =>
      assert.ok(Math.abs(l - clean[i + 2]) <= 1e-6, `step ${i + 3}: ${l} vs ${clean[i + 2]}`),
    );
    const config = JSON.parse(readFileSync(join(dir, 'resumed', 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(config.architectures, ['BertForTokenClassification']);
  },
);

test(
  "the token head's ONNX graph gives torch's logits [batch, seq, num_labels] in onnxruntime-node (≤ 1e-4)",
  { skip },
  async (t) => {
    // token.onnx and torch-logits.json are written by the in-process test above (check_token_head.py)
    const ref = JSON.parse(readFileSync(join(dir, 'torch-logits.json'), 'utf8')) as {
      batches: MicroBatch[];
      logits: number[][][][];
    };
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(join(dir, 'token.onnx'), {
      executionProviders: ['cpu'],
    });
    try {
      assert.deepEqual([...session.inputNames].sort(), ['attention_mask', 'input_ids']);
      let worst = 0;
      for (const [k, b] of ref.batches.entries()) {
        const n = b.seq_len;
        const ids = new BigInt64Array(b.indices.length * n);
        const mask = new BigInt64Array(b.indices.length * n);
        b.indices.forEach((i, r) => {
          const start = Number(view.offsets[i]);
          for (let p = 0; p < view.lengths[i]; p++) {
            ids[r * n + p] = BigInt(view.input_ids[start + p]);
            mask[r * n + p] = 1n;
          }
        });
        const out = await session.run({
          input_ids: new ort.Tensor('int64', ids, [b.indices.length, n]),
          attention_mask: new ort.Tensor('int64', mask, [b.indices.length, n]),
        });
        const logits = out.logits;
        const L = view.header.labels.length;
        assert.deepEqual(logits.dims.map(Number), [b.indices.length, n, L]);
        const data = logits.data as Float32Array;
        ref.logits[k].forEach((row, r) =>
          row.forEach((pos, p) =>
            pos.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - data[(r * n + p) * L + j])))),
          ),
        );
      }
      t.diagnostic(`max |onnx − torch| ${worst.toExponential(2)}`);
      // fp32 on both sides; the graph fuses LayerNorm/GELU/attention differently, about 1e-6 on logits of this size
      assert.ok(worst <= 1e-4, `max |onnx − torch| ${worst}`);
    } finally {
      await session.release();
    }
  },
);

test(
  'an OOM re-split with continue gives the step of an uninterrupted run (the loss over the same labelled tokens)',
  { skip },
  async () => {
    const split = [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ];
    // no warmup: step 1 runs at lr 1e-3, so the weights after it show a lost or doubled micro-batch
    const NO_WARMUP = { schedule: { warmup_steps: 0, total_steps: 10 } };
    await expectEvent(worker, tokenLoad(NO_WARMUP, 0), 'loaded');
    await open();
    const clean = await trainStep(1, split);
    await expectEvent(
      worker,
      { type: 'save', path: join(dir, 'oom-clean'), checkpoint: false, step: 1 },
      'saved',
    );
    const faulty = (await startWorker({ REFIT_INJECT_OOM: '1' })).worker;
    try {
      await expectEvent(faulty, tokenLoad(NO_WARMUP, 0), 'loaded');
      await expectEvent(faulty, { type: 'open_dataset', name: 'ner', path: view.path }, 'dataset_opened');
      const cmd = { type: 'train_step' as const, step: 1, dataset: 'ner', logical_batch_size: 8 };
      const oom = await expectEvent(faulty, { ...cmd, micro_batches: split.map(micro) }, 'oom');
      assert.equal(oom.completed_micro_batches, 0);
      // the first micro-batch re-split in two, each a different share of the step's labelled tokens
      const resplit = [[0, 1], [2, 3], split[1]].map(micro);
      const done = await expectEvent(faulty, { ...cmd, micro_batches: resplit, continue: true }, 'step');
      // fp32, dropout off: the splits differ only in summation order (about 1e-7 relative)
      assert.ok(Math.abs(done.loss - clean.loss) <= 1e-6 * clean.loss, `${done.loss} vs ${clean.loss}`);
      await expectEvent(
        faulty,
        { type: 'save', path: join(dir, 'oom-faulty'), checkpoint: false, step: 1 },
        'saved',
      );
    } finally {
      await faulty.close();
    }
    const diff = maxDiff(
      readSafetensors(join(dir, 'oom-clean', 'model.safetensors')).tensors,
      readSafetensors(join(dir, 'oom-faulty', 'model.safetensors')).tensors,
    );
    assert.ok(diff <= 1e-6, `weights after the step differ by ${diff}`);
  },
);
