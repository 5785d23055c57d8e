// Writes demo examples in DeepKE's standard-RE CSV layout (train/valid/test.csv + relation.csv), so the
// generated dataset can be saved, inspected and read back by the deepke-csv reader. Pure: returns text.
import type { Example, RelationSet } from '../data/types.ts';
import { utf16ToCodePoint } from '../offsets.ts';

/** DeepKE's head/tail entity types per demo relation (for relation.csv; the model never sees them). */
const RELATION_TYPES: Readonly<Record<string, readonly [string, string]>> = {
  born_in: ['PER', 'CITY'],
  works_for: ['PER', 'ORG'],
  founded_by: ['ORG', 'PER'],
  capital_of: ['CITY', 'COUNTRY'],
  headquartered_in: ['ORG', 'CITY'],
};

/** One CSV field, quoted (Python csv "excel" dialect) when it holds a comma, quote or line break. */
function field(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * DeepKE instance CSV text: `sentence,relation,head,head_offset,tail,tail_offset` (offsets in code points),
 * LF line ends.
 */
export function toDeepkeCsv(examples: readonly Example[]): string {
  const rows = examples.map((e) =>
    [
      e.text,
      e.relation ?? '',
      e.head.text,
      utf16ToCodePoint(e.text, e.head.start),
      e.tail.text,
      utf16ToCodePoint(e.text, e.tail.start),
    ]
      .map(field)
      .join(','),
  );
  return ['sentence,relation,head,head_offset,tail,tail_offset', ...rows].join('\n') + '\n';
}

/** DeepKE relation.csv text: `head_type,tail_type,relation,index`, the NA label typed None,None. */
export function toRelationCsv(relations: RelationSet): string {
  const rows = relations.names.map((name, index) => {
    const [head, tail] = RELATION_TYPES[name] ?? ['None', 'None'];
    return [head, tail, name, index].map(field).join(',');
  });
  return ['head_type,tail_type,relation,index', ...rows].join('\n') + '\n';
}
