// `refit predict --run NER_RUN --re-run RE_RUN (--text T | --input FILE|-)`: raw text → entities → triples, one
// JSON line per text in input order: {id, line?, text, entities, triples} (code-point offsets). --input is read as a
// stream of lines (a JSON object with a `text`, or the text itself), a window of texts per engine call; a line that
// is not a usable JSON object gets an `error` instead.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ConfigError, DataError, fsError } from '../errors.ts';
import { checkExtractRuns, openExtractor, parseEngine } from '../infer/index.ts';
import { defaultThreads } from '../worker/index.ts';
import type { CliContext } from './context.ts';
import { threadsOption } from './options.ts';

/** Texts extracted per engine call (bounds the rows of one call). */
const EXTRACT_WINDOW = 64;

/** One input line: its text, or why it has none (line 0: --text). */
type ExtractRow = { line: number; text: string } | { line: number; error: string };

/** One input line read as a text: a JSON object's `text`, or the line itself. */
export function extractRowOf(raw: string, line: number): ExtractRow {
  const l = raw.replace(/\r$/, '');
  if (!l.trimStart().startsWith('{')) return { line, text: l };
  let t: unknown;
  try {
    t = (JSON.parse(l) as { text?: unknown }).text;
  } catch (e) {
    return { line, error: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  return typeof t === 'string'
    ? { line, text: t }
    : { line, error: 'expected a JSON object with a "text" string' };
}

/** The non-blank lines of a stream as rows, in order. */
async function* streamRows(stream: Readable): AsyncIterable<ExtractRow> {
  let n = 0;
  for await (const raw of createInterface({ input: stream, crlfDelay: Infinity })) {
    n++;
    if (raw.trim()) yield extractRowOf(raw, n);
  }
}

/** Extracts the triples of --text or --input and writes the JSON lines through `write`. */
export async function predictExtract(
  ctx: CliContext,
  o: { run: string; reRun: string; input?: string; text?: string; engine?: string; threads?: string },
  write: (text: string) => Promise<void>,
): Promise<void> {
  if ((o.input === undefined) === (o.text === undefined))
    throw new ConfigError(
      'E_CLI_OPTION',
      '--re-run extracts from --text T or --input FILE|- (one of the two)',
    );
  checkExtractRuns(o.run, o.reRun);
  let rows: AsyncIterable<ExtractRow> | Iterable<ExtractRow>;
  if (o.input === undefined) rows = [{ line: 0, text: o.text! }];
  else if (o.input === '-') rows = streamRows(ctx.io.stdin);
  else {
    try {
      if ((await stat(o.input)).isDirectory())
        throw new DataError(
          'E_DATA_FILE',
          { path: o.input },
          'is a folder, expected a text or JSON lines file',
        );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new DataError('E_DATA_FILE', { path: o.input }, 'no such file');
      throw fsError(e, o.input) ?? e;
    }
    rows = streamRows(createReadStream(o.input));
  }
  const extractor = await openExtractor({
    ner_run: o.run,
    re_run: o.reRun,
    engine: parseEngine('--engine', o.engine),
    num_threads: threadsOption(o.threads) ?? defaultThreads(),
    env: ctx.env,
    log: ctx.log,
  });
  let id = 0;
  const flush = async (window: ExtractRow[]) => {
    const good = window.flatMap((r) => ('text' in r ? [r.text] : []));
    const out = await extractor.extract(good);
    let k = 0;
    let text = '';
    for (const r of window) {
      const where = r.line > 0 ? { line: r.line } : {};
      const body = 'text' in r ? out[k++] : { error: r.error };
      text += JSON.stringify({ id: id++, ...where, ...body }) + '\n';
    }
    await write(text);
  };
  try {
    let window: ExtractRow[] = [];
    for await (const r of rows) {
      window.push(r);
      if (window.length >= EXTRACT_WINDOW) await flush(window.splice(0));
    }
    if (window.length) await flush(window);
  } finally {
    await extractor.close();
  }
}
