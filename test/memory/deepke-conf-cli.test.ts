// `refit plan|doctor -c conf/` on a DeepKE project folder through the built binary: the run planned as DeepKE
// runs it (HF BertModel, fp32, eager, padded to 512, the BiLSTM head), Hydra overrides as DeepKE users type
// them, the doctor's verdict and its fixes as refit settings and as DeepKE overrides, and the one-line errors.
// Needs `npm run build` (scripts/test.sh does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDeepkeProject } from '../config/deepke-project.ts';

const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
const skip = !existsSync(new URL('../../dist/refit.mjs', import.meta.url)) && 'needs npm run build';
const SEED_LOG = new URL('../fixtures/oom/deepke-issue-1.4.log', import.meta.url).pathname;
const GIB = 2 ** 30;
const tmp = mkdtempSync(join(tmpdir(), 'refit-deepke-cli-'));
const refit = (args: string[], opts: { cwd?: string; input?: string } = {}) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd: opts.cwd ?? tmp,
    input: opts.input,
    env: { ...process.env, REFIT_LOG: join(tmp, 'refit.log') },
  });
/** The seed's message alone, as a user pastes it (no traceback: the conf folder says it is DeepKE's run). */
const SEED_MESSAGE = readFileSync(SEED_LOG, 'utf8')
  .split('\n')
  .find((l) => l.includes('CUDA out of memory'))!;

