// One planning path (config + facts → run shape → plan): for the same config and card, `refit fit -c X` (its choice),
// `refit plan -c X` with the chosen levers, the config `refit fit --write` writes (planned with `refit plan -c`),
// `refit doctor -c X` (its `current` = `refit plan -c X`), the web planner's function (planConfig) and `refit
// train`'s decision (decideMemory → plan.json) in auto and manual mode give the same run shape and the same peak.
// On generated configs (seeded: heads and RNNs, frozen layers, AdamW and fused AdamW, padding, offload, two ranks) and on
// DeepKE conf folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runInProcess } from '../cli/in-process.ts';
import { resolveConfig, resolveConfigDetailed } from '../../src/config/index.ts';
import {
  FIT_LEVERS,
  configFacts,
  modelFromConfig,
  planConfig,
  resolveGpu,
  type FitResult,
  type MemoryPlan,
} from '../../src/memory/index.ts';
import { decideMemory } from '../../src/run/index.ts';
import { seededRandom } from '../../src/rng.ts';
import { makeDeepkeProject } from '../config/deepke-project.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const VOCAB = join(ROOT, '..', 'shared', 'assets', 'bert-vocab', 'google_uncased_en_vocab.txt');
/** The generated configs use a real vocabulary from ../shared. */
const skip =
  !existsSync(VOCAB) && 'needs ../shared/assets/bert-vocab (the real BERT vocabularies) beside the repo';
const LOG = join(ROOT, 'test', 'fixtures', 'oom', 'v1.13-fragmentation.log');
const DIR = mkdtempSync(join(tmpdir(), 'refit-one-path-'));
const ENV = { HOME: DIR, REFIT_LOG: join(DIR, 'refit.log') };
/** Cards with and without bf16, small and large. */
const CARDS = ['RTX 3060', 'T4', 'A100 80GB'] as const;

/** Runs the CLI in-process; the parsed JSON it printed (exit 0 asserted). */
async function refit(...argv: string[]): Promise<any> {
  const { code, stdout, stderr } = await runInProcess(argv, ENV);
  assert.equal(code, 0, `refit ${argv.join(' ')}: ${stderr}`);
  return JSON.parse(stdout);
}

/** What a plan must agree on: the run shape and the peak (the card's name differs between commands). */
function planned(p: MemoryPlan): { run: unknown; peak_device_bytes: number; breakdown: unknown } {
  const { gpu: _gpu, model: _model, ...run } = p.config;
  return { run, peak_device_bytes: p.peak_device_bytes, breakdown: p.breakdown };
}

/** The `refit plan` flags that set a fit's chosen levers (the lever table's plan flags). */
function chosenFlags(r: FitResult): string[] {
  const c = r.config as unknown as Record<string, unknown>;
  const flags = ['--batch-size', String(r.config.micro_batch_size)];
  for (const l of FIT_LEVERS) {
    const v = c[l.name];
    flags.push(`--${l.flag!.name}`, typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));
  }
  if (r.config.strategy) flags.push('--strategy', r.config.strategy);
  return flags;
}

interface Generated {
  doc: Record<string, any>;
  lengths: number[];
  world: number;
}

/** A random config over the lever values, in auto or manual mode, on one or two ranks. */
function generate(random: () => number, mode: 'auto' | 'manual'): Generated {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const preset = pick(['bert-tiny', 'bert-mini', 'bert-small', 'bert-base'] as const);
  const layers = { 'bert-tiny': 2, 'bert-mini': 4, 'bert-small': 4, 'bert-base': 12 }[preset];
  const world = pick([1, 1, 2]);
  const batch = world * (1 + Math.floor(random() * 24));
  const memory: Record<string, unknown> = {
    mode,
    max_seq_len: pick([64, 128, 256, 512]),
    padding: pick(['dynamic', 'max']),
    freeze_layers: pick([0, 0, Math.floor(random() * (layers + 1))]),
    optimizer: pick(['adamw', 'adamw-fused', 'adamw-8bit']),
  };
  // sometimes fit may pick 8-bit AdamW when nothing exact fits
  if (random() < 0.3) memory.allow = ['adamw-8bit'];
  if (mode === 'manual') {
    memory.precision = pick(['fp32', 'fp16', 'bf16']);
    memory.attention = pick(['sdpa', 'eager']);
    memory.grad_checkpointing = pick([true, false]);
    if (random() < 0.5) memory.micro_batch_size = 1 + Math.floor(random() * (batch / world));
  } else {
    // auto: what fit searches is left to it, or one lever set (then kept by fit and by train alike)
    memory.precision = pick(['auto', 'auto', 'fp32']);
    memory.attention = pick(['auto', 'auto', 'eager']);
    memory.grad_checkpointing = pick(['auto', 'auto', true]);
  }
  const head = pick(['entity-start', 'cls', 'deepke-lm']);
  const model: Record<string, unknown> = { preset, vocab: VOCAB, head };
  if (head === 'deepke-lm')
    model.rnn = { type: pick(['LSTM', 'GRU']), hidden_size: pick([100, 256]), num_layers: pick([1, 2]) };
  const doc = {
    model,
    data: { num_relations: 2 + Math.floor(random() * 60) },
    train: { batch_size: batch },
    memory,
    ...(world > 1
      ? {
          distributed: {
            nproc_per_node: world,
            // zero1 shards adamw-8bit's states too
            strategy: pick(['ddp', 'zero1', 'auto']),
          },
        }
      : {}),
  };
  const lengths = Array.from({ length: 60 }, () => 5 + Math.floor(random() * (random() < 0.3 ? 500 : 90)));
  // offload: one process only; auto leaves it to fit, a value is kept
  if (world === 1)
    memory.offload =
      mode === 'manual'
        ? pick(['none', 'optimizer', 'activations', 'all'])
        : pick(['auto', 'auto', 'none', 'all']);
  // LoRA (model.lora.*): set in some configs, and in auto mode sometimes left to fit (memory.allow: [lora])
  if (random() < 0.3)
    model.lora = {
      rank: pick([4, 8, 16]),
      targets: pick([
        ['query', 'value'],
        ['query', 'key', 'value', 'attention_output', 'intermediate', 'output'],
      ]),
      dropout: pick([0, 0.1]),
    };
  if (mode === 'auto' && random() < 0.3) memory.allow = ['lora'];
  return { doc, lengths, world };
}

