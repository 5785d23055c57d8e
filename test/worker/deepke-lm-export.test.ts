// The deepke-lm head exported to ONNX (export_onnx swaps its packed RNN for an unpacked copy with the same weights):
// onnxruntime-node's logits equal the worker's torch logits on batches of other sizes and lengths than the traced
// sample, for a 2-layer bidirectional LSTM, a bidirectional GRU and a 2-layer unidirectional RNN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { RnnSpec, WorkerProcess } from '../../src/worker/index.ts';
import { openOnnxSession } from '../../src/infer/index.ts';
import {
  expectEvent,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
  type RawExample,
} from './helpers.ts';

const skip = !(await testPython()) && 'needs a python3 with torch';
let worker: WorkerProcess;
const dir = tempDir('refit-deepke-lm-export-');

// 18 rows of lengths 3..20 in a mixed order; the batches below pick rows of unequal lengths.
const examples: RawExample[] = Array.from({ length: 18 }, (_, i) => {
  const len = 3 + ((i * 7) % 18);
  const ids = [2, ...Array.from({ length: len - 2 }, (_, j) => 5 + ((i * 13 + j * 31) % 90)), 3];
  return { ids, head_pos: 1, tail_pos: Math.min(2, len - 1), label: i % 3 };
});
const dsPath = writeDataset(join(dir, 'rows.refit-ds'), examples);
const lengthOf = (i: number) => examples[i].ids.length;
const shortest = examples.findIndex((e) => e.ids.length === 3);
const longest = examples.findIndex((e) => e.ids.length === 20);
// batch 1 at the row's own length (3, then 20), batch 5 of lengths 3..20 padded to 20 and to 32, batch 18 (all)
const BATCHES: Array<{ indices: number[]; seq_len: number }> = [
  { indices: [shortest], seq_len: 3 },
  { indices: [longest], seq_len: 20 },
  { indices: [0, 1, 2, shortest, longest], seq_len: 20 },
  { indices: [4, longest, 6, shortest, 8], seq_len: 32 },
  { indices: examples.map((_, i) => i), seq_len: 24 },
];

before(async () => {
  if (!skip) ({ worker } = await startWorker());
});
after(async () => {
  await worker?.close();
});

const CASES: Array<[string, RnnSpec]> = [
  [
    'LSTM bidirectional, 2 layers',
    { type: 'LSTM', hidden_size: 10, num_layers: 2, bidirectional: true, last_layer_hn: true, dropout: 0.3 },
  ],
  [
    'GRU bidirectional, 1 layer',
    { type: 'GRU', hidden_size: 12, num_layers: 1, bidirectional: true, last_layer_hn: true, dropout: 0.3 },
  ],
  [
    'RNN unidirectional, 2 layers',
    { type: 'RNN', hidden_size: 8, num_layers: 2, bidirectional: false, last_layer_hn: true, dropout: 0.3 },
  ],
];

for (const [name, rnn] of CASES) {
  test(
    `deepke-lm ${name}: the exported graph's logits equal torch's on batches 1, 5 and 18 (≤ 1e-4)`,
    { skip },
    async (t) => {
      // dropout 0.3 in the RNN and before fc: export is in eval mode, as the worker's eval is
      await expectEvent(
        worker,
        tinyLoad({ head: { kind: 'deepke-lm', num_labels: 3, dropout: 0.3, rnn } }),
        'loaded',
      );
      await expectEvent(worker, { type: 'open_dataset', name: 'rows', path: dsPath }, 'dataset_opened');
      const torch = await expectEvent(
        worker,
        { type: 'eval', dataset: 'rows', batches: BATCHES, tag: 'torch' },
        'eval_result',
      );
      const path = join(dir, `${rnn.type}.onnx`);
      await expectEvent(worker, { type: 'export_onnx', path, opset: 17 }, 'exported');
      const session = await openOnnxSession({ path, threads: 1 });
      try {
        assert.ok(session.input_names.includes('lengths'), `inputs ${session.input_names.join(', ')}`);
        let at = 0;
        let worst = 0;
        for (const b of BATCHES) {
          const rows = b.indices.map((i) => ({ ...examples[i], truncated: false }));
          assert.ok(b.indices.every((i) => lengthOf(i) <= b.seq_len));
          const onnx = await session.logits(rows, b.seq_len);
          assert.equal(onnx.length, b.indices.length);
          onnx.forEach((row, k) => {
            const want = torch.logits![at + k];
            assert.equal(row.length, want.length);
            row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[j]))));
          });
          at += b.indices.length;
        }
        assert.equal(at, torch.logits!.length);
        t.diagnostic(`max |onnx − torch| ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-4, `${name}: max |onnx − torch| ${worst}`);
      } finally {
        await session.close();
      }
    },
  );
}
