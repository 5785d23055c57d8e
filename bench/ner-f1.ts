// NER entity F1 from random initialisation on CPU: Weibo NER (Chinese, a character per token) and WNUT-17 (English
// words), the same small model, window, batch, rate, warmup and epochs for both; the test split scored by refit train
// itself (metrics.json test.entity, seqeval's default mode, with the best valid epoch's weights). Early stopping is
// off so every run trains the epochs asked for. Beside each dataset, two baselines that learn nothing from the text
// (all `O`; a dictionary of the training entities: bench/ner-dict-baseline.ts). Evidence that the token head learns,
// not a leaderboard number.
// Every run is kept in OUT/ner-f1.json (a rerun of the same settings replaces its row) and OUT/ner-f1.md is written
// from it; the .md's text from its `## What this shows` heading on is kept as it is.
// Run: node --import tsx bench/ner-f1.ts [--data weibo,wnut17] [--epochs 3] [--preset bert-mini] [--lr RATE]
//      [--warmup 0.1] [--batch 16] [--window 128] [--dropout 0.1] [--threads N] [--label run] [--out bench/results]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultLearningRate } from '../src/config/defaults.ts';
import { resolveConfig } from '../src/config/index.ts';
import { readNerDataset } from '../src/data/index.ts';
import { runTraining } from '../src/run/index.ts';
import { baselines, type BaselineScore } from './ner-dict-baseline.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SHARED = resolve(ROOT, '../shared/assets');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PRESET = arg('--preset', 'bert-mini');
const S = {
  preset: PRESET,
  epochs: Number(arg('--epochs', '3')),
  lr: Number(arg('--lr', String(defaultLearningRate({ preset: PRESET })))),
  warmup: Number(arg('--warmup', '0.1')),
  batch: Number(arg('--batch', '16')),
  window: Number(arg('--window', '128')),
  dropout: Number(arg('--dropout', '0.1')),
};
type Settings = typeof S;
const THREADS = process.argv.includes('--threads') ? Number(arg('--threads', '0')) : undefined;
const LABEL = arg('--label', 'run');
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));

interface Dataset {
  name: string;
  train: string;
  valid: string;
  test: string;
  vocab: string;
}
const DATASETS: Record<string, Dataset> = {
  weibo: {
    name: 'Weibo NER',
    train: `${SHARED}/weibo-ner/train.txt`,
    valid: `${SHARED}/weibo-ner/dev.txt`,
    test: `${SHARED}/weibo-ner/test.txt`,
    vocab: `${SHARED}/bert-vocab/google_zh_vocab.txt`,
  },
  wnut17: {
    name: 'WNUT-17',
    train: `${SHARED}/wnut17/wnut17train.conll`,
    valid: `${SHARED}/wnut17/emerging.dev.conll`,
    test: `${SHARED}/wnut17/emerging.test.annotated`,
    vocab: `${SHARED}/bert-vocab/google_uncased_en_vocab.txt`,
  },
};
const PICKED = arg('--data', 'weibo,wnut17').split(',');
for (const k of PICKED) if (!Object.hasOwn(DATASETS, k)) throw new Error(`--data: unknown '${k}'`);

interface Scores {
  micro_precision: number;
  micro_recall: number;
  micro_f1: number;
  macro_f1: number;
  support: number;
  predicted: number;
  accuracy: number;
  per_type_f1: Record<string, number>;
}
interface Row {
  label: string;
  data: string;
  settings: Settings;
  threads: number | null;
  scores: Scores;
  steps: number;
  /** Mean training loss over the last epoch's steps (the all-`O` prior sits near 0.3-0.4 on both datasets). */
  last_epoch_loss: number;
  train_seconds: number;
  best_epoch: number | null;
  date: string;
}
interface Results {
  runs: Row[];
  baselines: Record<string, { majority: Scores; dictionary: Scores & { entries: number } }>;
}

