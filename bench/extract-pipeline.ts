// Raw text → triples (NER, then RE) on the whole DeepKE RE sample (train/valid/test as published): an NER run trained
// on the entity spans and types the RE rows annotate (relation.csv's head_type/tail_type of each row's relation, as
// DeepKE `char TAG` BIO lines), an RE run on the RE rows, both from random init on CPU; then the pipeline
// (openExtractor, the code behind `refit predict --re-run` and /v1/extract) on the 1000 test sentences, scored
// against the test rows (bench/extract-pipeline-score.ts says what matches and what is judged), with two
// decompositions: the same pairing and RE run on the gold entities, and the NER's recall of the entities the gold
// triples need. Runs already trained in --work (their metrics.json there) are scored again, not retrained.
// Run: node --import tsx bench/extract-pipeline.ts [--preset bert-mini] [--ner-epochs 8] [--re-epochs 4]
//      [--ner-lr 1e-3] [--re-lr 1e-3] [--work DIR] [--out bench/results]
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { main } from '../src/cli/main.ts';
import { RunLog } from '../src/log.ts';
import { readDataset, readRelations, readRelationTypes, relationRowsToCharBio } from '../src/data/index.ts';
import { extractTriples, openExtractor } from '../src/infer/index.ts';
import {
  goldEntities,
  goldPairs,
  neededEntityRecall,
  scoreTriples,
  type TripleScore,
} from './extract-pipeline-score.ts';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SAMPLE = resolve(ROOT, '../shared/assets/deepke-re-standard');
const VOCAB = resolve(ROOT, '../shared/assets/bert-vocab/google_zh_vocab.txt');
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PRESET = arg('--preset', 'bert-mini');
const NER_EPOCHS = arg('--ner-epochs', '8');
const RE_EPOCHS = arg('--re-epochs', '4');
const NER_LR = arg('--ner-lr', '1e-3');
const RE_LR = arg('--re-lr', '1e-3');
const BATCH = arg('--batch', '16');
const MAX_SEQ_LEN = arg('--max-seq-len', '128');
const WORK = resolve(arg('--work', '') || mkdtempSync(join(tmpdir(), 'refit-extract-bench-')));
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));
if (!existsSync(SAMPLE)) {
  process.stdout.write(`skipped: ${SAMPLE} is absent (the DeepKE RE sample from ../shared)\n`);
  process.exit(0);
}

mkdirSync(WORK, { recursive: true });
const relations = join(WORK, 'relation.csv');
copyFileSync(join(SAMPLE, 'relation.csv'), relations);
const rel = await readRelations(relations);
const types = (await readRelationTypes(relations))!;
const split = {
  train: join(SAMPLE, 'train.csv'),
  valid: join(SAMPLE, 'valid.csv'),
  test: join(SAMPLE, 'test.csv'),
};
const rows = {
  train: await readDataset({ path: split.train, relations: rel }),
  valid: await readDataset({ path: split.valid, relations: rel }),
  test: await readDataset({ path: split.test, relations: rel }),
};
const ner = Object.fromEntries(
  (['train', 'valid', 'test'] as const).map((s) => {
    const file = join(WORK, `ner-${s}.txt`);
    writeFileSync(file, relationRowsToCharBio(rows[s].examples, types, rel.na_label));
    return [s, file];
  }),
) as Record<'train' | 'valid' | 'test', string>;

const io = { stdout: process.stdout, stderr: process.stderr, stdin: Readable.from([]) };
const env = { ...process.env };
const common = [
  `model.preset=${PRESET}`,
  `model.vocab=${VOCAB}`,
  `train.batch_size=${BATCH}`,
  `memory.max_seq_len=${MAX_SEQ_LEN}`,
  // every epoch runs (valid picks the checkpoint restored for test): the RE valid split holds only 4 relations
  'train.early_stopping_patience=0',
  'device=cpu',
  '--progress',
  'none',
];
const runs = { ner: join(WORK, 'ner-run'), re: join(WORK, 're-run') };
const seconds: Record<string, number | undefined> = {};
for (const [name, args] of [
  [
    'ner',
    [
      'task=ner',
      `data.train=${ner.train}`,
      `data.valid=${ner.valid}`,
      `data.test=${ner.test}`,
      `train.epochs=${NER_EPOCHS}`,
      `train.learning_rate=${NER_LR}`,
    ],
  ],
  [
    're',
    [
      `data.train=${split.train}`,
      `data.valid=${split.valid}`,
      `data.test=${split.test}`,
      `data.relations=${relations}`,
      `train.epochs=${RE_EPOCHS}`,
      `train.learning_rate=${RE_LR}`,
    ],
  ],
] as const) {
  if (existsSync(join(runs[name], 'metrics.json'))) continue; // trained by an earlier call: scored again
  const t0 = Date.now();
  const code = await main(['train', ...args, ...common, '--out', runs[name]], io, env);
  if (code !== 0) throw new Error(`training the ${name} run failed (exit ${code})`);
  seconds[name] = (Date.now() - t0) / 1000;
}

