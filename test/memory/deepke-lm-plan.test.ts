// The memory plan of DeepKE's LM model (the deepke-lm head: BertModel with an unused pooler → RNN → Linear)
// and of nn.DataParallel (DeepKE's use_multi_gpu), through the memory surface: exact parameter and state
// bytes, the RNN's derived activation term, GPU 0's share under DataParallel, and fitConfig keeping the head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countParams,
  exactTerms,
  fitConfig,
  hfTraits,
  knownModelDims,
  paramTensors,
  plainConfig,
  planMemory,
  resolveGpu,
  rnnActivationBytes,
  rnnHeadShape,
  tensorBytes,
  withLayers,
  type RunShape,
} from '../../src/memory/index.ts';

const ZH1 = withLayers(knownModelDims('bert-base-chinese')!.dims, 1);
const ZH12 = knownModelDims('bert-base-chinese')!.dims;
const DEEPKE: RunShape = {
  engine: 'hf',
  mode: 'train',
  batch_size: 32,
  seq_len: 512,
  precision: 'fp32',
  attention: 'eager',
  grad_checkpointing: false,
  optimizer: 'adamw',
  num_labels: 11,
  head: 'deepke-lm',
  rnn: { type: 'LSTM', hidden_size: 100, num_layers: 1, bidirectional: true },
};

test('parameters: BertModel with its pooler + torch LSTM/GRU/RNN + Linear(hidden, n), counted exactly', () => {
  const bert = countParams(paramTensors(ZH1, { concat: 0, pooler: true, num_labels: 0 })); // BertModel incl. pooler
  assert.equal(bert, 24_301_056);
  const lstm = 2 * (4 * 50 * 768 + 4 * 50 * 50 + 2 * 4 * 50); // weight_ih, weight_hh, bias_ih, bias_hh per direction
  assert.equal(
    countParams(paramTensors(ZH1, { ...hfTraits('deepke-lm', DEEPKE.rnn).head, num_labels: 11 })),
    bert + lstm + 100 * 11 + 11,
  );
  const gru2 = rnnHeadShape({ type: 'GRU', hidden_size: 150, num_layers: 2, bidirectional: true });
  assert.deepEqual(gru2, { gates: 3, per_direction: 75, directions: 2, layers: 2 });
  const gruParams =
    2 * (3 * 75 * 768 + 3 * 75 * 75 + 2 * 3 * 75) + 2 * (3 * 75 * 150 + 3 * 75 * 75 + 2 * 3 * 75);
  assert.equal(
    countParams(paramTensors(ZH1, { concat: 0, pooler: true, num_labels: 11, rnn: gru2 })),
    bert + gruParams + 150 * 11 + 11,
  );
  assert.deepEqual(rnnHeadShape({ type: 'RNN', hidden_size: 64, num_layers: 1, bidirectional: false }), {
    gates: 1,
    per_direction: 64,
    directions: 1,
    layers: 1,
  });
});

test('states: the unused pooler gets no gradient and no Adam state; the RNN does', () => {
  const traits = hfTraits('deepke-lm', DEEPKE.rnn);
  const x = exactTerms(ZH1, DEEPKE, traits);
  const tensors = paramTensors(ZH1, { ...traits.head, num_labels: 11 });
  const trained = tensors.filter((t) => !t.frozen);
  assert.equal(tensors.length - trained.length, 2, 'pooler weight and bias');
  assert.equal(x.gradients, tensorBytes(trained, 4));
  assert.equal(x.optimizer, 2 * tensorBytes(trained, 4));
  assert.equal(x.weights, tensorBytes(tensors, 4) + traits.buffer_bytes);
});

