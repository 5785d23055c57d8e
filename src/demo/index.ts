// The embedded demo dataset: relation examples the project generates itself from its own templates and
// lexicons (English, 6 relations incl. no_relation), with a matching vocab.txt. `refit demo` uses it.
import type { Example, RelationSet } from '../data/types.ts';
import { demoRelations, generateSplit } from './generate.ts';
import { DEMO_PREDICT_INPUTS } from './predict-inputs.ts';
import { basicWords, demoVocabLines } from './vocab.ts';

export { DEMO_PREDICT_INPUTS, basicWords };
export { DEMO_NA_LABEL, DEMO_RELATIONS } from './templates.ts';
export { toDeepkeCsv, toRelationCsv } from './csv.ts';

/** Split sizes that a bert-tiny model learns on 2 CPU cores well inside two minutes. */
export const DEMO_SIZES = Object.freeze({ train: 1200, valid: 200, test: 200 });

/**
 * Generates the demo dataset: `train`/`valid`/`test` examples (deterministic for `seed`; each split has its
 * own stream, so one split's size does not change another's examples), the relation set (NA first) and
 * `vocab_lines`, an uncased WordPiece vocab.txt covering every word the generator and DEMO_PREDICT_INPUTS use.
 */
export function generateDemoDataset(opts: { seed: number; train: number; valid: number; test: number }): {
  train: Example[];
  valid: Example[];
  test: Example[];
  relations: RelationSet;
  vocab_lines: string[];
} {
  return {
    train: generateSplit({ seed: opts.seed, split: 'train', n: opts.train }),
    valid: generateSplit({ seed: opts.seed, split: 'valid', n: opts.valid }),
    test: generateSplit({ seed: opts.seed, split: 'test', n: opts.test }),
    relations: demoRelations(),
    vocab_lines: demoVocabLines(DEMO_PREDICT_INPUTS.map((p) => p.text)),
  };
}
