// Adding a lever touches the lever table, the planner's pricing and the worker only: train's decision and the
// worker's `load` command take their lever fields from the table (DECISION_LEVERS, LOAD_LEVERS), in its order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/index.ts';
import { DECISION_LEVERS, LOAD_LEVERS, PRESETS, loadLevers } from '../../src/memory/index.ts';
import { decideMemory } from '../../src/run/index.ts';
import { loadCommand, type LoadSpec } from '../../src/session/index.ts';

const CPU = { cuda: false, device_count: 0, bf16: false, sdpa: true, fused_adamw: false };
const LENGTHS = Int32Array.from({ length: 200 }, (_, i) => 20 + (i % 90));
const DIMS = {
  vocab_size: 100,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 64,
  type_vocab_size: 2,
};
const SPEC: LoadSpec = {
  dims: DIMS,
  head: 'entity-start',
  num_labels: 3,
  seed: 7,
  learning_rate: 2e-5,
  weight_decay: 0.01,
  warmup_steps: 1,
  total_steps: 10,
  max_grad_norm: 1,
  num_threads: 2,
};
/** The fields of `load` that are not levers. */
const NOT_LEVERS = [
  'type',
  'pretrained',
  'config',
  'head',
  'seed',
  'device',
  'schedule',
  'max_grad_norm',
  'budget_bytes',
  'num_threads',
  'strategy',
];

test("the load command's lever fields are the table's LOAD_LEVERS, in its order", () => {
  const cmd = loadCommand(SPEC, {
    device: 'cpu',
    precision: 'fp32',
    attention: 'eager',
    grad_checkpointing: false,
    freeze_layers: 0,
    optimizer: 'adamw',
  });
  assert.deepEqual(
    Object.keys(cmd).filter((k) => !NOT_LEVERS.includes(k)),
    LOAD_LEVERS.map((l) => l.name),
  );
  assert.deepEqual(
    Object.keys(loadLevers({})),
    LOAD_LEVERS.map((l) => l.name),
    'LoadLevers has one field per entry with decision.load',
  );
});

test("the load command's JSON is the one the worker always got (byte for byte)", () => {
  const cmd = loadCommand(SPEC, {
    device: 'cuda',
    precision: 'bf16',
    attention: 'sdpa',
    grad_checkpointing: true,
    freeze_layers: 2,
    optimizer: 'adamw-fused',
    budget_bytes: 1000,
  });
  const config =
    '{"vocab_size":100,"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":64,"max_position_embeddings":64,"type_vocab_size":2,' +
    '"hidden_act":"gelu","layer_norm_eps":1e-12,"hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1,"initializer_range":0.02,"model_type":"bert","architectures":["BertModel"]}';
  assert.equal(
    JSON.stringify(cmd),
    `{"type":"load","config":${config},"head":{"kind":"entity-start","num_labels":3,"dropout":0.1},"seed":7,"device":"cuda",` +
      '"precision":"bf16","attention":"sdpa","grad_checkpointing":true,"freeze_layers":2,"optimizer":{"kind":"adamw-fused","lr":0.00002,"weight_decay":0.01,"betas":[0.9,0.999],"eps":1e-8},' +
      '"offload":"none","lora_rank":0,"schedule":{"warmup_steps":1,"total_steps":10},"max_grad_norm":1,"budget_bytes":1000,"num_threads":2}',
  );
  // Predict, eval and export may leave the levers to the table's inference values.
  const infer = loadCommand({ ...SPEC, strategy: 'zero1', pretrained: 'x' }, { device: 'cpu' });
  assert.equal(
    JSON.stringify(infer),
    `{"type":"load","pretrained":"x","config":${config},"head":{"kind":"entity-start","num_labels":3,"dropout":0.1},"seed":7,"device":"cpu",` +
      '"precision":"fp32","attention":"eager","grad_checkpointing":false,"freeze_layers":0,"optimizer":{"kind":"adamw","lr":0.00002,"weight_decay":0.01,"betas":[0.9,0.999],"eps":1e-8},' +
      '"offload":"none","lora_rank":0,"schedule":{"warmup_steps":1,"total_steps":10},"max_grad_norm":1,"num_threads":2,"strategy":"zero1"}',
  );
});

test("train's decision has one field per entry with `decision`, in plan.json's column order", () => {
  const config = resolveConfig({
    overrides: [
      'model.preset=bert-tiny',
      'train.batch_size=8',
      'memory.max_seq_len=128',
      'memory.mode=manual',
      'memory.grad_accumulation=2',
      'memory.max_tokens=400',
    ],
  });
  const d = decideMemory({
    config,
    dims: PRESETS['bert-tiny'],
    caps: CPU,
    device: 'cpu',
    lengths: LENGTHS,
    num_labels: 3,
  }).decision;
  assert.deepEqual(
    Object.keys(d).filter((k) => !['device', 'batch_size', 'budget_bytes', 'reasons'].includes(k)),
    DECISION_LEVERS.map((l) => l.name),
  );
  assert.deepEqual(
    [d.micro_batch_size, d.grad_accumulation, d.max_tokens, d.max_seq_len, d.optimizer],
    [4, 2, 400, 128, 'adamw'],
  );
  for (const l of LOAD_LEVERS)
    assert.ok(DECISION_LEVERS.includes(l), `${l.name}: a load lever is a decision field`);
});
