// `refit data check PATH…` and `refit data stats [--json] [--vocab FILE] [--cased] PATH…`: read data files or
// folders with the data readers and report problems (exit 2, one `PATH:LINE: what` line each) or figures. A file an
// NER reader claims (or --format names an NER format) is read as NER sentences.
import type { Command } from 'commander';
import { basename } from 'node:path';
import type { CliContext } from '../context.ts';
import { ConfigError, MultiError, isRefitError } from '../../errors.ts';
import {
  datasetStats,
  detectNaLabel,
  inputKey,
  isFolder,
  isRelationFileName,
  nerInputKey,
  nerStats,
  pickNerReader,
  readDataset,
  readNerDataset,
  readText,
  readRelations,
  resolveDataFolder,
  type Dataset,
  type FileStats,
  type NerFile,
  type NerFileStats,
  type OnBadRow,
  type RelationSet,
} from '../../data/index.ts';
import { Vocab, WordPieceTokenizer } from '../../tokenize/index.ts';
import { nerSubtokenCount } from '../../encode/index.ts';
import { nerCheckLine, nerStatsTable } from '../ner-output.ts';

interface ReadFlags {
  format?: string;
  relations?: string;
  onBadRow: string;
}
interface StatsFlags extends ReadFlags {
  json?: boolean;
  vocab?: string;
  cased?: boolean;
}
interface DataFile {
  path: string;
  split?: 'train' | 'valid' | 'test';
  relations?: RelationSet;
  relations_path?: string;
}
/** A read file: relation examples (`dataset`) or NER sentences (`ner`). */
type ReadFile = DataFile & ({ dataset: Dataset; ner?: undefined } | { ner: NerFile; dataset?: undefined });
interface RelationList {
  relations: RelationSet;
  relations_path: string;
}

const POLICIES: readonly OnBadRow[] = ['error', 'skip', 'warn'];

/** Registers `refit data check` and `refit data stats`. */
export function registerData(program: Command, ctx: CliContext): void {
  const data = program.command('data').description('check data files and show their statistics');
  const common = (cmd: Command) =>
    cmd
      .option(
        '--format <name>',
        'force the data format (deepke-csv, deepke-json, semeval, thunlp, opennre, fewrel; NER: deepke-ner, conll, ' +
          'weibo-conll)',
      )
      .option(
        '--relations <file>',
        'relation list to check relations against (relation.csv, relation2id.txt, rel2id.json, label.txt)',
      )
      .option('--on-bad-row <policy>', 'error | skip | warn', 'error');
  common(
    data
      .command('check')
      .argument('<paths...>', 'data files or folders (train/valid/test + relation list)')
      .description('read every file and report bad input, one PATH:LINE line each'),
  ).action(async (paths: string[], flags: ReadFlags) => {
    await runCheck({ paths, flags, ctx });
  });
  common(
    data
      .command('stats')
      .argument('<paths...>', 'data files or folders')
      .description('examples, relations, lengths, truncation counts, duplicates and train overlap per file')
      .option('--json', 'print a JSON array, one object per file')
      .option('--vocab <file>', 'BERT vocab.txt: add lengths in WordPiece tokens')
      .option('--cased', 'do not lower-case when counting tokens'),
  ).action(async (paths: string[], flags: StatsFlags) => {
    await runStats({ paths, flags, ctx });
  });
}

