// Probes of names that come from the data: relations and entity types named `__proto__`, `constructor`, `toString`
// and `hasOwnProperty` (relation.csv and the rows) train, evaluate and predict like any other name, with the default
// head and with the deepke-lm head (which looks up relation.csv's types by the gold relation's name).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROTO_NAMES, protoNameData } from '../../test/run/names-data.ts';
import type { Probe, ProbeContext, ProbeResult } from './types.ts';

async function trainEvalPredict(ctx: ProbeContext, extra: string[]): Promise<ProbeResult> {
  const d = protoNameData(ctx.tmp);
  const run = join(ctx.tmp, 'run');
  const args = [
    `data.train=${d}/train.csv`,
    `data.valid=${d}/valid.csv`,
    `data.test=${d}/test.csv`,
    `data.relations=${d}/relation.csv`,
    `model.vocab=${d}/vocab.txt`,
    'model.preset=bert-tiny',
    'train.epochs=1',
    'train.batch_size=16',
    'memory.max_seq_len=64',
    'device=cpu',
    ...extra,
    '--progress',
    'plain',
    '--threads',
    '1',
  ];
  const t = await ctx.refit(['train', ...args, '--out', run]);
  if (t.status !== 0)
    return { ok: false, happened: `train exit ${t.status}: ${t.stderr.trim().split('\n').pop()}` };
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  const named = (block: { per_relation: object; confusion: { labels: string[] } }) =>
    ['__proto__', 'constructor'].every(
      (r) => Object.hasOwn(block.per_relation, r) && block.confusion.labels.includes(r),
    );
  const e = await ctx.refit(['eval', '--run', run, '--data', `${d}/test.csv`]);
  const p = await ctx.refit([
    'predict',
    '--run',
    run,
    '--text',
    'Zoe Reyes was born in Medan.',
    '--head',
    'Zoe Reyes',
    '--tail',
    'Medan',
    '--top-k',
    '6',
  ]);
  const top: string[] =
    p.status === 0 ? JSON.parse(p.stdout.trim()).top.map((x: { relation: string }) => x.relation) : [];
  const ok =
    named(m.test) &&
    named(m.valid) &&
    e.status === 0 &&
    /__proto__/.test(e.stdout) &&
    /constructor/.test(e.stdout) &&
    PROTO_NAMES.every((r) => top.includes(r));
  return {
    ok,
    happened:
      `train exit 0, metrics name __proto__/constructor: ${named(m.test) && named(m.valid)}; eval exit ${e.status}${/__proto__/.test(e.stdout) ? ' naming them' : ''}; ` +
      `predict exit ${p.status}, top-6: ${top.join(' ')}${p.status ? ` (${p.stderr.trim().split('\n').pop()})` : ''}`,
  };
}

export const PROBES: Probe[] = [
  {
    item: 'data names',
    did: '`refit train`, `eval` and `predict` a dataset whose relations are __proto__, constructor, toString, hasOwnProperty (entity types too)',
    expected:
      "exit 0 each; metrics.json per_relation and confusion, eval's table and predict's top-k name them",
    run: (ctx) => trainEvalPredict(ctx, []),
  },
  {
    item: 'data names',
    did: "the same with model.head=deepke-lm, whose input takes relation.csv's head_type/tail_type by the gold relation's name",
    expected:
      'exit 0 each; the __proto__ relation gets its own types from relation.csv, and every name is scored and predicted',
    run: (ctx) => trainEvalPredict(ctx, ['model.head=deepke-lm']),
  },
];
