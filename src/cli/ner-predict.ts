// `refit predict` on an NER run (refit.json task: ner): --text T, or --input FILE (an NER data file, read as its
// sentences' texts; JSON lines with a `text`; or one text per line) → one JSON line per text, in input order:
// {id, line?, text, entities: [{text, type, start, end, score}]} with code-point offsets.
import { readFile } from 'node:fs/promises';
import { ConfigError, fsError } from '../errors.ts';
import { pickNerReader, readNerDataset } from '../data/index.ts';
import { openNerPredictor, parseEngine } from '../infer/index.ts';
import { defaultThreads } from '../worker/index.ts';
import type { CliContext } from './context.ts';
import { threadsOption } from './options.ts';

/** Texts predicted per call of the engine (bounds the rows in one `eval` command). */
const NER_PREDICT_WINDOW = 256;

/** One text to tag and the input line it came from (0: --text). */
interface NerRow {
  line: number;
  text: string;
}

/** The texts of --input: an NER data file's sentences (tokens joined as the file joins them), JSON lines or lines. */
export async function nerInputRows(path: string, format?: string): Promise<NerRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw fsError(e, path) ?? e;
  }
  if (pickNerReader({ path, text, format })) {
    const data = await readNerDataset({ path, text, format });
    return data.sentences.map((s) => ({ line: s.line, text: s.text }));
  }
  const rows: NerRow[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.replace(/\r$/, '');
    if (!l.trim()) return;
    let t: unknown = l;
    if (l.trimStart().startsWith('{')) {
      try {
        t = (JSON.parse(l) as { text?: unknown }).text;
      } catch {
        t = undefined;
      }
      if (typeof t !== 'string')
        throw new ConfigError(
          'E_CLI_OPTION',
          `${path}:${i + 1}: expected a JSON object with a "text" string`,
        );
    }
    rows.push({ line: i + 1, text: t as string });
  });
  return rows;
}

/** Predicts entities for --text or --input on an NER run and writes the JSON lines through `write`. */
export async function predictNer(
  ctx: CliContext,
  o: { run: string; input?: string; text?: string; format?: string; engine?: string; threads?: string },
  write: (text: string) => Promise<void>,
): Promise<void> {
  if ((o.input === undefined) === (o.text === undefined))
    throw new ConfigError('E_CLI_OPTION', 'an NER run predicts --text T or --input FILE (one of the two)');
  const rows = o.input !== undefined ? await nerInputRows(o.input, o.format) : [{ line: 0, text: o.text! }];
  const predictor = await openNerPredictor({
    run_dir: o.run,
    engine: parseEngine('--engine', o.engine),
    num_threads: threadsOption(o.threads) ?? defaultThreads(),
    env: ctx.env,
    log: ctx.log,
  });
  try {
    for (let at = 0; at < rows.length; at += NER_PREDICT_WINDOW) {
      const window = rows.slice(at, at + NER_PREDICT_WINDOW);
      const entities = await predictor.entities(window.map((r) => r.text));
      let out = '';
      window.forEach((r, k) => {
        const where = r.line > 0 ? { line: r.line } : {};
        out += JSON.stringify({ id: at + k, ...where, text: r.text, entities: entities[k] }) + '\n';
      });
      await write(out);
    }
  } finally {
    await predictor.close();
  }
}
