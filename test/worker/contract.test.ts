// Contract test: the real Python worker on CPU answers every command with the right event kind and fields,
// including errors for bad commands, bad model folders and checkpoints of another shape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerCommand, WorkerProcess } from '../../src/worker/index.ts';
import { LOGIT_TOLERANCE, assertCloseRows, maxAbsDiff } from '../numerics.ts';
import {
  expectEvent,
  makeExamples,
  readSafetensors,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const skip = !(await testPython()) && 'needs a python3 with torch (apt-get install python3-torch)';
let worker: WorkerProcess;
const dir = tempDir();
const dsPath = writeDataset(join(dir, 'train.refit-ds'), makeExamples(12));

before(async () => {
  if (!skip) ({ worker } = await startWorker());
});
after(async () => {
  await worker?.close();
});

/** Asserts the worker answers `cmd` with an error event of `code`. */
async function expectError(cmd: unknown, code: string, message?: RegExp): Promise<void> {
  const ev = await expectEvent(worker, cmd as WorkerCommand, 'error');
  assert.equal(ev.code, code, ev.message);
  assert.ok(!ev.message.includes('\n'), 'one-line message');
  if (message) assert.match(ev.message, message);
}

test('ready and hello carry versions, capabilities and threads', { skip }, async () => {
  assert.equal(worker.state, 'ready');
  assert.equal(worker.ready.protocol_version, 1);
  assert.equal(worker.ready.num_threads, 2);
  assert.equal(typeof worker.ready.capabilities.sdpa, 'boolean');
  const hello = await expectEvent(worker, { type: 'hello', protocol_version: 1 }, 'ready');
  assert.equal(hello.torch_version, worker.ready.torch_version);
  await expectError({ type: 'hello', protocol_version: 99 }, 'E_PROTOCOL');
});

test('bad commands answer error events and the loop keeps serving', { skip }, async () => {
  await expectError({ type: 'frobnicate' }, 'E_BAD_COMMAND', /unknown command type/);
  await expectError({ type: 'open_dataset', name: 'x' }, 'E_BAD_COMMAND', /missing field\(s\) path/);
  await expectError({ type: 'memory', bogus: 1 }, 'E_BAD_COMMAND', /unknown field/);
  await expectError(
    { type: 'eval', dataset: 'train', batches: [], tag: 'x' },
    'E_BAD_COMMAND',
    /no model loaded/,
  );
  await expectError(tinyLoad({ freeze_layers: 5 }), 'E_BAD_COMMAND', /freeze_layers 5/);
  await expectError(tinyLoad({ device: 'tpu' }), 'E_DEVICE');
  await expectError({ type: 'open_dataset', name: 'x', path: join(dir, 'missing.refit-ds') }, 'E_DATASET');
  const truncated = join(dir, 'truncated.refit-ds');
  writeFileSync(truncated, readFileSync(dsPath).subarray(0, readFileSync(dsPath).length - 16));
  await expectError(
    { type: 'open_dataset', name: 'x', path: truncated },
    'E_DATASET',
    /array labels lies outside the file/,
  );
  assert.equal(worker.state, 'ready');
});

test('load, open_dataset, train_step, memory', { skip }, async () => {
  const loaded = await expectEvent(worker, tinyLoad(), 'loaded');
  // embeddings (100+64+2)*32 + 2*32; 2 layers of 4*(32*32+32) + 2*2*32 + 32*64+64 + 64*32+32; pooler 32*32+32; head 64*3+3
  const expected = 166 * 32 + 64 + 2 * (4 * 1056 + 128 + 2112 + 2080) + 1056 + 195;
  assert.equal(loaded.params, expected);
  assert.equal(loaded.trainable_params, expected - 1056, 'the entity-start head does not train the pooler');
  const opened = await expectEvent(
    worker,
    { type: 'open_dataset', name: 'train', path: dsPath },
    'dataset_opened',
  );
  assert.deepEqual(
    [opened.n, opened.total_tokens],
    [12, makeExamples(12).reduce((s, e) => s + e.ids.length, 0)],
  );
  const micro = [
    { indices: [0, 1, 2], seq_len: 24 },
    { indices: [3], seq_len: 16 },
  ];
  const step = await expectEvent(
    worker,
    { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 4, micro_batches: micro },
    'step',
  );
  assert.equal(step.step, 1);
  assert.equal(step.examples, 4);
  assert.equal(
    step.tokens,
    [0, 1, 2, 3].reduce((s, i) => s + makeExamples(12)[i].ids.length, 0),
  );
  assert.equal(step.padded_tokens, 3 * 24 + 16);
  assert.equal(step.lr, 0, 'HF linear warmup starts at lr 0');
  assert.ok(step.loss > 0.5 && step.loss < 2, `loss ${step.loss} near ln 3`);
  assert.ok(step.grad_norm > 0 && step.seconds > 0);
  assert.equal(step.memory.device, 'cpu');
  assert.ok((step.memory.peak_rss_bytes ?? 0) > 50e6);
  const mem = await expectEvent(worker, { type: 'memory', reset_peak: true }, 'memory');
  assert.equal(mem.memory.device, 'cpu');
  await expectError(
    { type: 'train_step', step: 2, dataset: 'train', logical_batch_size: 5, micro_batches: micro },
    'E_BAD_COMMAND',
    /logical_batch_size is 5/,
  );
  await expectError(
    {
      type: 'train_step',
      step: 2,
      dataset: 'train',
      logical_batch_size: 1,
      micro_batches: [{ indices: [99], seq_len: 20 }],
    },
    'E_DATASET',
  );
  await expectError(
    {
      type: 'train_step',
      step: 2,
      dataset: 'train',
      logical_batch_size: 1,
      micro_batches: [{ indices: [5], seq_len: 4 }],
    },
    'E_DATASET',
    /seq_len 4 is shorter/,
  );
  await expectError(
    {
      type: 'train_step',
      step: 2,
      dataset: 'train',
      logical_batch_size: 1,
      micro_batches: [{ indices: [0], seq_len: 32 }],
      continue: true,
    },
    'E_BAD_COMMAND',
    /was not interrupted/,
  );
  await expectError(
    { type: 'eval', dataset: 'train', tag: 'x', batches: [{ indices: [0], seq_len: 65 }] },
    'E_BAD_COMMAND',
    /exceeds max_position_embeddings 64/,
  );
});

test('eval returns logits in batch order, independent of batching', { skip }, async () => {
  const one = await expectEvent(
    worker,
    { type: 'eval', dataset: 'train', tag: 'a', batches: [{ indices: [0, 1, 2, 3], seq_len: 32 }] },
    'eval_result',
  );
  const two = await expectEvent(
    worker,
    {
      type: 'eval',
      dataset: 'train',
      tag: 'b',
      batches: [
        { indices: [2, 0], seq_len: 24 },
        { indices: [3, 1], seq_len: 24 },
      ],
    },
    'eval_result',
  );
  assert.equal(one.tag, 'a');
  assert.equal(one.logits!.length, 4);
  assert.equal(one.logits![0].length, 3);
  const order = [2, 0, 3, 1];
  // fp32, same examples with different padding: only summation order differs.
  order.forEach((ex, row) =>
    one.logits![ex].forEach((v, j) => assert.ok(Math.abs(v - two.logits![row][j]) < 1e-5)),
  );
});

test('save writes an HF folder + checkpoint; restore brings weights and step back', { skip }, async () => {
  const out = join(dir, 'model');
  const batches = [{ indices: [4, 5, 6, 7], seq_len: 24 }];
  const saved = await expectEvent(worker, { type: 'save', path: out, checkpoint: true, step: 1 }, 'saved');
  assert.deepEqual([saved.path, saved.step], [out, 1]);
  for (const f of ['config.json', 'model.safetensors', 'checkpoint.pt'])
    assert.ok(existsSync(join(out, f)), f);
  const { tensors, metadata } = readSafetensors(join(out, 'model.safetensors'));
  assert.ok(tensors.has('bert.encoder.layer.1.attention.self.query.weight'));
  assert.deepEqual(tensors.get('classifier.bias')?.length, 3);
  assert.equal(metadata.refit_step, '1');
  const before = await expectEvent(
    worker,
    { type: 'eval', dataset: 'train', tag: 'x', batches },
    'eval_result',
  );
  await expectEvent(
    worker,
    { type: 'train_step', step: 2, dataset: 'train', logical_batch_size: 4, micro_batches: batches },
    'step',
  );
  const moved = await expectEvent(
    worker,
    { type: 'eval', dataset: 'train', tag: 'x', batches },
    'eval_result',
  );
  assert.ok(maxAbsDiff(moved.logits!, before.logits!) > 100 * LOGIT_TOLERANCE, 'the step moved the logits');
  const restored = await expectEvent(worker, { type: 'restore', path: out }, 'restored');
  assert.equal(restored.step, 1);
  const back = await expectEvent(
    worker,
    { type: 'eval', dataset: 'train', tag: 'x', batches },
    'eval_result',
  );
  // The same eval of the same weights: bit-identical on the reference BLAS and OpenBLAS, but a BLAS whose kernels
  // follow memory alignment (MKL) need not be, so within LOGIT_TOLERANCE (a step moves them 100 times more, above).
  assertCloseRows(
    back.logits!,
    before.logits!,
    LOGIT_TOLERANCE,
    'restored weights give the logits of step 1',
  );
  // The scheduler came back too: step 2 again runs at the same learning rate as before.
  const again = await expectEvent(
    worker,
    { type: 'train_step', step: 2, dataset: 'train', logical_batch_size: 4, micro_batches: batches },
    'step',
  );
  assert.ok(Math.abs(again.lr - 1e-3) < 1e-12);
});

test(
  "inspect_weights lists a weight file's tensors and refuses what is not a state dict",
  { skip },
  async () => {
    const info = await expectEvent(
      worker,
      { type: 'inspect_weights', path: join(dir, 'model', 'model.safetensors') },
      'weights_info',
    );
    assert.deepEqual(info.tensors['bert.embeddings.word_embeddings.weight'], {
      shape: [100, 32],
      dtype: 'float32',
    });
    assert.deepEqual(info.tensors['classifier.weight'], { shape: [3, 64], dtype: 'float32' });
    await expectError(
      { type: 'inspect_weights', path: join(dir, 'model', 'checkpoint.pt') },
      'E_MODEL_FILES',
      // torch 1.13's weights-only loader refuses refit's checkpoint; torch 2.x reads it and finds no state dict.
      /checkpoint\.pt: holds (Python objects besides tensors|a dict with keys format, version)/,
    );
  },
);

test('bad model folders and foreign checkpoints get stable codes', { skip }, async () => {
  await expectError(tinyLoad({ pretrained: join(dir, 'nope') }), 'E_MODEL_FILES', /model folder not found/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await expectError(tinyLoad({ pretrained: empty }), 'E_MODEL_FILES', /no config.json/);
  writeFileSync(join(empty, 'config.json'), '{}');
  await expectError(
    tinyLoad({ pretrained: empty }),
    'E_MODEL_FILES',
    /no model.safetensors or pytorch_model.bin/,
  );
  writeFileSync(join(empty, 'pytorch_model.bin'), 'not a pickle');
  await expectError(tinyLoad({ pretrained: empty }), 'E_MODEL_FILES', /pytorch_model.bin: cannot read/);
  writeFileSync(
    join(empty, 'model.safetensors'),
    Buffer.from([4, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7b, 0x7b]),
  );
  await expectError(
    tinyLoad({ pretrained: empty }),
    'E_MODEL_FILES',
    /model.safetensors: not a valid safetensors file/,
  );
  const model = join(dir, 'model');
  writeFileSync(join(model, 'vocab.txt'), Array.from({ length: 90 }, (_, i) => `t${i}`).join('\n') + '\n');
  await expectError(
    tinyLoad({ pretrained: model }),
    'E_MODEL_VOCAB',
    /90 tokens but config.json says vocab_size 100/,
  );
  writeFileSync(join(model, 'vocab.txt'), Array.from({ length: 100 }, (_, i) => `t${i}`).join('\n') + '\n');
  await expectEvent(worker, tinyLoad({ pretrained: model }), 'loaded');
  const wider = tinyLoad();
  wider.config = { ...wider.config, hidden_size: 64 };
  await expectError(
    { ...wider, pretrained: model },
    'E_CHECKPOINT_ARCH',
    /embeddings.word_embeddings.weight has shape \[100, 32\]/,
  );
  // Fine-tuning the saved model on another relation set loads the encoder and starts a fresh head...
  await expectEvent(
    worker,
    tinyLoad({ pretrained: model, head: { kind: 'entity-start', num_labels: 5, dropout: 0 } }),
    'loaded',
  );
  // ...but restoring a run folder trained on another relation set is refused.
  await expectError(
    { type: 'restore', path: model },
    'E_CHECKPOINT_ARCH',
    /classifier.weight has shape \[3, 64\] but this model expects \[5, 64\]/,
  );
});

test('precision: fp16 needs CUDA; bf16 autocast trains on CPU close to fp32', { skip }, async () => {
  await expectError(tinyLoad({ precision: 'fp16' }), 'E_DEVICE', /fp16 needs a CUDA GPU/);
  const batch = [{ indices: [0, 1, 2, 3], seq_len: 24 }];
  const losses: number[] = [];
  for (const precision of ['fp32', 'bf16'] as const) {
    const ev = await worker.request(tinyLoad({ precision }));
    if (ev.type === 'error') {
      assert.equal(ev.code, 'E_DEVICE');
      return;
    } // a CPU torch without bf16 autocast
    losses.push(
      (
        await expectEvent(
          worker,
          { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 4, micro_batches: batch },
          'step',
        )
      ).loss,
    );
  }
  // bf16 keeps ~3 significant digits: the loss of a near-uniform classifier (≈ ln 3) agrees to 2e-2.
  assert.ok(Math.abs(losses[0] - losses[1]) < 2e-2, `fp32 ${losses[0]} vs bf16 ${losses[1]}`);
});

// A 4 TB embedding table fails at once in the CPU allocator under the kernel's overcommit heuristic (mode 0) or
// strict mode (2); with overcommit always on (1) it could be granted and then kill the machine: skip there.
const overcommit = existsSync('/proc/sys/vm/overcommit_memory')
  ? readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim()
  : '1';
test(
  'an allocation that cannot fit outside a micro-batch is E_OOM with the allocator message',
  { skip: skip || (overcommit === '1' && 'vm.overcommit_memory=1') },
  async () => {
    const huge = tinyLoad();
    huge.config = { ...huge.config, vocab_size: 1e9, hidden_size: 1024 };
    await expectError(
      huge,
      'E_OOM',
      /DefaultCPUAllocator: can't allocate memory: you tried to allocate 4096000000000 bytes/,
    );
    await expectEvent(worker, { type: 'memory' }, 'memory');
  },
);

test('cls head, export_onnx and shutdown', { skip }, async () => {
  await expectEvent(worker, tinyLoad({ head: { kind: 'cls', num_labels: 3, dropout: 0.1 } }), 'loaded');
  const ev = await expectEvent(
    worker,
    { type: 'eval', dataset: 'train', tag: 'cls', batches: [{ indices: [0, 1], seq_len: 20 }] },
    'eval_result',
  );
  assert.equal(ev.logits!.length, 2);
  const onnx = join(dir, 'model.onnx');
  const exported = await expectEvent(worker, { type: 'export_onnx', path: onnx, opset: 17 }, 'exported');
  assert.deepEqual([exported.path, exported.opset, exported.bytes], [onnx, 17, readFileSync(onnx).length]);
  await expectError(
    { type: 'export_onnx', path: onnx, opset: 7 },
    'E_BAD_COMMAND',
    /opset 7 must be an integer >= 11/,
  );
  await expectError(
    { type: 'export_onnx', path: join(dir, 'no-such-folder', 'model.onnx'), opset: 17 },
    'E_EXPORT',
    /torch\.onnx\.export failed/,
  );
  await expectEvent(worker, { type: 'shutdown' }, 'bye');
  await worker.close();
  assert.equal(worker.state, 'stopped');
});