async function runCheck(o: { paths: string[]; flags: ReadFlags; ctx: CliContext }): Promise<void> {
  const { ctx } = o;
  const lists: Array<{ relations: RelationSet; relations_path: string }> = [];
  const files = await readAll({ ...o, lists });
  for (const { relations: r, relations_path } of lists) {
    ctx.io.stdout.write(
      `${relations_path}: ok, relation list, ${r.names.length} relations${r.na_label ? ` (NA: ${r.na_label})` : ''}\n`,
    );
  }
  for (const f of files) {
    if (f.ner) {
      ctx.io.stdout.write(nerCheckLine(f.path, f.ner));
      continue;
    }
    const d = f.dataset;
    const extra = [
      d.skipped_rows ? `${d.skipped_rows} bad rows skipped` : '',
      d.offset_fallbacks ? `${d.offset_fallbacks} offset fallbacks` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const relations = new Set(d.examples.map((e) => e.relation)).size;
    ctx.io.stdout.write(
      `${f.path}: ok, ${d.format}, ${d.examples.length} examples, ${relations} relations${extra ? `, ${extra}` : ''}\n`,
    );
  }
}

async function runStats(o: { paths: string[]; flags: StatsFlags; ctx: CliContext }): Promise<void> {
  const { flags, ctx } = o;
  let count_tokens: ((text: string) => number) | undefined;
  let tokenizer: WordPieceTokenizer | undefined;
  if (flags.vocab) {
    const t = new WordPieceTokenizer(Vocab.fromFile(flags.vocab), { lowercase: !flags.cased });
    count_tokens = (text) => t.ids(text).length;
    tokenizer = t;
  }
  const all = await readAll(o);
  const files = all.filter((f) => f.dataset !== undefined);
  const ner = nerFileStats(
    all.filter((f) => f.ner !== undefined),
    tokenizer,
  );
  const train = files.length > 1 ? (files.find((f) => f.split === 'train') ?? files[0]) : undefined;
  const train_keys = train ? new Set(train.dataset.examples.map(inputKey)) : undefined;
  const stats = files.map((f) =>
    datasetStats({
      path: f.path,
      dataset: f.dataset,
      na_label:
        f.relations?.na_label ??
        detectNaLabel([...new Set(f.dataset.examples.flatMap((e) => e.relation ?? []))]),
      count_tokens,
      train_keys: f === train ? undefined : train_keys,
    }),
  );
  if (flags.json) ctx.io.stdout.write(JSON.stringify([...stats, ...ner], null, 2) + '\n');
  else
    ctx.io.stdout.write(
      [stats.length ? statsTable(stats) : '', ner.length ? nerStatsTable(ner) : '']
        .filter(Boolean)
        .join('\n'),
    );
}

/** The NER files' figures; train overlap against the train file when there are several. */
function nerFileStats(
  files: Array<DataFile & { ner: NerFile }>,
  tokenizer?: WordPieceTokenizer,
): NerFileStats[] {
  const train = files.length > 1 ? (files.find((f) => f.split === 'train') ?? files[0]) : undefined;
  const train_keys = train ? new Set(train.ner.sentences.map((s) => nerInputKey(s.tokens))) : undefined;
  return files.map((f) =>
    nerStats({
      path: f.path,
      data: f.ner,
      count_subtokens: tokenizer ? (tokens) => nerSubtokenCount(tokenizer, tokens) : undefined,
      train_keys: f === train ? undefined : train_keys,
    }),
  );
}

/** Expands folders, reads every file, and throws one error listing every file's problems. */
async function readAll(o: {
  paths: string[];
  flags: ReadFlags;
  ctx: CliContext;
  lists?: RelationList[];
}): Promise<ReadFile[]> {
  const { paths, flags, ctx } = o;
  const on_bad_row = flags.onBadRow as OnBadRow;
  if (!POLICIES.includes(on_bad_row))
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `--on-bad-row '${flags.onBadRow}' must be one of ${POLICIES.join(', ')}`,
    );
  const problems: unknown[] = [];
  const files = await expand({ paths, flags, problems, lists: o.lists ?? [] });
  const done: ReadFile[] = [];
  for (const f of files) {
    try {
      const text = await readText(f.path);
      const nerReader = pickNerReader({ path: f.path, text, format: flags.format });
      if (nerReader) {
        const warn = (line: string) => ctx.io.stderr.write(`refit: warning: ${line}\n`);
        done.push({
          ...f,
          ner: await readNerDataset({ path: f.path, text, format: nerReader.name, on_bad_row, warn }),
        });
        continue;
      }
      const dataset = await readDataset({
        path: f.path,
        format: flags.format,
        relations: f.relations,
        relations_path: f.relations_path,
        on_bad_row,
        warn: (line) => ctx.io.stderr.write(`refit: warning: ${line}\n`),
      });
      done.push({ ...f, dataset });
    } catch (e) {
      problems.push(e);
    }
  }
  throwProblems(problems);
  return done;
}

