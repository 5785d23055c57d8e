// `refit predict --run DIR (--input FILE | --text T --head H --tail T) [--output FILE] [--top-k K] [--strict]`:
// one JSON line per input row, in input order, written as it goes; a row that cannot be read or predicted gets an
// `error` field (and, from --input, its `line`), a summary of bad rows goes to stderr, and --strict exits 2 on any.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { ConfigError, RefitError, fsError } from '../../errors.ts';
import { countLines, predictProgress } from '../predict-progress.ts';
import { createWriteStream, mkdirSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { defaultThreads } from '../../worker/index.ts';
import type { Writable } from 'node:stream';
import { intOption, threadsOption } from '../options.ts';
import { checkFileTarget } from '../../run/index.ts';
import { readModelFolder } from '../../session/index.ts';
import { predictNer } from '../ner-predict.ts';
import { predictExtract } from '../extract-predict.ts';
import {
  badLinesText,
  openPredictInput,
  openRunPredictor,
  parseEngine,
  PredictBatcher,
  predictRows,
  type InputRow,
  type PredictSummary,
} from '../../infer/index.ts';

interface PredictOptions {
  run: string;
  reRun?: string;
  input?: string;
  text?: string;
  head?: string;
  tail?: string;
  headOffset?: string;
  tailOffset?: string;
  headType?: string;
  tailType?: string;
  output?: string;
  topK?: string;
  naThreshold?: string;
  format?: string;
  strict?: boolean;
  engine?: string;
  threads?: string;
}

/** The rows to predict: a fresh pass over --input, or the one --text row (offsets in code points). */
async function rowSource(o: PredictOptions): Promise<{ rows: () => AsyncIterable<InputRow>; file?: string }> {
  if (o.input) {
    if (o.text || o.head || o.tail)
      throw new ConfigError('E_CLI_OPTION', 'use either --input FILE or --text/--head/--tail, not both');
    const input = await openPredictInput({ path: o.input, format: o.format });
    return { rows: input.rows, file: o.input };
  }
  if (o.text === undefined || o.head === undefined || o.tail === undefined)
    throw new ConfigError('E_CLI_OPTION', 'give --input FILE, or --text, --head and --tail');
  const item = {
    text: o.text,
    head: o.head,
    tail: o.tail,
    head_offset: intOption('--head-offset', o.headOffset, 0),
    tail_offset: intOption('--tail-offset', o.tailOffset, 0),
    head_type: o.headType,
    tail_type: o.tailType,
  };
  return {
    rows: async function* () {
      yield { line: 0, item };
    },
  };
}

/** Writes to stdout, or to a temp file beside --output that replaces it only when every row is written. */
function openOutput(
  ctx: CliContext,
  path: string | undefined,
): { write(text: string): Promise<void>; commit(): Promise<void>; abort(): void } {
  if (!path)
    return {
      write: (t) => writeWithBackpressure(ctx.io.stdout, t),
      commit: async () => undefined,
      abort: () => undefined,
    };
  // A write that fails (a full disk, a read-only folder) names the output file, not its temporary name or none.
  const named = (e: unknown) => fsError(e, path) ?? e;
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw fsError(e, dirname(path)) ?? e;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  const stream: WriteStream = createWriteStream(tmp);
  let failed: unknown;
  stream.on('error', (e) => {
    failed = named(e);
  });
  return {
    write: async (t) => {
      if (failed) throw failed;
      try {
        await writeWithBackpressure(stream, t);
      } catch (e) {
        throw failed ?? named(e);
      }
    },
    commit: async () => {
      await new Promise<void>((resolve, reject) =>
        stream.end((e?: Error | null) => (e || failed ? reject(failed ?? named(e)) : resolve())),
      );
      try {
        renameSync(tmp, path);
      } catch (e) {
        throw named(e);
      }
    },
    abort: () => {
      stream.destroy();
      rmSync(tmp, { force: true });
    },
  };
}

async function writeWithBackpressure(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** Registers `refit predict`. */
export function registerPredict(program: Command, ctx: CliContext): void {
  program
    .command('predict')
    .description(
      'predict relations (or, for an NER run, entities) with a trained run (JSON lines out, one per input row, ' +
        'in input order)',
    )
    .requiredOption('--run <dir>', 'run folder written by refit train')
    .option(
      '--re-run <dir>',
      'with an NER --run: a relation run; raw text → entities → triples {text, entities, triples}',
    )
    .option(
      '--input <file>',
      'JSONL {text, head, tail, head_offset?, tail_offset?, head_type?, tail_type?} or any labelled data ' +
        'file; offsets count code points',
    )
    .option('--format <name>', 'data format of --input when it is a labelled data file (default: detected)')
    .option('--text <text>', 'one sentence (an NER run: its entities, no --head/--tail)')
    .option('--head <entity>', 'head entity (with --text)')
    .option('--tail <entity>', 'tail entity (with --text)')
    .option('--head-offset <n>', "where the head starts in --text, in code points (Python's str.index)")
    .option('--tail-offset <n>', "where the tail starts in --text, in code points (Python's str.index)")
    .option(
      '--head-type <type>',
      "entity type of the head, e.g. 人物 (deepke-lm models put it into the text, as DeepKE's predict.py " +
        'asks; without it the head keeps its text)',
    )
    .option('--tail-type <type>', 'entity type of the tail (as --head-type)')
    .option('--output <file>', 'write the JSON lines here instead of stdout')
    .option('--top-k <k>', 'relations listed in `top` (default: predict.top_k of the run, 3)')
    .option(
      '--na-threshold <p>',
      'answer the NA label when the best score is below p (default: predict.na_threshold, 0)',
    )
    .option('--strict', 'exit 2 when any row is bad (every row still gets its output line)')
    .option(
      '--engine <name>',
      'onnx (onnxruntime-node in this process, no Python) or torch (the Python worker; CPU or CUDA); ' +
        'default: onnx when the run has model/model.onnx',
    )
    .option(
      '--threads <n>',
      'CPU threads for the model (default: the free cores, at most 4; docs/threads.md)',
    )
    .action(async (o: PredictOptions) => {
      // a folder or an unwritable place is found before the model loads
      if (o.output) checkFileTarget(o.output, '--output');
      // left out: the run's own predict.top_k / predict.na_threshold, which the predictor applies (as the
      // server's does)
      const top_k = intOption('--top-k', o.topK, 1);
      const na_threshold = o.naThreshold === undefined ? undefined : Number(o.naThreshold);
      if (na_threshold !== undefined && !(na_threshold >= 0 && na_threshold <= 1))
        throw new ConfigError(
          'E_CLI_OPTION',
          `--na-threshold ${o.naThreshold}: expected a number from 0 to 1`,
        );
      if (o.reRun !== undefined || readModelFolder(o.run).refit.task === 'ner') {
        const out = openOutput(ctx, o.output);
        try {
          if (o.reRun !== undefined) await predictExtract(ctx, { ...o, reRun: o.reRun }, (t) => out.write(t));
          else await predictNer(ctx, o, (t) => out.write(t));
          await out.commit();
        } catch (e) {
          out.abort();
          throw e;
        }
        return;
      }
      const source = await rowSource(o);
      const predictor = await openRunPredictor({
        run_dir: o.run,
        engine: parseEngine('--engine', o.engine),
        num_threads: threadsOption(o.threads) ?? defaultThreads(),
        env: ctx.env,
        log: ctx.log,
      });
      // Progress on stderr for --input, unless the predictions themselves go to the same terminal.
      const progress =
        o.input && (o.output || !ctx.io.stdout.isTTY)
          ? predictProgress({ stderr: ctx.io.stderr, total: await countLines(o.input) })
          : undefined;
      const out = openOutput(ctx, o.output);
      // the one queue between this command and the engine, as the server's route has; one caller, so no share of
      // the engine to keep for others: each window goes to the engine whole
      const queue = new PredictBatcher({
        predict: (items, p) => predictor.predict(items, p),
        max_items: Infinity,
        max_chars: Infinity,
      });
      let summary: PredictSummary;
      try {
        summary = await predictRows({
          rows: source.rows(),
          predictor: { predict: (items, p) => queue.submit(items, p) },
          top_k,
          na_threshold,
          write: (t) => {
            progress?.rows(lineCount(t));
            return out.write(t);
          },
        });
        progress?.done();
        await out.commit();
      } catch (e) {
        out.abort();
        throw e;
      } finally {
        await predictor.close();
      }
      reportBadRows(ctx, summary, source.file, o.strict === true);
    });
}

/** Lines in a chunk of JSON lines. */
function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** One stderr line about bad rows: a warning, or with --strict the exit-2 error. */
function reportBadRows(ctx: CliContext, s: PredictSummary, file: string | undefined, strict: boolean): void {
  if (s.bad === 0 || !s.first_bad) return;
  if (file === undefined) {
    if (strict) throw new RefitError('E_PREDICT_BAD_ROWS', s.first_bad.error);
    ctx.io.stderr.write(`refit: warning: ${s.first_bad.error}\n`);
    return;
  }
  const counted = `${s.bad} of ${s.rows} row${s.rows === 1 ? '' : 's'} ${s.bad === 1 ? 'was' : 'were'} bad`;
  if (strict) {
    throw new RefitError(
      'E_PREDICT_BAD_ROWS',
      `${file}:${s.first_bad.line}: ${s.first_bad.error} (--strict: ${counted}: ${badLinesText(s)}; each ` +
        `has an error line in the output)`,
    );
  }
  ctx.io.stderr.write(
    `refit: warning: ${file}: ${counted} (${badLinesText(s)}); each has an error line in the output\n`,
  );
}
