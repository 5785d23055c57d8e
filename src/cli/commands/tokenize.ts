// `refit tokenize`: JSON lines {"id","text"} in (stdin or --input), {"id","ids"} out, no special tokens.
// A bad line stops the command with `FILE:LINE: what is wrong` (exit 2); lines before it are already printed.
import { createReadStream, openSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { DataError, RefitError } from '../../errors.ts';
import { Vocab, WordPieceTokenizer } from '../../tokenize/index.ts';

interface TokenizeOptions {
  vocab: string;
  cased?: boolean;
  input?: string;
}

/** Registers `refit tokenize --vocab FILE [--cased] [--input FILE]`. */
export function registerTokenize(program: Command, ctx: CliContext): void {
  program
    .command('tokenize')
    .description(
      'tokenize JSON lines {"id","text"} with a BERT vocab.txt; prints {"id","ids"} per line (no [CLS]/[SEP])',
    )
    .requiredOption('--vocab <file>', 'BERT vocab.txt')
    .option('--cased', 'keep case and accents (default: lower-case and strip accents, do_lower_case=True)')
    .option('--input <file>', 'JSON lines to read (default: stdin)')
    .action(async (opts: TokenizeOptions) => {
      const tok = new WordPieceTokenizer(Vocab.fromFile(opts.vocab), { lowercase: !opts.cased });
      const name = opts.input ?? '<stdin>';
      await tokenizeLines({
        tok,
        name,
        input: opts.input ? openInput(opts.input) : ctx.io.stdin,
        out: ctx.io.stdout,
      });
    });
}

function openInput(path: string): Readable {
  try {
    closeSync(openSync(path, 'r'));
  } catch (e) {
    throw new RefitError(
      'E_INPUT',
      `${path}: cannot read the input (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  return createReadStream(path, { encoding: 'utf8' });
}

/** Reads JSON lines from `input` and writes one {"id","ids"} line per non-blank line to `out`. */
async function tokenizeLines(opts: {
  tok: WordPieceTokenizer;
  name: string;
  input: Readable;
  out: NodeJS.WritableStream;
}): Promise<void> {
  const lines = createInterface({ input: opts.input, crlfDelay: Infinity });
  let lineNo = 0;
  let pending: string[] = [];
  const drain = async (): Promise<void> => {
    if (pending.length === 0) return;
    const ok = opts.out.write(pending.join(''));
    pending = [];
    if (!ok) await new Promise<void>((resolve) => opts.out.once('drain', () => resolve()));
  };
  for await (const raw of lines) {
    lineNo++;
    const line = lineNo === 1 ? raw.replace(/^\ufeff/, '') : raw;
    if (line.trim() === '') continue;
    let parsed: { id: unknown; text: string };
    try {
      parsed = parseLine(line, { path: opts.name, line: lineNo });
    } catch (e) {
      await drain();
      throw e;
    }
    const { id, text } = parsed;
    pending.push(JSON.stringify({ id, ids: opts.tok.ids(text) }) + '\n');
    if (pending.length >= 256) await drain();
  }
  await drain();
}

/** One input line: an object with a string `text`; `id` is any JSON value (the line number when absent). */
function parseLine(line: string, where: { path: string; line: number }): { id: unknown; text: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new DataError(
      'E_DATA_JSON',
      where,
      `not valid JSON (${(e as Error).message}); expected {"id": …, "text": "…"}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError('E_DATA_JSON', where, 'expected a JSON object {"id": …, "text": "…"}');
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.text !== 'string')
    throw new DataError('E_DATA_FIELD', where, 'field "text" is missing or not a string');
  return { id: 'id' in obj ? obj.id : where.line, text: obj.text };
}
