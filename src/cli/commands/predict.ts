// `refit predict --run DIR (--input FILE | --text T --head H --tail T) [--output FILE] [--top-k K]`:
// one JSON line per input row, in input order; a row that cannot be encoded gets an `error` field.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { ConfigError } from '../../errors.ts';
import { existsSync } from 'node:fs';
import { resolveConfig } from '../../config/index.ts';
import { runPaths, writeTextAtomic } from '../../run/index.ts';
import { openPredictor, readPredictInput, type PredictItem, type Prediction } from '../../run/index.ts';

interface PredictOptions { run: string; input?: string; text?: string; head?: string; tail?: string; headOffset?: string; tailOffset?: string;
  output?: string; topK?: string; naThreshold?: string; format?: string }

function intOption(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} ${v}: expected an integer ≥ ${min}`, 'E_CLI_OPTION');
  return n;
}

async function items(o: PredictOptions): Promise<{ items: PredictItem[]; errors: Map<number, Prediction> }> {
  if (o.input) {
    if (o.text || o.head || o.tail) throw new ConfigError('use either --input FILE or --text/--head/--tail, not both', 'E_CLI_OPTION');
    return readPredictInput({ path: o.input, format: o.format });
  }
  if (o.text === undefined || o.head === undefined || o.tail === undefined) throw new ConfigError('give --input FILE, or --text, --head and --tail', 'E_CLI_OPTION');
  return { items: [{ text: o.text, head: o.head, tail: o.tail, head_offset: intOption('--head-offset', o.headOffset, 0), tail_offset: intOption('--tail-offset', o.tailOffset, 0) }], errors: new Map() };
}

/** Registers `refit predict`. */
export function registerPredict(program: Command, ctx: CliContext): void {
  program.command('predict')
    .description('predict relations with a trained run (JSON lines out, in input order)')
    .requiredOption('--run <dir>', 'run folder written by refit train')
    .option('--input <file>', 'JSONL {text, head, tail, head_offset?, tail_offset?} or any labelled data file')
    .option('--format <name>', 'data format of --input when it is a labelled data file (default: detected)')
    .option('--text <text>', 'one sentence')
    .option('--head <entity>', 'head entity (with --text)')
    .option('--tail <entity>', 'tail entity (with --text)')
    .option('--head-offset <n>', 'character offset of the head in --text')
    .option('--tail-offset <n>', 'character offset of the tail in --text')
    .option('--output <file>', 'write the JSON lines here instead of stdout')
    .option('--top-k <k>', 'relations listed in `top` (default: predict.top_k of the run, 3)')
    .option('--na-threshold <p>', 'answer the NA label when the best score is below p (default: predict.na_threshold, 0)')
    .action(async (o: PredictOptions) => {
      const run = runDefaults(o.run);
      const top_k = intOption('--top-k', o.topK, 1) ?? run.top_k;
      const na_threshold = o.naThreshold === undefined ? run.na_threshold : Number(o.naThreshold);
      if (!(na_threshold >= 0 && na_threshold <= 1)) throw new ConfigError(`--na-threshold ${o.naThreshold}: expected a number from 0 to 1`, 'E_CLI_OPTION');
      const input = await items(o);
      const predictor = await openPredictor({ run_dir: o.run, env: ctx.env, log: ctx.log });
      let out: Prediction[];
      try {
        out = await predictor.predict(input.items, { top_k, na_threshold });
      } finally {
        await predictor.close();
      }
      const lines = mergeErrors(out, input.errors).map((p) => JSON.stringify(p)).join('\n') + '\n';
      if (o.output) writeTextAtomic(o.output, lines);
      else ctx.io.stdout.write(lines);
    });
}

/** predict.top_k and predict.na_threshold from the run's config.yaml (defaults when the run has none). */
function runDefaults(run: string): { top_k: number; na_threshold: number } {
  const file = runPaths(run).config;
  if (!existsSync(file)) return { top_k: 3, na_threshold: 0 };
  const c = resolveConfig({ file, overrides: [] });
  return { top_k: c.predict.top_k, na_threshold: c.predict.na_threshold };
}

/** Puts rows that could not even be read (labelled files) back at their input positions; ids are input positions. */
function mergeErrors(preds: Prediction[], errors: Map<number, Prediction>): Prediction[] {
  const all: Prediction[] = [];
  let k = 0;
  for (let id = 0; all.length < preds.length + errors.size; id++) {
    const e = errors.get(id);
    all.push(e ?? { ...preds[k++], id });
  }
  return all;
}
