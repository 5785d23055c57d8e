// GPU table, size parsing and model shapes: names and aliases, bf16 support, sizes, presets, config files,
// and the one-line errors for unknown names, bad sizes and impossible shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GPUS,
  PRESETS,
  checkSeqLen,
  loadModelDims,
  parseSize,
  resolveGpu,
  withLayers,
} from '../../src/memory/index.ts';
import { RefitError } from '../../src/errors.ts';

const GIB = 2 ** 30;
const code = (c: string, re?: RegExp) => (e: unknown) =>
  e instanceof RefitError && e.code === c && !e.message.includes('\n') && (!re || re.test(e.message));

test('the table covers the required cards with memory and bf16 support', () => {
  const need = [
    'GTX 1060',
    'GTX 1080 Ti',
    'RTX 2060',
    'RTX 2080 Ti',
    'RTX 3060',
    'RTX 3090',
    'RTX 4060',
    'RTX 4090',
    'T4',
    'V100 16GB',
    'V100 32GB',
    'A10',
    'A100 40GB',
    'A100 80GB',
    'L4',
    'L40S',
    'H100',
    'H200',
  ];
  for (const n of need) assert.ok(GPUS[n], n);
  const bf16 = (n: string) => resolveGpu(n).bf16;
  assert.deepEqual(['GTX 1080 Ti', 'RTX 2080 Ti', 'T4', 'V100 32GB'].map(bf16), [false, false, false, false]);
  assert.deepEqual(
    ['RTX 3060', 'RTX 4090', 'A10', 'A100 80GB', 'L4', 'L40S', 'H100', 'H200'].map(bf16),
    Array(8).fill(true),
  );
  assert.equal(
    resolveGpu('RTX 3060').memory_bytes,
    11.75 * GIB,
    'reports 11.75 GiB total capacity (the DeepKE #459 message)',
  );
});

test('card names are matched loosely: vendor words, case, spaces and dashes, unique suffixes', () => {
  for (const n of ['RTX 3060', 'rtx3060', 'NVIDIA GeForce RTX 3060', 'geforce-rtx-3060', '3060'])
    assert.equal(resolveGpu(n).name, 'RTX 3060', n);
  assert.equal(resolveGpu('Tesla T4').name, 'T4');
  assert.equal(resolveGpu('a100-80gb').name, 'A100 80GB');
  assert.throws(() => resolveGpu('A100'), code('E_GPU', /ambiguous: A100 40GB, A100 80GB/));
  // what nvidia-smi / torch.cuda.get_device_name print
  const smi: Array<[string, string]> = [
    ['NVIDIA A100-SXM4-80GB', 'A100 80GB'],
    ['NVIDIA A100-SXM4-40GB', 'A100 40GB'],
    ['Tesla V100-SXM2-16GB', 'V100 16GB'],
    ['NVIDIA H100 80GB HBM3', 'H100'],
    ['NVIDIA H200', 'H200'],
    ['NVIDIA A10G', 'A10G'],
    ['NVIDIA GeForce RTX 4090', 'RTX 4090'],
    ['NVIDIA RTX A6000', 'RTX A6000'],
  ];
  for (const [name, want] of smi) assert.equal(resolveGpu(name).name, want, name);
});

test('sizes: decimal and binary units, bytes, and a card given by size', () => {
  assert.equal(parseSize('12GB'), 12e9);
  assert.equal(parseSize('11.75GiB'), 11.75 * GIB);
  assert.equal(parseSize('12000MiB'), 12000 * 2 ** 20);
  assert.equal(parseSize('12 GiB'), 12 * GIB);
  assert.equal(parseSize('4096'), 4096);
  const g = resolveGpu('11.75GiB');
  assert.deepEqual([g.memory_bytes, g.bf16], [11.75 * GIB, false]);
});

test('unparseable sizes and unknown cards fail with one line (E_SIZE / E_GPU, closest name suggested)', () => {
  for (const bad of ['12XB', 'abc', '', '-3GB', '0GB'])
    assert.throws(() => parseSize(bad), code('E_SIZE'), bad);
  assert.throws(() => resolveGpu('12XB'), code('E_SIZE', /cannot read size '12XB'/));
  assert.throws(
    () => resolveGpu('RTX 3O60'),
    code('E_GPU', /unknown GPU 'RTX 3O60'; did you mean 'RTX 3060'\?/),
  );
  assert.throws(() => resolveGpu('Quadro Q9999'), code('E_GPU', /did you mean/));
});

