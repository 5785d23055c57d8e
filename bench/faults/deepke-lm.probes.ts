// Probes of DeepKE's LM model in refit: `refit import-deepke` with checkpoints that do not match the conf (the
// num_hidden_layers and num_relations mismatches of DeepKE issues #529/#449, another DeepKE model #116), a file that
// is no checkpoint and lm_file given a .pth (#410) are one line each, exit 2, no folder left; a matching checkpoint
// imports and predicts.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { findPython } from '../../src/worker/index.ts';
import { deepkeProject, hfFolder, makeCheckpoint, SKIP_REASON } from '../../test/run/deepke-helpers.ts';
import type { Probe, ProbeContext, ProbeResult } from './types.ts';

interface Setup {
  conf: string;
  hf: string;
  pth: string;
  python: string;
}

/** A DeepKE project (20/10/40 rows), the tiny Chinese BERT as lm_file and a matching 1-layer LM checkpoint. */
export async function setup(ctx: ProbeContext): Promise<Setup | string> {
  if (SKIP_REASON) return SKIP_REASON;
  const python = await findPython({ env: process.env }).then(
    (p) => p.python,
    () => undefined,
  );
  if (!python) return 'needs a python3 with torch';
  const project = deepkeProject(ctx.tmp, { train: 20, valid: 10, test: 40 });
  return {
    conf: join(project, 'conf'),
    hf: hfFolder(ctx.tmp),
    pth: makeCheckpoint(python, join(ctx.tmp, 'lm_epoch3.pth')),
    python,
  };
}

/** `refit import-deepke` with `args` must fail with exit 2 and one stderr line matching `want`, leaving no run folder. */
async function refused(
  ctx: ProbeContext,
  o: { args: (s: Setup) => string[]; want: RegExp },
): Promise<ProbeResult> {
  const s = await setup(ctx);
  if (typeof s === 'string') return { ok: false, happened: `not run: ${s}` };
  const out = join(ctx.tmp, 'imported');
  const r = await ctx.refit(['import-deepke', '--conf', s.conf, '--out', out, ...o.args(s)]);
  const lines = r.stderr.trim().split('\n');
  const ok =
    r.status === 2 &&
    lines.length === 1 &&
    o.want.test(lines[0]) &&
    !existsSync(out) &&
    !r.stderr.includes('    at ');
  return {
    ok,
    happened: `exit ${r.status}: ${lines.join(' | ')}${existsSync(out) ? ' (a run folder was left)' : ''}`,
  };
}

export const PROBES: Probe[] = [
  {
    item: 'deepke checkpoints',
    did: '`refit import-deepke` a 1-layer LM checkpoint with num_hidden_layers=2 (DeepKE #529)',
    expected: 'exit 2, one line: the checkpoint has 1 BERT layer, set num_hidden_layers=1; no run folder',
    run: (ctx) =>
      refused(ctx, {
        args: (s) => ['--checkpoint', s.pth, `lm_file=${s.hf}`, 'num_hidden_layers=2'],
        want: /^refit: .*lm_epoch3\.pth: the checkpoint has 1 BERT layer but num_hidden_layers is 2: set num_hidden_layers=1/,
      }),
  },
  {
    item: 'deepke checkpoints',
    did: '`refit import-deepke` a checkpoint trained with num_relations 30 against an 11-row relation.csv (DeepKE #449)',
    expected: 'exit 2, one line: fc.weight has 30 outputs, the relation.csv lists 11, num_relations=30',
    run: (ctx) =>
      refused(ctx, {
        args: (s) => [
          '--checkpoint',
          makeCheckpoint(s.python, join(ctx.tmp, 'lm_30.pth'), 1, 30),
          `lm_file=${s.hf}`,
        ],
        want: /^refit: .*lm_30\.pth: fc\.weight has 30 outputs \(trained with num_relations 30\) but .*relation\.csv lists 11 relations/,
      }),
  },
  {
    item: 'deepke checkpoints',
    did: "`refit import-deepke` a checkpoint of DeepKE's model_name rnn (embedding.*, bilstm.*, fc.*; no BERT) (DeepKE #116)",
    expected: "exit 2, one line: not a checkpoint of DeepKE's LM model, naming the missing bert.* weights",
    run: (ctx) =>
      refused(ctx, {
        args: (s) => {
          const pth = join(ctx.tmp, 'rnn_epoch2.pth');
          const script =
            'import sys, torch; torch.save({"embedding.wordEmbed.weight": torch.zeros(10, 4), "bilstm.rnn.weight_ih_l0": torch.zeros(8, 4), "fc.weight": torch.zeros(11, 4)}, sys.argv[1])';
          spawnSync(s.python, ['-c', script, pth]);
          return ['--checkpoint', pth, `lm_file=${s.hf}`];
        },
        want: /^refit: .*rnn_epoch2\.pth: not a checkpoint of DeepKE's LM model \(model_name: lm\): it has no bert\.\* weights/,
      }),
  },
  {
    item: 'deepke checkpoints',
    did: '`refit import-deepke --checkpoint` a text file',
    expected: 'exit 2, one line: not a PyTorch checkpoint',
    run: (ctx) =>
      refused(ctx, {
        args: (s) => {
          const junk = join(ctx.tmp, 'junk.pth');
          writeFileSync(junk, 'not a checkpoint\n');
          return ['--checkpoint', junk, `lm_file=${s.hf}`];
        },
        want: /^refit: .*junk\.pth: not a PyTorch checkpoint \(/,
      }),
  },
  {
    item: 'deepke checkpoints',
    did: '`refit import-deepke` with lm_file set to the .pth (DeepKE #410)',
    expected: 'exit 2, one line: lm_file is a file, not the Hugging Face folder',
    run: (ctx) =>
      refused(ctx, {
        args: (s) => ['--checkpoint', s.pth, `lm_file=${s.pth}`],
        want: /^refit: lm_file .*lm_epoch3\.pth: a file, not a folder/,
      }),
  },
  {
    item: 'deepke checkpoints',
    did: '`refit import-deepke` a matching LM checkpoint, then `refit predict --head-type --tail-type` on the run',
    expected: "both exit 0; the prediction is one of relation.csv's relations",
    async run(ctx) {
      const s = await setup(ctx);
      if (typeof s === 'string') return { ok: false, happened: `not run: ${s}` };
      const out = join(ctx.tmp, 'imported');
      const imp = await ctx.refit([
        'import-deepke',
        '--conf',
        s.conf,
        '--checkpoint',
        s.pth,
        '--out',
        out,
        `lm_file=${s.hf}`,
      ]);
      if (imp.status !== 0)
        return { ok: false, happened: `import exit ${imp.status}: ${imp.stderr.trim().split('\n').pop()}` };
      const p = await ctx.refit([
        'predict',
        '--run',
        out,
        '--text',
        '明朝末年抗清英雄黄得功，本姓王，安徽合肥人后改姓黄',
        '--head',
        '黄得功',
        '--tail',
        '安徽合肥',
        '--head-type',
        '人物',
        '--tail-type',
        '地点',
      ]);
      const relation = p.status === 0 ? (JSON.parse(p.stdout) as { relation: string }).relation : undefined;
      const known = [
        'None',
        '导演',
        '国籍',
        '祖籍',
        '主持人',
        '出生地',
        '所在城市',
        '所属专辑',
        '连载网站',
        '出品公司',
        '毕业院校',
      ];
      return {
        ok: p.status === 0 && known.includes(relation!),
        happened: `import exit 0; predict exit ${p.status}: ${relation ?? p.stderr.trim().split('\n').pop()}`,
      };
    },
  },
];
