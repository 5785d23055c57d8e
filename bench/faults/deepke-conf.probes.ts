// Probes of a DeepKE conf folder given to -c (Hydra composition): a missing group file, a DeepKE model refit
// does not train, a `???` refit needs, a broken defaults list and a package line are each one line, exit 2;
// the folder as DeepKE ships it plans as DeepKE runs it.
import { join } from 'node:path';
import { makeDeepkeProject } from '../../test/config/deepke-project.ts';
import type { Probe, ProbeContext, ProbeResult } from './types.ts';

/** Runs `refit ...args` on a fresh DeepKE project (conf files changed by `conf`) and checks a one-line exit-2 error. */
async function oneLine(
  ctx: ProbeContext,
  o: {
    conf?: Record<string, string | null>;
    args: (conf: string) => string[];
    want: (conf: string) => string;
  },
): Promise<ProbeResult> {
  const project = makeDeepkeProject(o.conf ?? {}, ctx.tmp);
  const conf = join(project, 'conf');
  const r = await ctx.refit(o.args(conf));
  const lines = r.stderr.trim().split('\n');
  const ok =
    r.status === 2 &&
    lines.length === 1 &&
    lines[0] === `refit: ${o.want(conf)}` &&
    !r.stderr.includes('    at ');
  return { ok, happened: `exit ${r.status}: ${lines.join(' | ')}` };
}

export const PROBES: Probe[] = [
  {
    item: 'plan as DeepKE runs it',
    did: "`refit plan -c conf/` on DeepKE's standard-RE conf folder as shipped (defaults list, model: lm)",
    expected:
      'exit 0: hf engine, vocab 21128, 1 layer, batch 32 × seq 512, fp32, eager, the deepke-lm head; no warning about defaults or the LSTM keys',
    async run(ctx) {
      const project = makeDeepkeProject({}, ctx.tmp);
      const r = await ctx.refit(['plan', '-c', join(project, 'conf'), '--json']);
      if (r.status !== 0)
        return { ok: false, happened: `exit ${r.status}: ${r.stderr.trim().split('\n').pop()}` };
      const p = JSON.parse(r.stdout);
      const got = [
        p.engine,
        p.config.model.vocab_size,
        p.config.model.num_hidden_layers,
        p.config.batch_size,
        p.config.seq_len,
        p.config.precision,
        p.config.attention,
        p.config.head,
      ];
      const ok =
        JSON.stringify(got) === JSON.stringify(['hf', 21128, 1, 32, 512, 'fp32', 'eager', 'deepke-lm']) &&
        !/defaults|LSTM head/.test(r.stderr);
      return {
        ok,
        happened: `exit 0: ${got.join(', ')}; ${r.stderr.trim().split('\n').length} warning lines`,
      };
    },
  },
  {
    item: 'hydra conf',
    did: '`refit plan -c conf/` with conf/model/lm.yaml deleted (the defaults list still says model: lm)',
    expected: 'exit 2, one line: config.yaml:LINE, the entry, the missing file and the options there are',
    run: (ctx) =>
      oneLine(ctx, {
        conf: { 'model/lm.yaml': null },
        args: (conf) => ['plan', '-c', conf],
        want: (conf) =>
          `${join(conf, 'config.yaml')}:11: model: lm: no such config file ${join(conf, 'model', 'lm.yaml')} (model options: cnn, rnn)`,
      }),
  },
  {
    item: 'hydra conf',
    did: '`refit plan -c conf/ model=cnn` (a DeepKE model refit does not train)',
    expected: 'exit 2, one line saying refit trains the lm model (model=lm)',
    run: (ctx) =>
      oneLine(ctx, {
        args: (conf) => ['plan', '-c', conf, 'model=cnn'],
        want: () => "model=cnn: refit trains DeepKE's lm model only (BERT + BiLSTM); use model=lm",
      }),
  },
  {
    item: 'hydra conf',
    did: '`refit doctor oom.log -c conf/` with `model: gcn` in the defaults list',
    expected: 'exit 2, one line naming config.yaml:LINE and the model refit trains',
    run: (ctx) =>
      oneLine(ctx, {
        conf: { 'config.yaml': 'cwd: ???\ndefaults:\n  - train\n  - model: gcn\n' },
        args: (conf) => ['doctor', join(ctx.root, 'test/fixtures/oom/deepke-issue-1.4.log'), '-c', conf],
        want: (conf) =>
          `${join(conf, 'config.yaml')}:4: model: gcn: refit trains DeepKE's lm model only (BERT + BiLSTM); use model=lm`,
      }),
  },
  {
    item: 'hydra conf',
    did: '`refit plan -c conf/` with `lm_file: ???` in model/lm.yaml (a value refit needs left missing)',
    expected: 'exit 2, one line naming model/lm.yaml:LINE, the key and how to set it',
    run: (ctx) =>
      oneLine(ctx, {
        conf: { 'model/lm.yaml': 'model_name: lm\nlm_file: ???\nnum_hidden_layers: 1\n' },
        args: (conf) => ['plan', '-c', conf],
        want: (conf) => {
          const lm = join(conf, 'model', 'lm.yaml');
          return `${lm}:2: lm_file is ??? (a mandatory value no conf file fills in): set it in ${lm} or on the command line (lm_file=VALUE)`;
        },
      }),
  },
  {
    item: 'hydra conf',
    did: '`refit plan -c conf/` with a defaults entry naming two groups (`- {model: lm, rnn: x}`)',
    expected: 'exit 2, one line naming config.yaml:LINE and the entry forms Hydra takes',
    run: (ctx) =>
      oneLine(ctx, {
        conf: { 'config.yaml': 'defaults:\n  - train\n  - {model: lm, rnn: x}\n' },
        args: (conf) => ['plan', '-c', conf],
        want: (conf) =>
          `${join(conf, 'config.yaml')}:3: bad defaults entry (more than one group in one entry); expected - name, - group: option or - _self_`,
      }),
  },
  {
    item: 'hydra conf',
    did: '`refit plan -c conf/ model=bert` (a group option with no file)',
    expected: 'exit 2, one line naming the override, the missing file and the options there are',
    run: (ctx) =>
      oneLine(ctx, {
        args: (conf) => ['plan', '-c', conf, 'model=bert'],
        want: (conf) =>
          `model=bert: no such config file ${join(conf, 'model', 'bert.yaml')} (model options: cnn, lm, rnn)`,
      }),
  },
  {
    item: 'hydra conf',
    did: '`refit plan -c conf/` on a folder with no config.yaml',
    expected: 'exit 2, one line saying what -c takes',
    run: (ctx) =>
      oneLine(ctx, {
        conf: { 'config.yaml': null },
        args: (conf) => ['plan', '-c', conf],
        want: (conf) =>
          `${conf}: a folder without config.yaml: give a config file, or a DeepKE conf folder (conf/ with config.yaml and its defaults: list)`,
      }),
  },
];
