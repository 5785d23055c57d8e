// NER entity F1 from random initialisation on CPU: Weibo NER (Chinese, a character per token) and WNUT-17 (English
// words), the same small model, window, batch and epochs for both; the test split scored by refit train itself
// (metrics.json test.entity, seqeval's default mode). Evidence that the token head learns, not a leaderboard number.
// Run: node --import tsx bench/ner-f1.ts [--epochs 3] [--preset bert-mini] [--out bench/results]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../src/config/index.ts';
import { runTraining } from '../src/run/index.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SHARED = resolve(ROOT, '../shared/assets');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const EPOCHS = arg('--epochs', '3');
const PRESET = arg('--preset', 'bert-mini');
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));
const COMMON = [
  'task=ner',
  `model.preset=${PRESET}`,
  `train.epochs=${EPOCHS}`,
  'train.batch_size=16',
  'memory.max_seq_len=128',
  'device=cpu',
  'export.onnx=false',
];
const DATASETS: Record<string, string[]> = {
  'Weibo NER': [
    `data.train=${SHARED}/weibo-ner/train.txt`,
    `data.valid=${SHARED}/weibo-ner/dev.txt`,
    `data.test=${SHARED}/weibo-ner/test.txt`,
    `model.vocab=${SHARED}/bert-vocab/google_zh_vocab.txt`,
  ],
  'WNUT-17': [
    `data.train=${SHARED}/wnut17/wnut17train.conll`,
    `data.valid=${SHARED}/wnut17/emerging.dev.conll`,
    `data.test=${SHARED}/wnut17/emerging.test.annotated`,
    `model.vocab=${SHARED}/bert-vocab/google_uncased_en_vocab.txt`,
  ],
};

const rows: string[] = [];
for (const [name, data] of Object.entries(DATASETS)) {
  const out = mkdtempSync(join(tmpdir(), 'refit-bench-ner-'));
  const r = await runTraining({
    config: resolveConfig({ overrides: [...data, ...COMMON] }),
    out,
    env: process.env,
  });
  const t = r.metrics.test as { entity: Record<string, number>; accuracy: number } | undefined;
  const e = t?.entity ?? {};
  const pct = (x: number | undefined) => (x === undefined ? '-' : (100 * x).toFixed(2));
  rows.push(
    `| ${name} | ${pct(e.micro_precision)} | ${pct(e.micro_recall)} | ${pct(e.micro_f1)} | ${pct(e.macro_f1)} | ` +
      `${e.support ?? '-'} | ${e.predicted ?? '-'} | ${pct(t?.accuracy)} | ${r.metrics.train.optimizer_steps} | ` +
      `${r.metrics.train.seconds.toFixed(0)} |`,
  );
  console.log(rows.at(-1));
}
mkdirSync(OUT, { recursive: true });
writeFileSync(
  join(OUT, 'ner-f1.md'),
  [
    '# NER entity F1 from random initialisation (CPU)',
    '',
    `${PRESET} from random init, ${EPOCHS} epochs, batch 16, window 128, refit's default learning rate for the ` +
      `preset; test split scored as seqeval's default mode (metrics.json \`test.entity\`). ${cpus().length} CPU ` +
      'cores shared with other work.',
    '',
    `Command: \`node --import tsx bench/ner-f1.ts --epochs ${EPOCHS} --preset ${PRESET}\``,
    '',
    '| data | micro P | micro R | micro F1 | macro F1 | gold entities | predicted | token acc. | steps | train s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
