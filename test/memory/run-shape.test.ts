// One config → run shape: `refit plan -c X --json`, `refit doctor LOG -c X --json` (its `current` key) and the
// prediction `refit train` records in plan.json (decideMemory, as train calls it) give the same figures on
// generated configs (seeded), and the bugs of three rules are gone (accumulation ignored or floored, auto attention).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runInProcess } from '../cli/in-process.ts';
import { resolveConfig } from '../../src/config/index.ts';
import { runShapeOf, type MemoryPlan } from '../../src/memory/index.ts';
import { decideMemory } from '../../src/run/index.ts';
import { modelDims } from '../../src/run/prepare.ts';
import { seededRandom } from '../../src/rng.ts';
import { NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const VOCAB = join(ROOT, '..', 'shared', 'assets', 'bert-vocab', 'google_uncased_en_vocab.txt');
/** The generated configs use a real vocabulary from ../shared. */
const skip =
  !existsSync(VOCAB) && 'needs ../shared/assets/bert-vocab (the real BERT vocabularies) beside the repo';
const VOCAB_SIZE = (skip ? '' : readFileSync(VOCAB, 'utf8')).split('\n').filter((l) => l.length > 0).length;
const LOG = join(ROOT, 'test', 'fixtures', 'oom', 'v1.13-fragmentation.log');
const DIR = mkdtempSync(join(tmpdir(), 'refit-run-shape-'));
const ENV = { HOME: DIR, REFIT_LOG: join(DIR, 'refit.log') };
const H200 = {
  cuda: true,
  device_count: 1,
  bf16: true,
  sdpa: true,
  fused_adamw: true,
  device_name: 'NVIDIA H200',
  total_memory: 150e9,
};
const CPU = { cuda: false, device_count: 0, bf16: false, sdpa: true, fused_adamw: false };

/** Runs the CLI in-process; returns the exit code and what it printed. */
const refit = (...argv: string[]) => runInProcess(argv, ENV);

/** The figures of a plan that must agree (the card's name and budget differ: the doctor takes the limit from the message). */
function figures(p: MemoryPlan): unknown {
  const { gpu: _gpu, ...config } = p.config;
  return {
    engine: p.engine,
    mode: p.mode,
    config,
    params: p.params,
    peak_allocated_bytes: p.peak_allocated_bytes,
    peak_reserved_bytes: p.peak_reserved_bytes,
    peak_device_bytes: p.peak_device_bytes,
    breakdown: p.breakdown,
    peak_phase: p.peak_phase,
  };
}

interface Generated {
  doc: Record<string, any>;
  device: 'cpu' | 'cuda';
  lengths: number[];
}

/** A random config over the lever values that `refit train` accepts on `device` in memory: manual. */
function generate(random: () => number, i: number): Generated {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const device = i % 2 === 0 ? 'cpu' : 'cuda';
  const preset =
    device === 'cpu'
      ? pick(['bert-tiny', 'bert-mini'] as const)
      : pick(['bert-tiny', 'bert-mini', 'bert-small', 'bert-base'] as const);
  const layers = { 'bert-tiny': 2, 'bert-mini': 4, 'bert-small': 4, 'bert-base': 12 }[preset];
  const batch = 1 + Math.floor(random() * 48);
  const memory: Record<string, unknown> = {
    mode: 'manual',
    max_seq_len: pick([64, 128, 256, 512]),
    padding: pick(['dynamic', 'max']),
  };
  const split = pick(['none', 'accumulation', 'micro']);
  if (split === 'accumulation') memory.grad_accumulation = 1 + Math.floor(random() * Math.min(batch, 6));
  if (split === 'micro') memory.micro_batch_size = 1 + Math.floor(random() * batch);
  // auto precision follows the device in train but reads as fp32 in plan: only CPU (fp32 there) may leave it auto
  memory.precision = device === 'cpu' ? pick(['auto', 'fp32']) : pick(['fp32', 'fp16', 'bf16']);
  memory.attention = pick(['auto', 'sdpa', 'eager']);
  memory.grad_checkpointing = pick(['auto', true, false]);
  memory.freeze_layers = Math.floor(random() * (layers + 1));
  memory.optimizer = device === 'cpu' ? 'adamw' : pick(['adamw', 'adamw-fused']);
  const head = pick(['entity-start', 'cls', 'deepke-lm']);
  const model: Record<string, unknown> = { preset, vocab: VOCAB, head };
  if (head === 'deepke-lm')
    model.rnn = {
      type: pick(['LSTM', 'GRU', 'RNN']),
      hidden_size: pick([64, 100, 256]),
      num_layers: pick([1, 2]),
      bidirectional: pick([true, false]),
    };
  const doc = {
    model,
    data: { num_relations: 2 + Math.floor(random() * 60) },
    train: { batch_size: batch },
    memory,
  };
  const lengths = Array.from({ length: 40 }, () => 5 + Math.floor(random() * (random() < 0.3 ? 600 : 100)));
  return { doc, device, lengths };
}

test(
  "plan -c, doctor -c (current) and train's plan.json prediction agree on 32 generated configs",
  { skip },
  async () => {
    const random = seededRandom(20261201);
    let comparedWithPlan = 0;
    for (let i = 0; i < 32; i++) {
      const { doc, device, lengths } = generate(random, i);
      const file = join(DIR, `c${i}.yaml`);
      const lengthsFile = join(DIR, `l${i}.txt`);
      writeFileSync(file, stringify(doc));
      writeFileSync(lengthsFile, lengths.join('\n'));
      const what = `config ${i}: ${JSON.stringify(doc.memory)} ${JSON.stringify(doc.model.head)} batch ${doc.train.batch_size}`;
      const plan = await refit('plan', '-c', file, '--gpu', 'H200', '--json');
      assert.equal(plan.code, 0, `${what}: ${plan.stderr}`);
      const planned = JSON.parse(plan.stdout) as MemoryPlan;
      const doctor = await refit('doctor', LOG, '-c', file, '--engine', 'refit', '--gpu', 'H200', '--json');
      assert.equal(doctor.code, 0, `${what}: ${doctor.stderr}`);
      assert.deepEqual(
        figures(JSON.parse(doctor.stdout).current),
        figures(planned),
        `${what}: doctor -c current = plan -c`,
      );
      const withLengths = await refit(
        'doctor',
        LOG,
        '-c',
        file,
        '--engine',
        'refit',
        '--gpu',
        'H200',
        '--lengths-from',
        lengthsFile,
        '--json',
      );
      assert.equal(withLengths.code, 0, `${what}: ${withLengths.stderr}`);

      // What refit train records: the decision on the device, the prediction at the data's longest padded batch.
      const config = resolveConfig({ file, overrides: [] });
      const dims = modelDims(config, VOCAB_SIZE);
      const trained = decideMemory({
        config,
        dims,
        caps: device === 'cpu' ? CPU : H200,
        device,
        lengths: Int32Array.from(lengths),
        num_labels: doc.data.num_relations,
      });
      assert.ok(trained.plan, `${what}: ${trained.decision.reasons.join('; ')}`);
      assert.deepEqual(
        figures(trained.plan),
        figures(JSON.parse(withLengths.stdout).current),
        `${what}: plan.json = doctor -c --lengths-from`,
      );
      if (trained.plan.config.seq_len === planned.config.seq_len) {
        comparedWithPlan++;
        assert.deepEqual(figures(trained.plan), figures(planned), `${what}: plan.json = plan -c`);
      }
    }
    assert.ok(
      comparedWithPlan >= 10,
      `plan.json compared with plan -c on ${comparedWithPlan} configs (padded to the window)`,
    );
  },
);

test('the micro-batch is ceil(batch / accumulation) everywhere: batch 32, accumulation 4 is planned as 8 (not 32)', async () => {
  const file = join(DIR, 'accum.yaml');
  writeFileSync(
    file,
    'model:\n  preset: bert-base\ntrain:\n  batch_size: 32\nmemory:\n  grad_accumulation: 4\n  padding: max\n',
  );
  const plan = JSON.parse((await refit('plan', '-c', file, '--json')).stdout) as MemoryPlan;
  assert.equal(plan.config.batch_size, 8);
  const doctor = JSON.parse((await refit('doctor', LOG, '-c', file, '--json')).stdout);
  assert.equal(doctor.current.config.batch_size, 8);
  // 30 / 4 → 8 (ceil, as train splits it), not 7 (the doctor's old floor)
  const shape = runShapeOf(
    resolveConfig({ overrides: ['train.batch_size=30', 'memory.grad_accumulation=4'] }),
    { engine: 'refit' },
  );
  assert.deepEqual([shape.micro_batch_size, shape.grad_accumulation], [8, 4]);
});

test("auto attention: the engine's plain one in plan and doctor (sdpa for refit, eager for hf), the worker's in train", () => {
  const config = resolveConfig({ overrides: [] });
  assert.equal(runShapeOf(config, { engine: 'refit' }).run.attention, 'sdpa');
  assert.equal(runShapeOf(config, { engine: 'hf' }).run.attention, 'eager');
  assert.equal(
    runShapeOf(config, { engine: 'refit', device: { ...CPU, sdpa: false } }).run.attention,
    'eager',
  );
  assert.deepEqual(runShapeOf(config, { engine: 'refit' }).assumed, [
    'memory.precision: auto read as fp32',
    'memory.attention: auto read as sdpa',
    'memory.grad_checkpointing: auto read as false',
  ]);
});

test("hf engine with a config file: DeepKE's 512 padding unless the config sets a length, the same in plan and doctor", async () => {
  const file = join(DIR, 'hf.yaml');
  writeFileSync(file, 'model:\n  preset: bert-base\ntrain:\n  batch_size: 16\ndevice_ids: [0, 1]\n');
  const plan = JSON.parse(
    (await refit('plan', '-c', file, '--engine', 'hf', '--gpu', 'RTX 3060', '--json')).stdout,
  ) as MemoryPlan;
  const doctor = JSON.parse(
    (await refit('doctor', LOG, '-c', file, '--engine', 'hf', '--gpu', 'RTX 3060', '--json')).stdout,
  );
  assert.deepEqual(
    [plan.config.seq_len, plan.config.attention, plan.config.data_parallel],
    [512, 'eager', 2],
  );
  assert.deepEqual(figures(doctor.current), figures(plan));
});

test(
  "a real tiny run: plan.json's prediction is what refit plan -c prints for the run's config.yaml",
  { skip: NO_CLI },
  async () => {
    const run = cachedTinyRun();
    const file = JSON.parse(readFileSync(join(run, 'plan.json'), 'utf8')) as {
      plan: MemoryPlan;
      decision: { attention: string };
    };
    // What only training knows is given as flags: the padded length of the data, its relations, the worker's attention.
    const c = file.plan.config;
    const plan = await refit(
      'plan',
      '-c',
      join(run, 'config.yaml'),
      '--seq-len',
      String(c.seq_len),
      '--num-labels',
      String(c.num_labels),
      '--attention',
      file.decision.attention,
      '--json',
    );
    assert.equal(plan.code, 0, plan.stderr);
    assert.deepEqual(figures(JSON.parse(plan.stdout)), figures(file.plan));
  },
);