test(
  "plan -c conf/ --json: DeepKE's run (bert-base-chinese, 1 layer, 32 × 512, fp32, eager, BiLSTM head)",
  { skip },
  () => {
    const project = makeDeepkeProject();
    const r = refit(['plan', '-c', join(project, 'conf'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout);
    assert.equal(p.engine, 'hf');
    assert.deepEqual(
      [p.config.model.vocab_size, p.config.model.num_hidden_layers, p.config.seq_len, p.config.batch_size],
      [21128, 1, 512, 32],
    );
    assert.deepEqual(
      [p.config.head, p.config.precision, p.config.attention, p.config.num_labels],
      ['deepke-lm', 'fp32', 'eager', 11],
    );
    assert.deepEqual(p.config.rnn, { type: 'LSTM', hidden_size: 100, num_layers: 1, bidirectional: true });
    // BertModel with its pooler (21128 vocabulary, 1 layer) + BiLSTM 2 × (4·50·(768+50) + 2·4·50) + Linear(100, 11)
    assert.equal(p.params, 24_301_056 + 328_000 + 1_111);
    assert.doesNotMatch(r.stderr, /defaults|Hydra bookkeeping|LSTM head|type_rnn|hidden_size/);
    for (const line of r.stderr.trimEnd().split('\n'))
      assert.match(line, /^refit: warning: .*conf: ignoring DeepKE keys? /);
  },
);

test('plan -c conf/config.yaml with Hydra overrides and a group switch; -c PROJECT', { skip }, () => {
  const project = makeDeepkeProject();
  const r = refit([
    'plan',
    '-c',
    join(project, 'conf', 'config.yaml'),
    'lm_file=hfl/chinese-bert-wwm',
    'num_hidden_layers=12',
    'batch_size=16',
    'model=lm',
    '--gpu',
    'RTX 3060',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /^hf train: BERT L=12 h=768 heads=12 vocab=21128, batch 16 × seq 512, fp32, eager, adamw, BiLSTM head \(100×1\)$/m,
  );
  assert.match(r.stdout.trimEnd().split('\n').at(-1)!, /^verdict: does not fit RTX 3060 \(11\.75 GiB\)/);
  const fromProject = JSON.parse(refit(['plan', '-c', project, '--json']).stdout);
  assert.equal(fromProject.config.head, 'deepke-lm');
  // DataParallel: GPU 0 runs half the batch but keeps the model states
  const one = JSON.parse(refit(['plan', '-c', project, 'num_hidden_layers=12', '--json']).stdout);
  const two = JSON.parse(
    refit(['plan', '-c', project, 'num_hidden_layers=12', 'use_multi_gpu=true', 'gpu_ids=0,1', '--json'])
      .stdout,
  );
  assert.equal(two.config.data_parallel, 2);
  assert.match(
    refit(['plan', '-c', project, 'use_multi_gpu=true']).stdout,
    /, BiLSTM head \(100×1\), DataParallel on 2 GPUs \(GPU 0 shown\)$/m,
  );
  assert.equal(two.breakdown.optimizer, one.breakdown.optimizer);
  assert.ok(
    two.peak_device_bytes < 0.6 * one.peak_device_bytes,
    `${two.peak_device_bytes} vs ${one.peak_device_bytes}`,
  );
  // flags still win: refit's own engine
  const own = JSON.parse(refit(['plan', '-c', project, '--engine', 'refit', '--json']).stdout);
  assert.deepEqual([own.engine, own.config.seq_len], ['refit', 256]);
});

test(
  'plan -c conf/ errors: a refused model, a missing group file, a ??? refit needs: exit 2, one line',
  { skip },
  () => {
    const project = makeDeepkeProject({ 'model/lm.yaml': null });
    const conf = join(project, 'conf');
    const refused = refit(['plan', '-c', conf, 'model=cnn']);
    assert.equal(refused.status, 2);
    assert.equal(
      refused.stderr,
      "refit: model=cnn: refit trains DeepKE's lm model only (BERT + BiLSTM); use model=lm\n",
    );
    const missing = refit(['plan', '-c', conf]);
    assert.equal(missing.status, 2);
    assert.equal(
      missing.stderr,
      `refit: ${join(conf, 'config.yaml')}:11: model: lm: no such config file ${join(conf, 'model', 'lm.yaml')} (model options: cnn, rnn)\n`,
    );
    const unset = makeDeepkeProject({ 'model/lm.yaml': 'model_name: lm\nlm_file: ???\n' });
    const lm = join(unset, 'conf', 'model', 'lm.yaml');
    const r = refit(['plan', '-c', join(unset, 'conf')]);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr.trimEnd().split('\n').at(-1),
      `refit: ${lm}:2: lm_file is ??? (a mandatory value no conf file fills in): set it in ${lm} or on the command line (lm_file=VALUE)`,
    );
    assert.equal(refit(['plan', '-c', join(unset, 'conf'), 'lm_file=bert-base-chinese', '--json']).status, 0);
  },
);

test(
  'doctor on the seed message with -c conf/ num_hidden_layers=12: does not fit 12 GB, refit settings and DeepKE overrides',
  { skip },
  () => {
    const project = makeDeepkeProject();
    const args = [
      '-c',
      join(project, 'conf'),
      'num_hidden_layers=12',
      'lm_file=bert-base-chinese',
      '--gpu',
      'RTX 3060',
    ];
    const r = refit(['doctor', '-', ...args], { input: SEED_MESSAGE + '\n' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^cause: capacity$/m);
    const text = r.stdout.replace(/\s+/g, ' ');
    assert.match(
      text,
      /Planned from the config: bert-base-chinese \(hf engine\), micro-batch 32 of 32, seq 512, fp32, eager: predicted peak [\d.]+ GiB vs 11\.75 GiB on the RTX 3060 → does not fit\./,
    );
    assert.doesNotMatch(text, /fits by the plan/);
    assert.match(
      r.stdout,
      /^fixes \(the fix for the cause first, then refit settings fastest first, then DeepKE overrides\):$/m,
    );
    assert.match(r.stdout, /^ {5}set memory\.precision=bf16 memory\.attention=sdpa$/m);
    assert.match(r.stdout, /^ {5}DeepKE: python run\.py batch_size=\d+$/m);
    assert.match(r.stdout, /^ {5}DeepKE: python run\.py num_hidden_layers=\d+$/m);
    const json = JSON.parse(refit(['doctor', SEED_LOG, ...args, '--json']).stdout);
    const deepke = json.fixes.filter((f: { deepke?: object }) => f.deepke);
    assert.deepEqual(
      deepke.map((f: { deepke: object }) => Object.keys(f.deepke)[0]),
      ['batch_size', 'num_hidden_layers'],
    );
    for (const fix of json.fixes) {
      assert.ok(fix.fits && fix.predicted_peak_bytes < 0.95 * 11.75 * GIB, fix.title);
      assert.ok(fix.deepke || fix.config, fix.title);
    }
    assert.ok(deepke[0].deepke.batch_size < 32 && deepke[1].deepke.num_hidden_layers < 12);
    // DeepKE's own default (1 layer) fits: the doctor says so and offers no DeepKE override
    const one = JSON.parse(
      refit(['doctor', SEED_LOG, '-c', join(project, 'conf'), '--gpu', 'RTX 3060', '--json']).stdout,
    );
    assert.ok(one.fixes.every((f: { deepke?: object }) => !f.deepke));
    // refit's own run of the conf (--engine refit): refit settings only
    const own = JSON.parse(refit(['doctor', SEED_LOG, ...args, '--engine', 'refit', '--json']).stdout);
    assert.ok(own.fixes.length > 0 && own.fixes.every((f: { deepke?: object }) => !f.deepke));
  },
);

test(
  'doctor: overrides before the log are read from stdin; overrides without -c are one line',
  { skip },
  () => {
    const project = makeDeepkeProject();
    const r = refit(['doctor', '-c', join(project, 'conf'), 'num_hidden_layers=12', '--json'], {
      input: SEED_MESSAGE + '\n',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).fixes.some((f: { deepke?: object }) => f.deepke));
    const bad = refit(['doctor', SEED_LOG, 'batch_size=16']);
    assert.equal(bad.status, 2);
    assert.equal(
      bad.stderr,
      'refit: refit doctor: batch_size=16: key=value overrides need -c CONFIG (the run config they change)\n',
    );
  },
);