test('presets have the BERT family shapes (layers/hidden/heads, I = 4h, 512 positions, 2 types)', () => {
  const shape = (n: keyof typeof PRESETS) => [
    PRESETS[n].num_hidden_layers,
    PRESETS[n].hidden_size,
    PRESETS[n].num_attention_heads,
  ];
  assert.deepEqual(shape('bert-tiny'), [2, 128, 2]);
  assert.deepEqual(shape('bert-mini'), [4, 256, 4]);
  assert.deepEqual(shape('bert-small'), [4, 512, 8]);
  assert.deepEqual(shape('bert-medium'), [8, 512, 8]);
  assert.deepEqual(shape('bert-base'), [12, 768, 12]);
  assert.deepEqual(shape('bert-large'), [24, 1024, 16]);
  for (const p of Object.values(PRESETS))
    assert.deepEqual(
      [p.intermediate_size, p.max_position_embeddings, p.type_vocab_size, p.vocab_size],
      [4 * p.hidden_size, 512, 2, 30522],
    );
  assert.equal(loadModelDims('bert-base', { vocab_size: 21128 }).vocab_size, 21128);
});

test('loadModelDims reads an HF folder or its config.json; bad shapes are E_MODEL_SHAPE in one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-dims-'));
  const folder = join(dir, 'model');
  mkdirSync(folder);
  const cfg = {
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    intermediate_size: 1024,
    vocab_size: 21128,
    max_position_embeddings: 256,
    type_vocab_size: 2,
  };
  writeFileSync(join(folder, 'config.json'), JSON.stringify(cfg));
  assert.deepEqual(loadModelDims(folder), cfg);
  assert.deepEqual(loadModelDims(join(folder, 'config.json')), cfg);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ ...cfg, num_attention_heads: 5 }));
  assert.throws(
    () => loadModelDims(bad),
    code('E_MODEL_SHAPE', /hidden_size 256 is not divisible by num_attention_heads 5/),
  );
  writeFileSync(bad, JSON.stringify({ ...cfg, num_hidden_layers: 0 }));
  assert.throws(
    () => loadModelDims(bad),
    code('E_MODEL_SHAPE', /num_hidden_layers must be a positive integer/),
  );
  writeFileSync(bad, '{ not json');
  assert.throws(() => loadModelDims(bad), code('E_MODEL_CONFIG'));
  assert.throws(() => loadModelDims('bert-bsae'), code('E_MODEL', /did you mean 'bert-base'/));
  assert.throws(() => loadModelDims(dir), code('E_MODEL_CONFIG', /no config.json/));
});

test('well-known Hugging Face ids plan without the folder (DeepKE lm_file: bert-base-chinese), also behind a resolved path', () => {
  assert.deepEqual(loadModelDims('bert-base-chinese'), { ...PRESETS['bert-base'], vocab_size: 21128 });
  assert.deepEqual(loadModelDims('/home/u/DeepKE/hfl/chinese-roberta-wwm-ext-large'), {
    ...PRESETS['bert-large'],
    vocab_size: 21128,
  });
  assert.deepEqual(loadModelDims('google-bert/bert-base-cased'), {
    ...PRESETS['bert-base'],
    vocab_size: 28996,
  });
  const uer = loadModelDims('uer/chinese_roberta_L-4_H-256');
  assert.deepEqual(
    [uer.num_hidden_layers, uer.hidden_size, uer.num_attention_heads, uer.vocab_size],
    [4, 256, 4, 21128],
  );
  assert.equal(withLayers(loadModelDims('bert-base-chinese'), 1).num_hidden_layers, 1);
  assert.throws(() => loadModelDims('hfl/not-a-model'), code('E_MODEL'));
});

test('a sequence length above the position table is refused with the limit in the message', () => {
  assert.doesNotThrow(() => checkSeqLen(PRESETS['bert-base'], 512));
  assert.throws(
    () => checkSeqLen(PRESETS['bert-base'], 1024),
    code('E_MODEL_SHAPE', /sequence length 1024 is above the model's max_position_embeddings 512/),
  );
});