/** The worker's capabilities on a card (what `refit train` gets from the worker's `ready`). */
function capsOf(card: string) {
  const gpu = resolveGpu(card);
  return {
    cuda: true,
    device_count: 1,
    bf16: gpu.bf16,
    sdpa: true,
    fused_adamw: true,
    device_name: card,
    total_memory: gpu.memory_bytes,
  };
}

test(
  "auto: fit -c = plan -c + its levers = plan -c of fit --write = train's plan.json, on 24 generated configs",
  { skip },
  async () => {
    const random = seededRandom(20261207);
    for (let i = 0; i < 24; i++) {
      const { doc, lengths, world } = generate(random, 'auto');
      const card = CARDS[i % CARDS.length];
      const file = join(DIR, `auto${i}.yaml`);
      const lengthsFile = join(DIR, `auto${i}.lengths`);
      writeFileSync(file, stringify(doc));
      writeFileSync(lengthsFile, lengths.join('\n'));
      const what = `config ${i} on ${card}: ${JSON.stringify(doc)}`;
      const common = ['-c', file, '--gpu', card, '--lengths-from', lengthsFile, '--json'];
      const written = join(DIR, `auto${i}.chosen.yaml`);
      const fit = (await refit('fit', ...common, '--write', written)) as FitResult;
      // refit plan -c X with the chosen levers as flags
      const plan = (await refit('plan', ...common, ...chosenFlags(fit))) as MemoryPlan;
      assert.deepEqual(planned(plan).run, fit.run, `${what}: plan -c + levers = fit's run`);
      assert.equal(plan.peak_device_bytes, fit.peak_device_bytes, `${what}: plan -c + levers = fit's peak`);
      // the config fit wrote, planned as it is
      const again = (await refit(
        'plan',
        '-c',
        written,
        '--gpu',
        card,
        '--lengths-from',
        lengthsFile,
        '--json',
      )) as MemoryPlan;
      assert.deepEqual(planned(again), planned(plan), `${what}: plan -c (fit --write) = plan -c + levers`);
      // refit train's decision on that card (memory: auto), as train calls it
      const config = resolveConfig({ file, overrides: [] });
      const decided = decideMemory({
        config,
        dims: modelFromConfig(config),
        caps: capsOf(card),
        device: 'cuda',
        lengths: Int32Array.from(lengths),
        num_labels: doc.data.num_relations,
        world,
      });
      assert.ok(decided.plan, `${what}: ${decided.decision.reasons.join('; ')}`);
      assert.deepEqual(planned(decided.plan), planned(plan), `${what}: plan.json = fit's choice`);
      assert.equal(decided.decision.micro_batch_size, fit.config.micro_batch_size, what);
      assert.equal(decided.decision.grad_accumulation, fit.config.grad_accumulation, what);
      for (const l of FIT_LEVERS)
        assert.equal(
          (decided.decision as unknown as Record<string, unknown>)[l.name],
          (fit.config as unknown as Record<string, unknown>)[l.name],
          `${what}: ${l.name}`,
        );
    }
  },
);