const gold = goldPairs(rows.test.examples, types, rel.na_label);
const texts = [...gold.keys()];
const extractor = await openExtractor({
  ner_run: runs.ner,
  re_run: runs.re,
  env,
  log: new RunLog(join(WORK, 'extract.log')),
});
const t0 = Date.now();
const out = await extractor.extract(texts);
const extractSeconds = (Date.now() - t0) / 1000;
// (a) the same pairing and RE run on the gold entities (each annotated head and tail, typed by relation.csv)
const withGold = await extractTriples(
  {
    entities: async (t) => t.map((x) => goldEntities(gold.get(x) ?? [])),
    predict: (items, o) => extractor.re.predict(items, o),
    na_label: extractor.re.na_label,
    allowed: extractor.allowed,
    types: extractor.types,
  },
  texts,
);
// the pipeline's entities with the relation not held to the pair's types (extract.ts before it was)
const untyped = await extractTriples(
  {
    entities: async () => out.map((x) => x.entities),
    predict: (items) => extractor.re.predict(items),
    na_label: extractor.re.na_label,
    allowed: extractor.allowed,
  },
  texts,
);
// (a) again with the relation not held to the pair's types: gold types come from the row's relation, and all but
// 出生地/祖籍 have a type pair of their own, so the fit alone nearly names the gold relation
const goldUntyped = await extractTriples(
  {
    entities: async (t) => t.map((x) => goldEntities(gold.get(x) ?? [])),
    predict: (items) => extractor.re.predict(items),
    na_label: extractor.re.na_label,
    allowed: extractor.allowed,
  },
  texts,
);
await extractor.close();

const pipeline = scoreTriples(
  texts,
  out.map((x) => x.triples),
  gold,
);
const goldPipeline = scoreTriples(
  texts,
  withGold.map((x) => x.triples),
  gold,
);
// (b) the NER's recall of the entities the gold triples need
const need = neededEntityRecall(
  texts,
  out.map((x) => x.entities),
  gold,
);
const metrics = (run: string) => JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
const nerM = metrics(runs.ner);
const reM = metrics(runs.re);
const entities = out.reduce((n, x) => n + x.entities.length, 0);

const f = (x: number) => x.toFixed(4);
const pct = (a: number, b: number) => `${a} / ${b} (${b ? ((100 * a) / b).toFixed(1) : '0.0'} %)`;
const row = (name: string, s: TripleScore) =>
  `| ${name} | ${s.predicted} | ${s.verdicts.correct} | ${s.verdicts.wrong_relation} | ${s.verdicts.misbounded} | ` +
  `${s.verdicts.reversed} | ${s.verdicts.unjudged} | ${f(s.precision)} | ${f(s.precision_all)} | ${f(s.recall)} | ` +
  `${f(s.f1)} |`;
// the training loop's seconds (metrics.json), and the whole command's when this call trained the run
const trained = (name: 'ner' | 're', m: { train: { seconds: number } }) =>
  m.train.seconds.toFixed(0) + (seconds[name] === undefined ? '' : ` (command ${seconds[name]!.toFixed(0)})`);
const cmd =
  `node --import tsx bench/extract-pipeline.ts --preset ${PRESET} --ner-epochs ${NER_EPOCHS} --re-epochs ` +
  `${RE_EPOCHS} --ner-lr ${NER_LR} --re-lr ${RE_LR} --batch ${BATCH} --max-seq-len ${MAX_SEQ_LEN} --work WORK`;
