// What `refit data check|stats` print for NER files: the one `ok` line per file and the figures' table.
import type { NerFile, NerFileStats } from '../data/index.ts';

/** `PATH: ok, FORMAT, SCHEME, N sentences, N entities, N types[, extras]`. */
export function nerCheckLine(path: string, d: NerFile): string {
  const entities = d.sentences.reduce((k, s) => k + s.spans.length, 0);
  const types = new Set(d.sentences.flatMap((s) => s.spans.map((e) => e.type))).size;
  const irregular = d.sentences.reduce((k, s) => k + s.irregular, 0);
  const extra = [
    d.skipped_rows ? `${d.skipped_rows} bad sentences skipped` : '',
    irregular
      ? `${irregular} ${irregular === 1 ? 'entity starts' : 'entities start'} without B- (read as seqeval does)`
      : '',
  ].filter(Boolean);
  const head = `${path}: ok, ${d.format}, ${d.scheme}, ${d.sentences.length} sentences, ${entities} entities`;
  return `${[`${head}, ${types} types`, ...extra].join(', ')}\n`;
}

/** A readable table of NER figures plus one line of entity counts per type per file. */
export function nerStatsTable(stats: NerFileStats[]): string {
  const head = [
    'file',
    'format',
    'scheme',
    'sentences',
    'tokens p50/p95/max',
    'subtokens p50/p95/max',
    '>128',
    '>256',
    '>512',
    'entities',
    'irregular',
    'dups',
    'train overlap',
  ];
  const rows = stats.map((s) => [
    s.path,
    s.format,
    s.scheme,
    String(s.sentences),
    `${s.tokens.p50}/${s.tokens.p95}/${s.tokens.max}`,
    s.subtokens ? `${s.subtokens.p50}/${s.subtokens.p95}/${s.subtokens.max}` : '-',
    s.subtokens ? String(s.subtokens.over_128) : '-',
    s.subtokens ? String(s.subtokens.over_256) : '-',
    s.subtokens ? String(s.subtokens.over_512) : '-',
    String(s.entities),
    String(s.irregular),
    String(s.duplicates),
    s.train_overlap === undefined ? '-' : String(s.train_overlap),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const lines = [fmt(head), ...rows.map(fmt)];
  for (const s of stats) {
    const types = Object.entries(s.types)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push('', `${s.path}: ${Object.keys(s.types).length} entity types: ${types}`);
  }
  return lines.join('\n') + '\n';
}
