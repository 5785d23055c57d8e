// The worker's restore path (issue 22, items 3 and 4): `load` with skip_init builds the model without drawing its
// weights and refuses everything but `restore` until one succeeds, after which it computes what a plainly loaded and
// restored model does; a damaged checkpoint.pt is one E_MODEL_FILES error that leaves the loaded model as it was.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkerProcess } from '../../src/worker/index.ts';
import { LOGIT_TOLERANCE, assertCloseRows } from '../numerics.ts';
import {
  expectEvent,
  makeExamples,
  startWorker,
  tempDir,
  testPython,
  tinyLoad,
  writeDataset,
} from './helpers.ts';

const skip = !(await testPython()) && 'needs a python3 with torch (apt-get install python3-torch)';
const dir = tempDir();
const ds = writeDataset(join(dir, 'train.refit-ds'), makeExamples(8));
const batches = [{ indices: [0, 1, 2, 3], seq_len: 24 }];
const workers: WorkerProcess[] = [];
after(async () => {
  for (const w of workers) await w.close();
});

async function loaded(over: Parameters<typeof tinyLoad>[0] = {}): Promise<WorkerProcess> {
  const { worker } = await startWorker({}, 1);
  workers.push(worker);
  await expectEvent(worker, tinyLoad(over), 'loaded');
  await expectEvent(worker, { type: 'open_dataset', name: 'train', path: ds }, 'dataset_opened');
  return worker;
}

test(
  'skip_init: nothing but restore until one succeeds, then the logits of a plain load and restore',
  { skip },
  async () => {
    const plain = await loaded();
    const saved = join(dir, 'saved');
    await expectEvent(
      plain,
      { type: 'train_step', step: 1, dataset: 'train', logical_batch_size: 4, micro_batches: batches },
      'step',
    );
    await expectEvent(plain, { type: 'save', path: saved, checkpoint: true, step: 1 }, 'saved');
    const want = await expectEvent(
      plain,
      { type: 'eval', dataset: 'train', tag: 'x', batches },
      'eval_result',
    );

    const fast = await loaded({ skip_init: true });
    const refused = await expectEvent(fast, { type: 'eval', dataset: 'train', tag: 'x', batches }, 'error');
    assert.equal(refused.code, 'E_BAD_COMMAND');
    assert.equal(
      refused.message,
      'eval: the model was loaded with skip_init and holds no weights yet; send `restore` first',
    );
    const missing = await expectEvent(fast, { type: 'restore', path: join(dir, 'no-such-folder') }, 'error');
    assert.equal(missing.code, 'E_MODEL_FILES');
    await expectEvent(fast, { type: 'save', path: join(dir, 'x'), checkpoint: false, step: 0 }, 'error');
    assert.equal((await expectEvent(fast, { type: 'restore', path: saved }, 'restored')).step, 1);
    const got = await expectEvent(fast, { type: 'eval', dataset: 'train', tag: 'x', batches }, 'eval_result');
    assertCloseRows(got.logits!, want.logits!, LOGIT_TOLERANCE, 'the same saved weights, built either way');
  },
);

test(
  'a truncated or garbled checkpoint.pt is E_MODEL_FILES naming it; the model keeps its weights',
  { skip },
  async () => {
    const w = await loaded();
    const good = join(dir, 'good');
    await expectEvent(w, { type: 'save', path: good, checkpoint: true, step: 3 }, 'saved');
    const before = await expectEvent(w, { type: 'eval', dataset: 'train', tag: 'x', batches }, 'eval_result');
    const bad = join(dir, 'bad');
    await expectEvent(
      w,
      { type: 'train_step', step: 4, dataset: 'train', logical_batch_size: 4, micro_batches: batches },
      'step',
    );
    await expectEvent(w, { type: 'save', path: bad, checkpoint: true, step: 4 }, 'saved');
    await expectEvent(w, { type: 'restore', path: good }, 'restored');
    const ckpt = join(bad, 'checkpoint.pt');
    const bytes = readFileSync(ckpt);
    for (const damaged of [bytes.subarray(0, bytes.length >> 1), Buffer.from(bytes).fill(0x55, 0, 400)]) {
      writeFileSync(ckpt, damaged);
      const e = await expectEvent(w, { type: 'restore', path: bad }, 'error');
      assert.equal(e.code, 'E_MODEL_FILES');
      assert.ok(e.message.startsWith(`${ckpt}: damaged checkpoint, torch cannot read it (`), e.message);
      const now = await expectEvent(w, { type: 'eval', dataset: 'train', tag: 'x', batches }, 'eval_result');
      assertCloseRows(now.logits!, before.logits!, LOGIT_TOLERANCE, 'a refused restore changed nothing');
    }
  },
);
