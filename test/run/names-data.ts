// A tiny dataset whose relation and entity-type names are Object.prototype's (`__proto__`, `constructor`, `toString`,
// `hasOwnProperty`): the demo generator's sentences with four of its relations renamed. Shared by the names test and
// the names fault probe.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemoDataset } from '../../src/demo/index.ts';
import type { Example } from '../../src/data/index.ts';

/** The renamed relations, in relation.csv order after the NA label. */
export const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
const RENAME = new Map([
  ['born_in', '__proto__'],
  ['works_for', 'constructor'],
  ['founded_by', 'toString'],
  ['capital_of', 'hasOwnProperty'],
]);
/** Row entity types (head_type, tail_type) by the demo relation; the other rows have none. */
const ROW_TYPES = new Map([
  ['born_in', ['constructor', '__proto__']],
  ['works_for', ['constructor', 'valueOf']],
]);
const field = (v: string | number) =>
  /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);
const codePoints = (s: string) => [...s].length;

/** Writes train/valid/test CSVs (with head_type/tail_type), relation.csv (typed) and vocab.txt into `dir` (a fresh temp folder by default). */
export function protoNameData(
  dir = mkdtempSync(join(tmpdir(), 'refit-names-data-')),
  sizes = { train: 48, valid: 16, test: 16 },
): string {
  const ds = generateDemoDataset({ seed: 7, ...sizes });
  const name = (r: string) => RENAME.get(r) ?? r;
  const csv = (examples: Example[]) =>
    [
      'sentence,relation,head,head_offset,tail,tail_offset,head_type,tail_type',
      ...examples.map((e) => {
        const [ht, tt] = ROW_TYPES.get(e.relation!) ?? ['', ''];
        return [
          e.text,
          name(e.relation!),
          e.head.text,
          codePoints(e.text.slice(0, e.head.start)),
          e.tail.text,
          codePoints(e.text.slice(0, e.tail.start)),
          ht,
          tt,
        ]
          .map(field)
          .join(',');
      }),
    ].join('\n') + '\n';
  writeFileSync(join(dir, 'train.csv'), csv(ds.train));
  writeFileSync(join(dir, 'valid.csv'), csv(ds.valid));
  writeFileSync(join(dir, 'test.csv'), csv(ds.test));
  writeFileSync(
    join(dir, 'relation.csv'),
    [
      'head_type,tail_type,relation,index',
      ...ds.relations.names.map((r, i) =>
        [r === 'born_in' ? '__proto__' : 'PER', r === 'works_for' ? 'toString' : 'ORG', name(r), i].join(','),
      ),
    ].join('\n') + '\n',
  );
  writeFileSync(join(dir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
  return dir;
}