const lines = [
  '# Raw text → triples (NER, then RE) on the DeepKE RE sample',
  '',
  `Command: \`${cmd}\` (CPU, random init, ${new Date().toISOString().slice(0, 10)}; a second call with the same ` +
    'WORK scores the trained runs again).',
  '',
  `Data: deepke-re-standard as published: train ${rows.train.examples.length} / valid ${rows.valid.examples.length} ` +
    `/ test ${rows.test.examples.length} rows. The NER run learns the annotated heads and tails of each split's ` +
    "sentences as char BIO, typed by relation.csv's head_type/tail_type of the row's relation (13 types); other " +
    'entities in a sentence are tagged O, as nobody annotated them. The RE run learns the rows (gold entities). ' +
    `Both: ${PRESET}, batch ${BATCH}, window ${MAX_SEQ_LEN}, every epoch run, the best valid epoch restored for test.`,
  '',
  '| run | epochs | learning rate | best epoch | test score | training loop s |',
  '| --- | --- | --- | --- | --- | --- |',
  `| NER | ${NER_EPOCHS} | ${NER_LR} | ${nerM.best_epoch} | entity micro P/R/F1 ${f(nerM.test.entity.micro_precision)} ` +
    `/ ${f(nerM.test.entity.micro_recall)} / ${f(nerM.test.entity.micro_f1)} | ${trained('ner', nerM)} |`,
  `| RE | ${RE_EPOCHS} | ${RE_LR} | ${reM.best_epoch} | macro F1 ${f(reM.test.macro_f1)}, micro F1 ` +
    `${f(reM.test.micro_f1)} | ${trained('re', reM)} |`,
  '',
  `Triples on the ${texts.length} test sentences (${pipeline.gold} gold triples, one annotated pair a sentence). ` +
    'A predicted triple is what `openExtractor` answers: an ordered pair of distinct NER entities whose types some ' +
    "relation of relation.csv names, whose RE answer (the run's top answer, NA threshold 0) is not NA. A triple is " +
    'correct when head text + code-point offset, tail text + offset and relation equal the test row. The rows ' +
    'annotate one pair per sentence, so a triple is judged only where its pair is that pair (or overlaps it): ' +
    'wrong relation (the exact pair, another relation), misbounded (each end overlaps the annotated one, not ' +
    'exactly), reversed (tail → head); any other pair is unjudged, as no row says its relation. Precision = correct ' +
    '/ judged; precision (all) counts every unjudged triple wrong too (a lower bound); recall = correct / gold.',
  '',
  '| entities from | predicted | correct | wrong relation | misbounded | reversed | unjudged | precision | ' +
    'precision (all) | recall | F1 |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  row('the NER run (the pipeline)', pipeline),
  row('gold entities (a: RE alone, same pairing)', goldPipeline),
  row(
    "the NER run, relation not held to the pair's types",
    scoreTriples(
      texts,
      untyped.map((x) => x.triples),
      gold,
    ),
  ),
  row(
    "gold, relation not held to the pair's types",
    scoreTriples(
      texts,
      goldUntyped.map((x) => x.triples),
      gold,
    ),
  ),
  '',
  `(b) NER recall of the ${need.entities} entities the gold triples need (${entities} entities predicted in all):`,
  '',
  '| what | found |',
  '| --- | --- |',
  `| exact span | ${pct(need.span, need.entities)} |`,
  `| exact span and type | ${pct(need.span_and_type, need.entities)} |`,
  `| gold triples with both ends found, typed (a candidate pair) | ${pct(need.pairs_both_typed, need.pairs)} |`,
  '',
  `Extraction of the ${texts.length} sentences: ${extractSeconds.toFixed(1)} s (engines ` +
    `${extractor.engines.ner}, ${extractor.engines.re}).`,
  '',
];
const file = join(OUT, 'extract-pipeline.md');
// the hand-written notes (from '## Notes' on: the reading, the probes) are kept
const kept = existsSync(file) ? readFileSync(file, 'utf8').split('\n## Notes')[1] : undefined;
mkdirSync(OUT, { recursive: true });
writeFileSync(file, lines.join('\n') + (kept === undefined ? '' : `\n## Notes${kept}`));
process.stdout.write(lines.join('\n'));
