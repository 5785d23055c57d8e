// Raw text → triples (NER, then RE) on the DeepKE RE sample: an NER run trained on the entity spans and types the RE
// training rows annotate (relation.csv's head_type/tail_type of each row's relation, written as DeepKE `char TAG` BIO
// lines), an RE run on the RE rows, both from random init on CPU; then the pipeline (openExtractor, the code behind
// `refit predict --re-run` and /v1/extract) on the test sentences, scored against the test rows' triples (exact
// head, tail, code-point offsets and relation; NA rows are not triples). Evidence that the pipeline runs end to end,
// not a leaderboard number.
// Run: node --import tsx bench/extract-pipeline.ts [--epochs 5] [--preset bert-tiny] [--train-rows 1000]
//      [--test-rows 300] [--out bench/results]
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { main } from '../src/cli/main.ts';
import { RunLog } from '../src/log.ts';
import { readDataset, readRelations, readRelationTypes, relationRowsToCharBio } from '../src/data/index.ts';
import { openExtractor } from '../src/infer/index.ts';
import { utf16ToCodePoint } from '../src/offsets.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SAMPLE = resolve(ROOT, '../shared/assets/deepke-re-standard');
const VOCAB = resolve(ROOT, '../shared/assets/bert-vocab/google_zh_vocab.txt');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const EPOCHS = arg('--epochs', '5');
const PRESET = arg('--preset', 'bert-tiny');
const TRAIN_ROWS = Number(arg('--train-rows', '1000'));
const TEST_ROWS = Number(arg('--test-rows', '300'));
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));

const dir = mkdtempSync(join(tmpdir(), 'refit-extract-bench-'));
const relations = join(dir, 'relation.csv');
copyFileSync(join(SAMPLE, 'relation.csv'), relations);
const rel = await readRelations(relations);
const types = (await readRelationTypes(relations))!;
const firstRows = (file: string, n: number, out: string) => {
  const lines = readFileSync(join(SAMPLE, file), 'utf8').split('\n');
  writeFileSync(
    out,
    [
      lines[0],
      ...lines
        .slice(1)
        .filter((l) => l.trim())
        .slice(0, n),
    ].join('\n') + '\n',
  );
  return out;
};
const train = firstRows('train.csv', TRAIN_ROWS, join(dir, 'train.csv'));
const test = firstRows('test.csv', TEST_ROWS, join(dir, 'test.csv'));
const trainRows = await readDataset({ path: train, relations: rel });
const testRows = await readDataset({ path: test, relations: rel });
const nerTrain = join(dir, 'ner-train.txt');
const nerTest = join(dir, 'ner-test.txt');
writeFileSync(nerTrain, relationRowsToCharBio(trainRows.examples, types, rel.na_label));
writeFileSync(nerTest, relationRowsToCharBio(testRows.examples, types, rel.na_label));

const io = { stdout: process.stdout, stderr: process.stderr, stdin: Readable.from([]) };
const env = { ...process.env };
const common = [
  `model.preset=${PRESET}`,
  `model.vocab=${VOCAB}`,
  `train.epochs=${EPOCHS}`,
  'train.batch_size=16',
  'train.learning_rate=1e-3',
  'memory.max_seq_len=128',
  'device=cpu',
  '--progress',
  'none',
];
const runs = { ner: join(dir, 'ner-run'), re: join(dir, 're-run') };
const seconds: Record<string, number> = {};
for (const [name, args] of [
  ['ner', ['task=ner', `data.train=${nerTrain}`, `data.test=${nerTest}`]],
  ['re', [`data.train=${train}`, `data.test=${test}`, `data.relations=${relations}`]],
] as const) {
  const t0 = Date.now();
  const code = await main(['train', ...args, ...common, '--out', runs[name]], io, env);
  if (code !== 0) throw new Error(`training the ${name} run failed (exit ${code})`);
  seconds[name] = (Date.now() - t0) / 1000;
}

const key = (text: string, h: string, ho: number, r: string, t: string, to: number) =>
  JSON.stringify([text, h, ho, r, t, to]);
const gold = new Set(
  testRows.examples
    .filter((e) => e.relation !== undefined && e.relation !== rel.na_label)
    .map((e) =>
      key(
        e.text,
        e.head.text,
        utf16ToCodePoint(e.text, e.head.start),
        e.relation!,
        e.tail.text,
        utf16ToCodePoint(e.text, e.tail.start),
      ),
    ),
);
const texts = [...new Set(testRows.examples.map((e) => e.text))];
const extractor = await openExtractor({
  ner_run: runs.ner,
  re_run: runs.re,
  env,
  log: new RunLog(join(dir, 'extract.log')),
});
const t0 = Date.now();
const out = await extractor.extract(texts);
const extractSeconds = (Date.now() - t0) / 1000;
await extractor.close();
const predicted = new Set(
  out.flatMap((x) =>
    x.triples.map((t) => key(x.text, t.head, t.head_offset, t.relation, t.tail, t.tail_offset)),
  ),
);
const correct = [...predicted].filter((k) => gold.has(k)).length;
const p = predicted.size ? correct / predicted.size : 0;
const r = gold.size ? correct / gold.size : 0;
const f1 = p + r ? (2 * p * r) / (p + r) : 0;
const metric = (run: string) => JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')).test;
const nerF1 = metric(runs.ner).entity.micro_f1 as number;
const reF1 = metric(runs.re).micro_f1 as number | undefined;
const entities = out.reduce((n, x) => n + x.entities.length, 0);

const lines = [
  '# Raw text → triples (NER, then RE) on the DeepKE RE sample',
  '',
  `Command: \`node --import tsx bench/extract-pipeline.ts --epochs ${EPOCHS} --preset ${PRESET} --train-rows ` +
    `${TRAIN_ROWS} --test-rows ${TEST_ROWS}\` (CPU, random init, ${new Date().toISOString().slice(0, 10)}).`,
  '',
  `NER run: the entity spans and types of the first ${TRAIN_ROWS} training rows as char BIO; RE run: the same rows. ` +
    `Scored on the sentences of the first ${TEST_ROWS} test rows (${texts.length} sentences, ${gold.size} gold ` +
    'triples: exact head, tail, code-point offsets and relation).',
  '',
  '| what | value |',
  '| --- | --- |',
  `| NER test entity micro F1 (metrics.json) | ${nerF1.toFixed(4)} |`,
  `| RE test micro F1 (metrics.json) | ${reF1 === undefined ? '-' : reF1.toFixed(4)} |`,
  `| entities found by the pipeline | ${entities} |`,
  `| triples predicted / gold / correct | ${predicted.size} / ${gold.size} / ${correct} |`,
  `| pipeline triple precision / recall / F1 | ${p.toFixed(4)} / ${r.toFixed(4)} / ${f1.toFixed(4)} |`,
  `| training seconds (NER, RE) | ${seconds.ner.toFixed(0)}, ${seconds.re.toFixed(0)} |`,
  `| extraction seconds (engines ${extractor.engines.ner}, ${extractor.engines.re}) | ${extractSeconds.toFixed(1)} |`,
  '',
];
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'extract-pipeline.md'), lines.join('\n'));
process.stdout.write(lines.join('\n'));
