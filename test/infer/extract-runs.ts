// A pair of tiny runs for the text → triples tests: an NER run and an RE run (bert-tiny from random init on the
// Chinese vocabulary) that learn a dozen rows of the DeepKE RE sample by heart — the RE rows as they are, the NER
// run on the entity spans and types those rows annotate (data/ner's relationRowsToCharBio) — so the pipeline finds
// real entities and triples. Both runs export model.onnx (both engines can predict).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  readDataset,
  readRelations,
  readRelationTypes,
  relationRowsToCharBio,
} from '../../src/data/index.ts';
import { runInProcess } from '../cli/in-process.ts';

const SHARED = new URL('../../../shared/', import.meta.url).pathname;
export const RE_SAMPLE = join(SHARED, 'assets/deepke-re-standard');
export const ZH_VOCAB = join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt');
/** Skip reason when ../shared is absent. */
export const NO_SHARED: string | false =
  !existsSync(join(RE_SAMPLE, 'train.csv')) &&
  'needs ../shared (the DeepKE RE sample and the Chinese vocabulary)';

export interface ExtractRuns {
  ner: string;
  re: string;
  /** The sentences both runs learnt (the first with a relation). */
  texts: string[];
}

/** Trains the two runs into `dir` (a minute or two on two cores); throws with the CLI's stderr when one fails. */
export async function trainExtractRuns(
  dir: string,
  env: Record<string, string>,
  rows = 12,
): Promise<ExtractRuns> {
  mkdirSync(dir, { recursive: true });
  const relations = join(dir, 'relation.csv');
  copyFileSync(join(RE_SAMPLE, 'relation.csv'), relations);
  const rel = await readRelations(relations);
  const lines = readFileSync(join(RE_SAMPLE, 'train.csv'), 'utf8').split('\n');
  const keep = lines
    .slice(1)
    .filter((l) => l.trim() && !/,None,/.test(l))
    .slice(0, rows);
  const re_csv = join(dir, 're.csv');
  writeFileSync(re_csv, [lines[0], ...keep].join('\n') + '\n');
  const ds = await readDataset({ path: re_csv, relations: rel });
  const ner_txt = join(dir, 'ner.txt');
  writeFileSync(
    ner_txt,
    relationRowsToCharBio(ds.examples, (await readRelationTypes(relations))!, rel.na_label),
  );
  const common = [
    'model.preset=bert-tiny',
    `model.vocab=${ZH_VOCAB}`,
    'memory.max_seq_len=96',
    'device=cpu',
    'train.epochs=40',
    'train.batch_size=4',
    'train.learning_rate=2e-3',
    'model.dropout=0',
    '--threads',
    '1',
    '--progress',
    'none',
  ];
  const out = { ner: join(dir, 'ner-run'), re: join(dir, 're-run') };
  const trained = [
    ['train', 'task=ner', `data.train=${ner_txt}`, `data.test=${ner_txt}`, ...common, '--out', out.ner],
    [
      'train',
      `data.train=${re_csv}`,
      `data.test=${re_csv}`,
      `data.relations=${relations}`,
      ...common,
      '--out',
      out.re,
    ],
  ];
  for (const args of trained) {
    const t = await runInProcess(args, env);
    if (t.code !== 0) throw new Error(`refit ${args.join(' ')} failed (${t.code}): ${t.stderr}`);
  }
  return { ...out, texts: [...new Set(ds.examples.map((e) => e.text))] };
}