test(
  "manual: plan -c = doctor -c's current = the web planner's planConfig = train's plan.json, on 24 generated configs",
  { skip },
  async () => {
    const random = seededRandom(20261208);
    for (let i = 0; i < 24; i++) {
      const { doc, lengths, world } = generate(random, 'manual');
      const card = CARDS[i % CARDS.length];
      if (doc.memory.precision === 'bf16' && !resolveGpu(card).bf16) doc.memory.precision = 'fp16';
      const file = join(DIR, `manual${i}.yaml`);
      const lengthsFile = join(DIR, `manual${i}.lengths`);
      writeFileSync(file, stringify(doc));
      writeFileSync(lengthsFile, lengths.join('\n'));
      const what = `config ${i} on ${card}: ${JSON.stringify(doc)}`;
      const plan = (await refit(
        'plan',
        '-c',
        file,
        '--gpu',
        card,
        '--lengths-from',
        lengthsFile,
        '--json',
      )) as MemoryPlan;
      const doctor = await refit(
        'doctor',
        LOG,
        '-c',
        file,
        '--engine',
        'refit',
        '--gpu',
        card,
        '--lengths-from',
        lengthsFile,
        '--json',
      );
      assert.deepEqual(planned(doctor.current), planned(plan), `${what}: doctor's current = plan -c`);
      // the web planner calls planConfig with the config and its facts (src/memory, run in the page)
      const resolved = resolveConfigDetailed({ file, overrides: [] });
      const facts = configFacts(resolved, { config_file: true, lengths });
      const web = planConfig({
        config: resolved.config,
        facts,
        model: modelFromConfig(resolved.config),
        gpu: resolveGpu(card),
      });
      assert.deepEqual(planned(web.plan), planned(plan), `${what}: planConfig = plan -c`);
      const decided = decideMemory({
        config: resolved.config,
        dims: modelFromConfig(resolved.config),
        caps: capsOf(card),
        device: 'cuda',
        lengths: Int32Array.from(lengths),
        num_labels: doc.data.num_relations,
        world,
      });
      assert.ok(decided.plan, what);
      assert.deepEqual(planned(decided.plan), planned(plan), `${what}: plan.json = plan -c`);
    }
  },
);

test('a DeepKE conf folder: fit -c conf/ prices 512 with the BiLSTM head, and plan -c conf/ + its levers agrees', async () => {
  const project = makeDeepkeProject();
  for (const overrides of [
    ['num_hidden_layers=12', 'lm_file=bert-base-chinese'],
    ['num_hidden_layers=12', 'lm_file=bert-base-chinese', 'memory.freeze_layers=6'],
    ['num_hidden_layers=4', 'lm_file=bert-base-chinese', 'memory.optimizer=adamw-fused', 'batch_size=16'],
    ['num_hidden_layers=12', 'lm_file=bert-base-chinese', 'use_multi_gpu=True', 'gpu_ids=0,1'],
    ['num_hidden_layers=12', 'lm_file=bert-base-chinese', 'distributed.nproc_per_node=2'],
  ]) {
    const args = ['-c', join(project, 'conf'), ...overrides, '--gpu', 'RTX 3060', '--json'];
    const what = overrides.join(' ');
    const fit = (await refit('fit', ...args)) as FitResult;
    assert.equal(fit.run.seq_len, 512, `${what}: DeepKE pads every batch to 512`);
    assert.equal(fit.config.seq_len, 512, what);
    assert.equal(fit.run.head, 'deepke-lm', what);
    assert.equal(fit.run.rnn?.type, 'LSTM', what);
    const plan = (await refit('plan', ...args, ...chosenFlags(fit))) as MemoryPlan;
    assert.ok(
      Math.abs(plan.peak_device_bytes - fit.peak_device_bytes) <= 0.005 * fit.peak_device_bytes,
      `${what}: ${plan.peak_device_bytes} vs ${fit.peak_device_bytes}`,
    );
    assert.deepEqual(planned(plan).run, fit.run, what);
    const doctor = await refit('doctor', LOG, ...args);
    const current = (await refit('plan', ...args)) as MemoryPlan;
    assert.deepEqual(planned(doctor.current), planned(current), `${what}: doctor's current = plan -c conf/`);
  }
  const frozen = (await refit(
    'fit',
    ...['-c', join(project, 'conf'), 'num_hidden_layers=12', 'lm_file=bert-base-chinese'],
    ...['memory.freeze_layers=6', '--gpu', 'RTX 3060', '--json'],
  )) as FitResult;
  assert.equal(frozen.run.freeze_layers, 6, 'fit keeps the frozen layers');
  const written = join(DIR, 'deepke.chosen.yaml');
  await refit(
    'fit',
    '-c',
    join(project, 'conf'),
    'num_hidden_layers=12',
    'lm_file=bert-base-chinese',
    '--gpu',
    'RTX 3060',
    '--write',
    written,
    '--json',
  );
  const text = readFileSync(written, 'utf8');
  assert.match(text, /head: deepke-lm/, 'the written config keeps the head');
  assert.match(text, /num_hidden_layers: 12/, 'and the layers');
  assert.match(text, /max_seq_len: 512\n/, "and DeepKE's padded length");
});