test("the RNN head's activations: counted at the peak, small next to BERT's, zero for other heads", () => {
  const rnn = rnnHeadShape(DEEPKE.rnn);
  const tokens = 32 * 512;
  const bytes = rnnActivationBytes(rnn, { hidden: 768, tokens, bytes: 4, train: true });
  // packed input and its gradient (2 × T·h), the layer output (T·100), reserve space (T·100·6), workspace (T·100·4)
  assert.equal(bytes, 2 * tokens * 768 * 4 + tokens * 100 * 4 * (1 + 6 + 4));
  assert.equal(exactTerms(ZH1, DEEPKE, hfTraits('deepke-lm', DEEPKE.rnn)).head_activations, bytes);
  assert.equal(
    exactTerms(ZH1, { ...DEEPKE, head: 'entity-start' }, hfTraits('entity-start')).head_activations,
    0,
  );
  const withRnn = planMemory({ model: ZH12, run: DEEPKE });
  const without = planMemory({ model: ZH12, run: { ...DEEPKE, head: 'cls', rnn: undefined } });
  const extra = withRnn.peak_allocated_bytes - without.peak_allocated_bytes;
  assert.ok(
    extra > bytes * 0.9 && extra < bytes * 1.1,
    `${extra} vs ${bytes}: the RNN's term plus its few weights`,
  );
  assert.ok(extra < 0.02 * withRnn.peak_allocated_bytes, "under 2 % of DeepKE's 12-layer run");
  const amp = exactTerms(ZH1, { ...DEEPKE, precision: 'bf16' }, hfTraits('deepke-lm', DEEPKE.rnn));
  assert.equal(amp.head_activations, bytes, 'the RNN runs in fp32 outside autocast');
  const linears = paramTensors(ZH1, { ...hfTraits('deepke-lm', DEEPKE.rnn).head, num_labels: 11 }).filter(
    (t) => t.linear && !t.frozen,
  );
  assert.equal(amp.autocast_fwd, tensorBytes(linears, 2), 'no 16-bit copies of the RNN weights');
  assert.equal(linears.filter((t) => t.layer === 1).length, 2, 'at the head only the classifier is autocast');
  const infer = planMemory({ model: ZH1, run: { ...DEEPKE, mode: 'infer' } });
  assert.ok(
    infer.breakdown.activations > rnnActivationBytes(rnn, { hidden: 768, tokens, bytes: 4, train: false }),
  );
});

test("DataParallel: GPU 0 keeps the model states, runs ceil(b/n) of the batch and holds the whole batch's inputs", () => {
  const one = planMemory({ model: ZH12, run: DEEPKE });
  const two = planMemory({ model: ZH12, run: { ...DEEPKE, data_parallel: 2 } });
  const half = planMemory({ model: ZH12, run: { ...DEEPKE, batch_size: 16 } });
  const three = planMemory({ model: ZH12, run: { ...DEEPKE, data_parallel: 3 } }); // chunks of 11, 11, 10
  const eleven = planMemory({ model: ZH12, run: { ...DEEPKE, batch_size: 11 } });
  assert.equal(two.breakdown.weights, one.breakdown.weights);
  assert.equal(two.breakdown.optimizer, one.breakdown.optimizer);
  // only the whole batch's int64 inputs (ids + mask, 32 × 512) and the gathered logits more than a 16-example run
  const more = two.peak_allocated_bytes - half.peak_allocated_bytes;
  assert.ok(more > 0 && more < 2 * 2 ** 20, String(more));
  assert.ok(three.peak_allocated_bytes - eleven.peak_allocated_bytes < 2 * 2 ** 20);
  assert.equal(two.config.data_parallel, 2);
});

test('fitConfig keeps the deepke-lm head and DataParallel it is given', () => {
  const gpu = resolveGpu('RTX 3060');
  const facts = { engine: 'hf' as const, num_labels: 11 };
  const config = plainConfig({ batch_size: 32, max_seq_len: 512 });
  const plain = fitConfig({ config, facts, model: ZH12, gpu });
  const lm = fitConfig({
    config: plainConfig({ batch_size: 32, max_seq_len: 512, head: 'deepke-lm', rnn: DEEPKE.rnn }),
    facts,
    model: ZH12,
    gpu,
  });
  assert.ok(lm.fits);
  const same = (c: typeof lm) =>
    planMemory({
      model: ZH12,
      gpu,
      run: {
        ...DEEPKE,
        batch_size: c.config.micro_batch_size,
        precision: c.config.precision,
        attention: c.config.attention,
        grad_checkpointing: c.config.grad_checkpointing,
      },
    });
  assert.equal(lm.peak_device_bytes, same(lm).peak_device_bytes, 'the fit plans the head it was given');
  assert.notEqual(lm.peak_device_bytes, plain.peak_device_bytes);
});
