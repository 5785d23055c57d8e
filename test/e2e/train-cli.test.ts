// The built binary end to end: train a tiny run, then eval / predict on it, and every bad input of these commands
// (exit code 2, one exact stderr line, nothing overwritten). The worker runs for real (bert-tiny, CPU, 4 steps).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoDataArgs, writeDemoData } from '../web/tiny-run.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'refit-e2e-train-'));
const run = join(dir, 'run');
const env: Record<string, string | undefined> = {
  ...process.env,
  REFIT_LOG: join(dir, 'cli.log'),
  REFIT_CACHE: join(dir, 'cache'),
};
delete env.REFIT_INJECT_OOM;
delete env.REFIT_INJECT_CRASH;

function refit(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/refit.mjs', ...args],
      { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        done({ status: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const data = writeDemoData(dir, { train: 64, valid: 16, test: 24 }, 11);
const ds = data.dataset;
const trainArgs = [
  ...demoDataArgs(data),
  'model.preset=bert-tiny',
  'train.epochs=1',
  'train.batch_size=16',
  'memory.max_seq_len=64',
  'device=cpu',
  '--progress',
  'plain',
  '--threads',
  '1',
];
let trained: { status: number; stdout: string; stderr: string };

before(async () => {
  if (!existsSync(join(ROOT, 'dist/refit.mjs')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  trained = await refit('train', ...trainArgs, '--out', run);
});

describe('refit train / eval / predict', () => {
  test('train writes the run folder of design §5', () => {
    assert.equal(trained.status, 0, trained.stderr);
    assert.match(trained.stdout, /^test: accuracy \d\.\d{4}/m);
    for (const f of [
      'config.yaml',
      'plan.json',
      'events.jsonl',
      'metrics.json',
      'refit.log',
      'report.html',
      'model/config.json',
      'model/vocab.txt',
      'model/model.safetensors',
      'model/refit.json',
    ]) {
      assert.ok(existsSync(join(run, f)), f);
    }
    const events = readFileSync(join(run, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const kinds = new Set(events.map((e) => e.event));
    for (const k of ['run_start', 'step', 'eval', 'checkpoint', 'run_end']) assert.ok(kinds.has(k), k);
    assert.equal(events.filter((e) => e.event === 'step').length, 4);
    const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
    for (const split of ['valid', 'test'])
      for (const k of ['accuracy', 'macro_f1', 'micro_f1', 'per_relation', 'confusion'])
        assert.ok(k in m[split], `${split}.${k}`);
    assert.deepEqual(Object.keys(m.train).sort(), [
      'examples_per_s',
      'examples_seen',
      'optimizer_steps',
      'peak_memory_bytes',
      'seconds',
      'tokens_per_s',
      'tokens_seen',
    ]);
    assert.equal(m.train.examples_seen, 64);
    const refitJson = JSON.parse(readFileSync(join(run, 'model/refit.json'), 'utf8'));
    assert.deepEqual(refitJson.relations, ds.relations.names);
    const plan = JSON.parse(readFileSync(join(run, 'plan.json'), 'utf8'));
    assert.equal(plan.decision.micro_batch_size, 16);
  });

  test('train into an existing run folder is refused and overwrites nothing', async () => {
    const before = statSync(join(run, 'metrics.json')).mtimeMs;
    const r = await refit('train', ...trainArgs, '--out', run);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      `refit: ${run}: folder exists and is not empty; use --resume to continue that run, --force to replace it, or another --out\n`,
    );
    assert.equal(statSync(join(run, 'metrics.json')).mtimeMs, before);
  });

  test('eval --json gives the test block of metrics.json for the test file', async () => {
    const r = await refit('eval', '--run', run, '--data', data.test, '--json');
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    const saved = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')).test;
    assert.equal(m.accuracy, saved.accuracy);
    assert.equal(m.macro_f1, saved.macro_f1);
  });

  test('predict: JSON lines in input order, an error row for a missing entity, top-k', async () => {
    const input = file(
      'in.jsonl',
      [
        { text: 'Maya Okafor was born in Porto.', head: 'Maya Okafor', tail: 'Porto' },
        { text: 'Maya Okafor was born in Porto.', head: 'Nobody', tail: 'Porto' },
        {
          text: 'Lisbon is the capital of Portugal.',
          head: 'Lisbon',
          tail: 'Portugal',
          head_offset: 0,
          tail_offset: 25,
        },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n') + '\n',
    );
    const r = await refit('predict', '--run', run, '--input', input, '--top-k', '2');
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((x) => x.id),
      [0, 1, 2],
    );
    assert.equal(rows[1].error, "head 'Nobody' is not in the text");
    for (const i of [0, 2]) {
      assert.ok(ds.relations.names.includes(rows[i].relation));
      assert.equal(rows[i].top.length, 2);
      assert.equal(rows[i].top[0].relation, rows[i].relation);
    }
    const one = await refit(
      'predict',
      '--run',
      run,
      '--text',
      'Lisbon is the capital of Portugal.',
      '--head',
      'Lisbon',
      '--tail',
      'Portugal',
    );
    assert.equal(one.status, 0, one.stderr);
    assert.equal(one.stdout.trim().split('\n').length, 1);
    const csv = file(
      'bad-row.csv',
      'sentence,relation,head,head_offset,tail,tail_offset\n' +
        'Lisbon is the capital of Portugal.,capital_of,Lisbon,0,Portugal,25\n' +
        'Maya Okafor was born in Porto.,born_in,Nobody,0,Porto,24\n' +
        'Tidewell has its headquarters in Bergen.,headquartered_in,Tidewell,0,Bergen,33\n',
    );
    const labelled = await refit('predict', '--run', run, '--input', csv);
    assert.equal(labelled.status, 0, labelled.stderr);
    const lrows = labelled.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lrows.map((x) => [x.id, x.head, 'error' in x]),
      [
        [0, 'Lisbon', false],
        [1, '', true],
        [2, 'Tidewell', false],
      ],
    );
    assert.equal(lrows[1].line, 3);
    assert.equal(lrows[1].error, "head 'Nobody' does not occur in the sentence");
    const na = await refit('predict', '--run', run, '--input', data.test, '--na-threshold', '1');
    assert.ok(
      na.stdout
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).relation === ds.relations.na_label),
      'threshold 1 turns every answer into NA',
    );
  });
});

describe('bad input: exit 2, one line', { concurrency: 3 }, () => {
  const cases: Array<[string, () => string[], (d: string) => string]> = [
    [
      'eval on another relation set',
      () => [
        'eval',
        '--run',
        run,
        '--data',
        file(
          'other.csv',
          'sentence,relation,head,head_offset,tail,tail_offset\nAda met Bob.,friend_of,Ada,0,Bob,8\n',
        ),
      ],
      () =>
        `refit: ${join(dir, 'other.csv')}: relation 'friend_of' not among the 6 relations the run ${run} was trained on\n`,
    ],
    [
      'predict on a folder that is not a run',
      () => ['predict', '--run', dir, '--text', 'a b', '--head', 'a', '--tail', 'b'],
      () =>
        `refit: ${join(dir, 'model', 'refit.json')}: missing — not a finished refit run (train one with refit train --out ${dir})\n`,
    ],
    [
      'predict --strict, input with a broken JSON line',
      () => [
        'predict',
        '--run',
        run,
        '--strict',
        '--input',
        file('broken.jsonl', '{"text": "a b", "head": "a", "tail": "b"}\n{"text": \n'),
      ],
      () =>
        `refit: ${join(dir, 'broken.jsonl')}:2: broken JSON at column 10: unexpected end of input (--strict: 1 of 2 rows was bad: line 2; each has an error line in the output)\n`,
    ],
    [
      'train without training data',
      () => ['train', 'model.preset=bert-tiny', `model.vocab=${data.vocab}`, '--out', join(dir, 'none')],
      () => 'refit: no training data: set data.train=FILE (or a DeepKE data folder)\n',
    ],
    [
      'train with a missing vocabulary',
      () => [
        'train',
        `data.train=${data.train}`,
        'model.preset=bert-tiny',
        `model.vocab=${join(dir, 'nope.txt')}`,
        '--out',
        join(dir, 'novocab'),
      ],
      () => `refit: ${join(dir, 'nope.txt')}: vocabulary file missing\n`,
    ],
    [
      'predict with --top-k 0',
      () => ['predict', '--run', run, '--text', 'a b', '--head', 'a', '--tail', 'b', '--top-k', '0'],
      () => 'refit: --top-k 0: expected an integer ≥ 1\n',
    ],
    [
      'predict --strict, input line without a tail',
      () => [
        'predict',
        '--run',
        run,
        '--strict',
        '--input',
        file('notail.jsonl', '{"text": "a b", "head": "a"}\n'),
      ],
      () =>
        `refit: ${join(dir, 'notail.jsonl')}:1: field 'tail' is missing (--strict: 1 of 1 row was bad: line 1; each has an error line in the output)\n`,
    ],
    [
      'train without a model',
      () => ['train', `data.train=${data.train}`, `model.vocab=${data.vocab}`, '--out', join(dir, 'nomodel')],
      () =>
        'refit: no model: set model.preset=bert-mini (random init, with model.vocab) or model.pretrained=DIR\n',
    ],
    [
      'train with a Hugging Face id as the model (DeepKE lm_file)',
      () => ['train', `data.train=${data.train}`, 'lm_file=bert-base-chinese', '--out', join(dir, 'hfid')],
      () =>
        "refit: model.pretrained 'bert-base-chinese' is a Hugging Face model id, not a folder here: download it (huggingface-cli download bert-base-chinese --local-dir models/bert-base-chinese) and set model.pretrained=models/bert-base-chinese\n",
    ],
    [
      'train without a vocabulary',
      () => ['train', `data.train=${data.train}`, 'model.preset=bert-tiny', '--out', join(dir, 'novocab2')],
      () => 'refit: no vocabulary: set model.vocab=vocab.txt (or model.pretrained=DIR with a vocab.txt)\n',
    ],
    [
      'train on cuda without one',
      () => ['train', ...trainArgs, 'device=cuda', '--out', join(dir, 'nocuda')],
      () => "refit: device=cuda but the worker's torch sees no CUDA device; use device=cpu or auto\n",
    ],
    [
      'resume without a checkpoint',
      () => ['train', '--resume', '--out', join(dir, 'fresh')],
      () =>
        `refit: ${join(dir, 'fresh')}: no checkpoint to resume from (checkpoints/last.json missing); run without --resume\n`,
    ],
  ];
  // On a machine with a GPU, device=cuda trains instead of failing.
  const hasGpu = existsSync('/dev/nvidiactl');
  for (const [name, args, line] of cases) {
    test(name, { skip: hasGpu && name.includes('cuda') && 'this machine has a CUDA device' }, async () => {
      const a = args();
      const r = await refit(...a);
      assert.equal(r.stderr, line(dir));
      assert.equal(r.status, 2);
      // device=cuda is known to be impossible only once the worker reports its capabilities (in the run folder's log).
      if (a[0] === 'train' && !a.includes('device=cuda'))
        assert.ok(!existsSync(a[a.indexOf('--out') + 1]), 'a failed train leaves no run folder behind');
    });
  }
});
