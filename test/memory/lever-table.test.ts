// The lever table is the one declaration of the levers: the config's memory.* and distributed.* keys, schemas and
// defaults, the plan/fit flags, fit's search order, the OOM recovery order and the doctor's general fixes all come from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, KEY_SPECS, resolveConfig } from '../../src/config/index.ts';
import {
  ADVICE_LEVERS,
  FIT_LEVERS,
  LEVERS,
  RECOVERY_LEVERS,
  chooseRecovery,
  lever,
  PRESETS,
  fitConfig,
  plainConfig,
  resolveGpu,
  type Offload,
} from '../../src/memory/index.ts';
import { generalFixes } from '../../src/memory/doctor/fixes.ts';
import { diagnose, parseOomReport } from '../../src/memory/index.ts';
import { readFileSync } from 'node:fs';

test('every memory.*, distributed.* and model.lora.* config key is one lever entry (and every lever a config key), with its schema, words and default', () => {
  const keys = new Set(LEVERS.map((l) => l.key));
  const specs = KEY_SPECS.filter(
    (s) => s.key.startsWith('memory.') || s.key.startsWith('model.lora.') || keys.has(s.key),
  );
  assert.deepEqual(
    specs.map((s) => s.key),
    LEVERS.map((l) => l.key),
    'the same keys in the same (config.yaml) order',
  );
  for (const l of LEVERS) {
    const spec = specs.find((s) => s.key === l.key)!;
    assert.deepEqual(spec.schema, l.schema, l.key);
    assert.equal(spec.expected, l.expected, l.key);
    assert.equal(DEFAULTS[l.key], l.default, `${l.key} default`);
    // model.lora.rank's name is lora_rank (a decision and load command field named by its section)
    const last = l.key.startsWith('model.lora.') ? `lora_${l.key.split('.').pop()}` : l.key.split('.').pop();
    assert.equal(l.name, last, `${l.key}: the name is the key's last part`);
  }
});

test("a resolved config's memory and distributed sections have a field for every lever with a default (MemoryConfig, DistributedConfig)", () => {
  const config = resolveConfig({ overrides: [] });
  for (const section of ['memory', 'distributed'] as const) {
    const levers = LEVERS.filter((l) => l.key.startsWith(`${section}.`) && l.default !== undefined);
    assert.deepEqual(Object.keys(config[section]).sort(), levers.map((l) => l.name).sort(), section);
  }
  // model.lora (LoraConfig): one field per model.lora.* entry, at its key
  const lora = LEVERS.filter((l) => l.key.startsWith('model.lora.'));
  assert.deepEqual(Object.keys(config.model.lora).sort(), lora.map((l) => l.key.split('.').pop()).sort());
  for (const l of lora) assert.deepEqual(config.model.lora[l.key.split('.').pop() as 'rank'], l.default);
});

test('one lever table: memory.* then distributed.* then model.lora.* keys, each name once (lever(name) finds every entry)', () => {
  const sections = LEVERS.map((l) => l.key.split('.')[0]);
  assert.deepEqual([...new Set(sections)], ['memory', 'distributed', 'model']);
  assert.equal(
    sections.lastIndexOf('memory'),
    sections.indexOf('distributed') - 1,
    'the sections are not interleaved',
  );
  assert.equal(sections.lastIndexOf('distributed'), sections.indexOf('model') - 1);
  assert.equal(new Set(LEVERS.map((l) => l.name)).size, LEVERS.length);
  for (const l of LEVERS) assert.equal(lever(l.name), l);
});

test('fit searches precision, then attention, then checkpointing, then padding, then frozen layers, then offload, then the optimizer, then LoRA (micro-batch innermost); recovery pulls micro-batch, checkpointing, activation offload, optimizer offload, window', () => {
  assert.deepEqual(
    FIT_LEVERS.map((l) => l.name),
    [
      'precision',
      'attention',
      'grad_checkpointing',
      'padding',
      'freeze_layers',
      'offload',
      'optimizer',
      'lora_rank',
    ],
  );
  // FitLevers (a fit candidate's config) has one field per lever fit searches: a fit's JSON carries each
  const fit = fitConfig({
    config: plainConfig({ batch_size: 8, max_seq_len: 128 }),
    facts: { engine: 'refit' },
    model: PRESETS['bert-tiny'],
    gpu: resolveGpu('T4'),
  });
  for (const l of FIT_LEVERS) assert.ok(l.name in fit.config, l.name);
  assert.deepEqual(
    RECOVERY_LEVERS.map((l) => l.name),
    ['micro_batch_size', 'grad_checkpointing', 'offload', 'max_seq_len'],
  );
  const oom = { kind: 'allocator-oom' };
  const at = (micro: number, ckpt: boolean, allow = false, offload: Offload = 'all') => {
    const a = chooseRecovery({
      levers: { micro_batch_size: micro, grad_checkpointing: ckpt, max_seq_len: 256, offload },
      failed_size: micro,
      report: oom,
      allow_shorter_seq: allow,
    });
    return a ? (a.kind === 'offload' ? `offload ${a.to}` : a.kind) : null;
  };
  assert.deepEqual(
    [at(8, false), at(1, false), at(1, true, false, 'none'), at(1, true, false, 'activations')],
    ['smaller_micro_batch', 'grad_checkpointing', 'offload activations', 'offload all'],
  );
  assert.deepEqual([at(1, true, true), at(1, true)], ['shorter_seq', null]);
});

test("the doctor's general fixes are the levers' advice, fastest first", () => {
  const text = readFileSync(new URL('../fixtures/oom/v1.13-fragmentation.log', import.meta.url), 'utf8');
  const report = parseOomReport(text);
  const titles = generalFixes(report, { ...diagnose(report), cause: 'capacity' }).map((f) => f.title);
  assert.deepEqual(
    titles,
    ADVICE_LEVERS.map((l) => l.advice!.title),
  );
  assert.deepEqual(
    ADVICE_LEVERS.map((l) => l.name),
    ['precision', 'attention', 'padding', 'micro_batch_size', 'grad_checkpointing', 'max_seq_len'],
  );
});

test('every lever flag is an option of refit plan or refit fit, as the table spells it', async () => {
  const { main } = await import('../../src/cli/main.ts');
  const { Writable, Readable } = await import('node:stream');
  const help = async (cmd: string) => {
    let out = '';
    const sink = new Writable({
      write(c, _e, done) {
        out += String(c);
        done();
      },
    });
    await main(
      [cmd, '--help'],
      { stdout: sink, stderr: sink, stdin: Readable.from([]) },
      { HOME: '/nonexistent', REFIT_LOG: '' },
    );
    return out;
  };
  const [plan, fit] = [await help('plan'), await help('fit')];
  for (const l of LEVERS) {
    if (l.flag?.plan)
      assert.ok(plan.includes(`--${l.flag.name} ${l.flag.plan.arg}`), `plan --${l.flag.name}`);
    if (l.flag?.fit) assert.ok(fit.includes(`--${l.flag.name} ${l.flag.fit.arg}`), `fit --${l.flag.name}`);
  }
});
