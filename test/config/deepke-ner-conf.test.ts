// A DeepKE standard-NER conf folder (example/ner/standard/conf, hydra/model: bert) composes into task: ner with
// DeepKE's own numbers, and plans as DeepKE runs it (HF BertForTokenClassification, fp32, every sentence padded to
// max_seq_length): issue #376's 128 × 128 on bert-base-chinese, and the batch of 64 that worked there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolveConfigDetailed } from '../../src/config/index.ts';
import { configFacts, knownModelDims, planConfig } from '../../src/memory/index.ts';
import { makeDeepkeNerProject } from './deepke-ner-project.ts';
import { runInProcess } from '../cli/in-process.ts';

const plan = (overrides: string[] = []) => {
  const project = makeDeepkeNerProject();
  const warnings: string[] = [];
  const resolved = resolveConfigDetailed({
    file: join(project, 'conf'),
    overrides,
    cwd: project,
    warn: (l) => warnings.push(l),
  });
  const facts = configFacts(resolved, { config_file: true, num_labels: 11 });
  const model = knownModelDims('bert-base-chinese')!.dims;
  return { resolved, warnings, ...planConfig({ config: resolved.config, facts, model }) };
};

test("hydra/model: bert composes into task ner with DeepKE's batch, window, epochs and model", () => {
  const { resolved, warnings } = plan();
  const c = resolved.config;
  assert.equal(c.task, 'ner');
  assert.deepEqual(
    [
      c.train.batch_size,
      c.memory.max_seq_len,
      c.train.epochs,
      basename(c.model.pretrained!),
      c.memory.precision,
    ],
    [128, 128, 3, 'bert-base-chinese', 'fp32'],
  );
  assert.equal(c.train.learning_rate, 1e-3);
  assert.equal(c.train.warmup_ratio, 0.1);
  // every key of the folder is either read or named in one warning line
  assert.ok(
    warnings.every((l) => /ignoring DeepKE keys? /.test(l)),
    warnings.join('\n'),
  );
});

test("plans as DeepKE runs it: hf engine, token head, 128 × 128 padded; #376's fix (64) halves the activations", () => {
  const full = plan();
  assert.equal(full.shape.run.engine, 'hf');
  assert.equal(full.shape.run.head, 'token');
  assert.deepEqual([full.shape.run.batch_size, full.shape.run.seq_len], [128, 128]);
  const half = plan(['train_batch_size=64']);
  assert.deepEqual([half.shape.run.batch_size, half.shape.run.seq_len], [64, 128]);
  const act = (p: typeof full) => p.plan.breakdown.activations;
  // activations are linear in the batch (calibrated coefficients, one rounding per tensor: 1 % slack)
  assert.ok(Math.abs(act(full) / act(half) - 2) < 0.02, `${act(full)} / ${act(half)}`);
  assert.ok(full.plan.peak_allocated_bytes > half.plan.peak_allocated_bytes);
});

test("run_bert.py's accumulation: train_batch_size is each micro-batch, the step their product", () => {
  const { resolved, shape } = plan(['train_batch_size=64', 'gradient_accumulation_steps=2']);
  assert.deepEqual([resolved.config.train.batch_size, resolved.config.memory.grad_accumulation], [128, 2]);
  assert.deepEqual([shape.run.batch_size, shape.effective_batch], [64, 128]);
});

test("doctor on #376's run: refit's fixes, and DeepKE's own as run_bert.py overrides keeping the step", async () => {
  const project = makeDeepkeNerProject();
  const log = join(project, 'oom.txt');
  writeFileSync(
    log,
    'RuntimeError: CUDA out of memory. Tried to allocate 96.00 MiB (GPU 0; 10.76 GiB total capacity; ' +
      '9.61 GiB already allocated; 61.56 MiB free; 9.81 GiB reserved in total by PyTorch)\n',
  );
  const r = await runInProcess(['doctor', log, '-c', join(project, 'conf')], {
    REFIT_LOG: join(project, 'log'),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout.replace(/\s+/g, ' '),
    /micro-batch 128 of 128, seq 128, fp32, eager: predicted peak [\d.]+ GiB vs 10\.76 GiB/,
  );
  assert.match(r.stdout, /DeepKE: python run_bert\.py train_batch_size=64 gradient_accumulation_steps=2$/m);
  assert.doesNotMatch(r.stdout, /num_hidden_layers=/);
});