const scoresOf = (t: { entity: Record<string, unknown>; accuracy: number }): Scores => {
  const e = t.entity as unknown as BaselineScore['entity'];
  return {
    micro_precision: e.micro_precision,
    micro_recall: e.micro_recall,
    micro_f1: e.micro_f1,
    macro_f1: e.macro_f1,
    support: e.support,
    predicted: e.predicted,
    accuracy: t.accuracy,
    per_type_f1: Object.fromEntries(Object.entries(e.per_type).map(([k, v]) => [k, v.f1])),
  };
};
/** Mean `loss` of the step events of the last epoch in a run's events.jsonl. */
const lastEpochLoss = (events: string, epoch: number) => {
  const losses = readFileSync(events, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{"event":"step"'))
    .map((l) => JSON.parse(l) as { epoch: number; loss: number })
    .filter((e) => e.epoch === epoch)
    .map((e) => e.loss);
  return losses.reduce((a, b) => a + b, 0) / Math.max(losses.length, 1);
};
const sameSettings = (a: Settings, b: Settings) => JSON.stringify(a) === JSON.stringify(b);
const commandOf = (s: Settings, data: string) =>
  `nice -n 10 node --import tsx bench/ner-f1.ts --data ${data} --preset ${s.preset} --epochs ${s.epochs} ` +
  `--lr ${s.lr} --warmup ${s.warmup} --batch ${s.batch} --window ${s.window} --dropout ${s.dropout}`;

const jsonPath = join(OUT, 'ner-f1.json');
const results: Results = existsSync(jsonPath)
  ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Results)
  : { runs: [], baselines: {} };
mkdirSync(OUT, { recursive: true });

for (const key of PICKED) {
  const d = DATASETS[key];
  const [train, test] = await Promise.all([
    readNerDataset({ path: d.train }),
    readNerDataset({ path: d.test }),
  ]);
  const b = baselines(train.sentences, test.sentences);
  const baseline = (x: BaselineScore) => scoresOf({ entity: x.entity as never, accuracy: x.accuracy });
  results.baselines[key] = {
    majority: baseline(b.majority),
    dictionary: { ...baseline(b.dictionary), entries: b.dictionary.entries },
  };
  const out = mkdtempSync(join(tmpdir(), 'refit-bench-ner-'));
  const r = await runTraining({
    config: resolveConfig({
      overrides: [
        'task=ner',
        `data.train=${d.train}`,
        `data.valid=${d.valid}`,
        `data.test=${d.test}`,
        `model.vocab=${d.vocab}`,
        `model.preset=${S.preset}`,
        `model.dropout=${S.dropout}`,
        `train.epochs=${S.epochs}`,
        `train.learning_rate=${S.lr}`,
        `train.warmup_ratio=${S.warmup}`,
        `train.batch_size=${S.batch}`,
        'train.early_stopping_patience=0',
        `memory.max_seq_len=${S.window}`,
        'device=cpu',
        'export.onnx=false',
      ],
    }),
    out,
    env: process.env,
    num_threads: THREADS,
  });
  const t = r.metrics.test as { entity: Record<string, unknown>; accuracy: number } | undefined;
  if (!t) throw new Error(`${d.name}: the run scored no test split`);
  const row: Row = {
    label: LABEL,
    data: key,
    settings: S,
    threads: THREADS ?? null,
    scores: scoresOf(t),
    steps: r.metrics.train.optimizer_steps,
    last_epoch_loss: lastEpochLoss(join(out, 'events.jsonl'), S.epochs),
    train_seconds: Math.round(r.metrics.train.seconds),
    best_epoch: r.metrics.best_epoch,
    date: new Date().toISOString(),
  };
  results.runs = results.runs.filter((x) => !(x.data === key && sameSettings(x.settings, S)));
  results.runs.push(row);
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(OUT, 'ner-f1.md'), render(results));
  console.log(`${d.name}: entity micro-F1 ${row.scores.micro_f1.toFixed(4)} (${row.steps} steps, ${out})`);
}

function render(res: Results): string {
  const pct = (x: number) => (100 * x).toFixed(2);
  const mdPath = join(OUT, 'ner-f1.md');
  const old = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : '';
  const at = old.indexOf('## What this shows');
  const runs = [...res.runs].sort((a, b) => a.data.localeCompare(b.data) || a.date.localeCompare(b.date));
  const lines = [
    '# NER entity F1 from random initialisation (CPU)',
    '',
    'Every run: refit train from random init (`model.preset`), `device=cpu`, early stopping off (every epoch is ' +
      "trained), linear warmup then linear decay, the test split scored with the best valid epoch's weights as " +
      "seqeval's default mode (metrics.json `test.entity`). Written by `bench/ner-f1.ts` from `ner-f1.json`; " +
      `${cpus().length} CPU cores shared with other work (train seconds are wall time under that load).`,
    '',
    '| label | data | preset | epochs | rate | warmup | batch | window | dropout | micro P | micro R | micro F1 | ' +
      'macro F1 | gold | predicted | token acc. | best epoch | last-epoch loss | steps | train s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => {
      const s = r.settings;
      const c = r.scores;
      return (
        `| ${r.label} | ${DATASETS[r.data].name} | ${s.preset} | ${s.epochs} | ${s.lr} | ${s.warmup} | ${s.batch} | ` +
        `${s.window} | ${s.dropout} | ${pct(c.micro_precision)} | ${pct(c.micro_recall)} | ${pct(c.micro_f1)} | ` +
        `${pct(c.macro_f1)} | ${c.support} | ${c.predicted} | ${pct(c.accuracy)} | ${r.best_epoch ?? '-'} | ` +
        `${r.last_epoch_loss?.toFixed(3) ?? '-'} | ${r.steps} | ${r.train_seconds} |`
      );
    }),
    '',
    'Commands (one per row, in the order above):',
    '',
    ...runs.map((r) => `- ${r.label}, ${DATASETS[r.data].name}: \`${commandOf(r.settings, r.data)}\``),
    '',
    '## Per-type test F1 (%)',
    '',
    ...runs
      .filter((r) => r.label !== 'probe')
      .flatMap((r) => [
        `${r.label}, ${DATASETS[r.data].name}: ` +
          Object.entries(r.scores.per_type_f1)
            .map(([k, v]) => `${k} ${pct(v)}`)
            .join(', '),
        '',
      ]),
    '## Baselines that learn nothing from the text (test split, same scorer)',
    '',
    'All `O`: every token tagged `O`. Dictionary: every entity string of the training file (case-folded) with the ' +
      'type it had most often there, matched longest first, left to right (`bench/ner-dict-baseline.ts`).',
    '',
    '| data | baseline | micro P | micro R | micro F1 | macro F1 | predicted | token acc. |',
    '|---|---|---|---|---|---|---|---|',
    ...Object.entries(res.baselines).flatMap(([k, b]) =>
      (['majority', 'dictionary'] as const).map((which) => {
        const c = b[which];
        const name = which === 'majority' ? 'all `O`' : `dictionary (${b.dictionary.entries} entries)`;
        return (
          `| ${DATASETS[k].name} | ${name} | ${pct(c.micro_precision)} | ${pct(c.micro_recall)} | ` +
          `${pct(c.micro_f1)} | ${pct(c.macro_f1)} | ${c.predicted} | ${pct(c.accuracy)} |`
        );
      }),
    ),
    '',
  ];
  return lines.join('\n') + (at >= 0 ? old.slice(at) : '');
}
