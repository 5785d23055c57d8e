// The deepke-lm head (DeepKE's LM model: BERT → RNN → dropout → fc): its forward equals a reference built from HF's
// golden tiny-BERT outputs and torch.nn.LSTM/GRU/RNN over packed sequences; over the protocol it trains, saves with
// DeepKE's state-dict names, restores, and `inspect_weights` reads DeepKE-format .pth files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RnnSpec, WorkerCommand, WorkerProcess } from '../../src/worker/index.ts';
import {
  expectEvent,
  makeExamples,
  readSafetensors,
  REPO,
  SHARED,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';
import { LOGIT_TOLERANCE, assertCloseRows } from '../numerics.ts';

const GOLDEN = join(SHARED, 'golden', 'tiny-bert');
const python = await testPython();
const skip = !python && 'needs a python3 with torch';
const RNN: RnnSpec = {
  type: 'LSTM',
  hidden_size: 10,
  num_layers: 1,
  bidirectional: true,
  last_layer_hn: true,
  dropout: 0.3,
};
const lmLoad = (rnn: Partial<RnnSpec> = {}, dropout = 0) =>
  tinyLoad({ head: { kind: 'deepke-lm', num_labels: 3, dropout, rnn: { ...RNN, ...rnn } } }, dropout);

let worker: WorkerProcess;
const dir = tempDir();
const dsPath = writeDataset(join(dir, 'train.refit-ds'), makeExamples(12));
before(async () => {
  if (!skip) ({ worker } = await startWorker());
});
after(async () => {
  await worker?.close();
});

interface Case {
  max_abs: number;
  argmax_equal: boolean;
}

test(
  'deepke-lm logits equal HF last_hidden_state → packed RNN → fc, from a DeepKE-format .pth (≤ 1e-5)',
  { skip: skip || (!existsSync(GOLDEN) && 'needs ../shared/golden/tiny-bert') },
  () => {
    const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_deepke_lm.py'), GOLDEN], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    assert.ok(run.stdout, run.stderr);
    const result = JSON.parse(run.stdout) as { ok: boolean; cases: Record<string, Case> };
    assert.deepEqual(Object.keys(result.cases), [
      'lstm-bi-1layer',
      'lstm-bi-2layers',
      'gru-bi-1layer',
      'rnn-uni-2layers',
      'lstm-bi-last_layer_hn-false',
    ]);
    for (const [name, c] of Object.entries(result.cases)) {
      // fp32 eval mode: the same maths in another order (packing, view/transpose vs cat) stays far below 1e-5 (measured ~1e-7).
      assert.ok(c.max_abs <= 1e-5, `${name}: logits off by ${c.max_abs}`);
      assert.equal(c.argmax_equal, true, name);
    }
    assert.equal(result.ok, true);
  },
);

test(
  'deepke-lm trains over the protocol and saves bert.*, bilstm.rnn.*, fc.* with its RNN settings',
  { skip },
  async () => {
    const loaded = await expectEvent(worker, lmLoad(), 'loaded');
    // BERT of tinyLoad (see contract.test.ts) + LSTM 2 directions × (4·5·32 + 4·5·5 + 2·4·5) + fc 10·3 + 3
    const bert = 166 * 32 + 64 + 2 * (4 * 1056 + 128 + 2112 + 2080) + 1056;
    assert.equal(loaded.params, bert + 2 * (640 + 100 + 40) + 33);
    assert.equal(loaded.trainable_params, loaded.params - 1056, 'the pooler is kept but not trained');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    const step = await expectEvent(
      worker,
      {
        type: 'train_step',
        step: 1,
        dataset: 'train',
        logical_batch_size: 4,
        micro_batches: [
          { indices: [0, 1, 2], seq_len: 24 },
          { indices: [3], seq_len: 16 },
        ],
      },
      'step',
    );
    assert.ok(Number.isFinite(step.loss) && step.grad_norm > 0);
    const batches = [{ indices: [0, 1, 2, 3, 4, 5], seq_len: 24 }];
    const before = await expectEvent(
      worker,
      { type: 'eval', dataset: 'train', batches, tag: 'a' },
      'eval_result',
    );
    // Padding must not change the logits: the RNN runs over the packed true lengths.
    const wider = await expectEvent(
      worker,
      { type: 'eval', dataset: 'train', batches: [{ indices: [0, 1, 2, 3, 4, 5], seq_len: 40 }], tag: 'b' },
      'eval_result',
    );
    wider
      .logits!.flat()
      .forEach((v, i) =>
        assert.ok(Math.abs(v - before.logits!.flat()[i]) <= 1e-5, 'padding changed a logit'),
      );
    const out = join(dir, 'saved');
    await expectEvent(worker, { type: 'save', path: out, checkpoint: true, step: 1 }, 'saved');
    const names = [...readSafetensors(join(out, 'model.safetensors')).tensors.keys()];
    assert.deepEqual(names.filter((n) => !n.startsWith('bert.')).sort(), [
      'bilstm.rnn.bias_hh_l0',
      'bilstm.rnn.bias_hh_l0_reverse',
      'bilstm.rnn.bias_ih_l0',
      'bilstm.rnn.bias_ih_l0_reverse',
      'bilstm.rnn.weight_hh_l0',
      'bilstm.rnn.weight_hh_l0_reverse',
      'bilstm.rnn.weight_ih_l0',
      'bilstm.rnn.weight_ih_l0_reverse',
      'fc.bias',
      'fc.weight',
    ]);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { refit_head: unknown };
    assert.deepEqual(cfg.refit_head, { kind: 'deepke-lm', num_labels: 3, rnn: RNN });
    await expectEvent(worker, lmLoad(), 'loaded');
    await expectEvent(worker, { type: 'open_dataset', name: 'train', path: dsPath }, 'dataset_opened');
    await expectEvent(worker, { type: 'restore', path: out }, 'restored');
    const after = await expectEvent(
      worker,
      { type: 'eval', dataset: 'train', batches, tag: 'c' },
      'eval_result',
    );
    // the same eval of the same weights, up to a BLAS that follows memory alignment (test/numerics.ts)
    assertCloseRows(after.logits!, before.logits!, LOGIT_TOLERANCE, 'restore brings the same weights back');
  },
);

test(
  'inspect_weights lists a DeepKE-format .pth; a file that is not a state dict is E_MODEL_FILES',
  { skip },
  async () => {
    const pth = join(dir, 'lm_epoch3.pth');
    const script =
      'import sys, torch, collections; torch.save(collections.OrderedDict([("module.bert.embeddings.word_embeddings.weight", torch.zeros(4, 2)), ("fc.weight", torch.zeros(3, 2, dtype=torch.float16))]), sys.argv[1]); torch.save({"epoch": 3, "model": {}}, sys.argv[2])';
    const other = join(dir, 'not-a-state-dict.pth');
    const made = spawnSync(python!, ['-c', script, pth, other], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const info = await expectEvent(worker, { type: 'inspect_weights', path: pth }, 'weights_info');
    assert.deepEqual(info.tensors, {
      'module.bert.embeddings.word_embeddings.weight': { shape: [4, 2], dtype: 'float32' },
      'fc.weight': { shape: [3, 2], dtype: 'float16' },
    });
    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'this is not a checkpoint\n');
    for (const [path, message] of [
      [junk, /junk\.pth: not a PyTorch checkpoint/],
      [other, /holds a dict with keys epoch, model, not a state dict/],
      [join(dir, 'missing.pth'), /no such file/],
    ] as const) {
      const ev = await expectEvent(worker, { type: 'inspect_weights', path } as WorkerCommand, 'error');
      assert.equal(ev.code, 'E_MODEL_FILES');
      assert.match(ev.message, message);
    }
  },
);

test('bad RNN settings are E_BAD_COMMAND lines', { skip }, async () => {
  const cases: Array<[Partial<RnnSpec>, RegExp]> = [
    [{ hidden_size: 9 }, /hidden_size 9 must be even when bidirectional/],
    [{ num_layers: 2, last_layer_hn: false }, /last_layer_hn false with num_layers > 1/],
    [{ type: 'SRU' as RnnSpec['type'] }, /rnn type 'SRU'/],
  ];
  for (const [rnn, message] of cases) {
    const ev = await expectEvent(worker, lmLoad(rnn), 'error');
    assert.equal(ev.code, 'E_BAD_COMMAND');
    assert.match(ev.message, message);
  }
  const noRnn = tinyLoad({ head: { kind: 'deepke-lm', num_labels: 3, dropout: 0 } });
  assert.match((await expectEvent(worker, noRnn, 'error')).message, /rnn must have exactly the fields/);
});