/** The data files of `paths` (folders expanded); every relation list read on the way is added to `lists`. */
async function expand(o: {
  paths: string[];
  flags: ReadFlags;
  problems: unknown[];
  lists: RelationList[];
}): Promise<DataFile[]> {
  const { paths, flags, problems } = o;
  const relationsOf = async (path: string): Promise<RelationList> => {
    const list = { relations: await readRelations(path), relations_path: path };
    o.lists.push(list);
    return list;
  };
  // a relation list given among the paths (`data check train.csv relation.csv`) is used like --relations
  const listed = flags.relations ?? paths.find(isRelationFileName);
  let given: RelationList | undefined;
  try {
    if (listed) given = await relationsOf(listed);
  } catch (e) {
    problems.push(e);
  }
  const out: DataFile[] = [];
  for (const path of paths.filter((p) => p !== listed)) {
    try {
      if (!(await isFolder(path))) {
        out.push({ path, split: splitOf(path), ...given });
        continue;
      }
      const folder = await resolveDataFolder(path);
      const rel = given ?? (folder.relations ? await relationsOf(folder.relations) : undefined);
      for (const split of ['train', 'valid', 'test'] as const)
        if (folder[split]) out.push({ path: folder[split]!, split, ...rel });
    } catch (e) {
      problems.push(e);
    }
  }
  return out;
}

function splitOf(path: string): DataFile['split'] {
  const words = basename(path)
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  if (words.includes('train')) return 'train';
  if (words.some((w) => ['valid', 'val', 'dev'].includes(w))) return 'valid';
  if (words.includes('test')) return 'test';
  return undefined;
}

/** One problem is rethrown as is; several become one MultiError with every line. */
function throwProblems(problems: unknown[]): void {
  if (problems.length === 0) return;
  const other = problems.find((e) => !isRefitError(e));
  if (other) throw other;
  if (problems.length === 1) throw problems[0];
  const lines = problems.flatMap((e) => (e instanceof MultiError ? e.lines : [(e as Error).message]));
  throw new MultiError('E_DATA', lines);
}

/** A readable table of the figures plus one line of relation counts per file. */
export function statsTable(stats: FileStats[]): string {
  const head = [
    'file',
    'format',
    'examples',
    'chars p50/p95/max',
    'tokens p50/p95/max',
    '>128',
    '>256',
    '>512',
    'fallbacks',
    'dups',
    'train overlap',
  ];
  const rows = stats.map((s) => [
    s.path,
    s.format,
    String(s.examples),
    `${s.chars.p50}/${s.chars.p95}/${s.chars.max}`,
    s.tokens ? `${s.tokens.p50}/${s.tokens.p95}/${s.tokens.max}` : '-',
    s.tokens ? String(s.tokens.over_128) : '-',
    s.tokens ? String(s.tokens.over_256) : '-',
    s.tokens ? String(s.tokens.over_512) : '-',
    String(s.offset_fallbacks),
    String(s.duplicates),
    s.train_overlap === undefined ? '-' : String(s.train_overlap),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const lines = [fmt(head), ...rows.map(fmt)];
  for (const s of stats) {
    const rel = Object.entries(s.relations)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(
      '',
      `${s.path}: ${Object.keys(s.relations).length} relations${s.na_label ? ` (NA: ${s.na_label})` : ''}: ${rel}`,
    );
  }
  return lines.join('\n') + '\n';
}
