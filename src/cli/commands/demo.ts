// `refit demo`: no files needed — generates the project's own relation dataset and vocab, trains a tiny random-init
// model on CPU, prints metrics, saves the run (default runs/demo) and predicts a few sentences.
import type { Command } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CliContext } from '../context.ts';
import { RunLog } from '../../log.ts';
import { RefitError } from '../../errors.ts';
import { resolveConfig } from '../../config/index.ts';
import {
  DEMO_PREDICT_INPUTS,
  DEMO_SIZES,
  generateDemoDataset,
  toDeepkeCsv,
  toRelationCsv,
} from '../../demo/index.ts';
import { runTraining } from '../../run/index.ts';
import { runPaths, writeJsonAtomic, writeTextAtomic } from '../../session/index.ts';
import { openPredictor } from '../../infer/index.ts';
import { writeReport } from '../../report/index.ts';
import { exportAfterTraining, pickReporter, printSummary } from '../run-output.ts';
import { intOption } from '../options.ts';

/** The marker file that makes a folder a demo run (so `refit demo` may replace it, and nothing else). */
const DEMO_MARKER = 'demo.json';

/** Writes the generated dataset under `<out>/data` and returns the config overrides that point at it. */
function writeDemoData(out: string, seed: number): string[] {
  const ds = generateDemoDataset({ seed, ...DEMO_SIZES });
  const data = join(out, 'data');
  writeTextAtomic(join(data, 'train.csv'), toDeepkeCsv(ds.train));
  writeTextAtomic(join(data, 'valid.csv'), toDeepkeCsv(ds.valid));
  writeTextAtomic(join(data, 'test.csv'), toDeepkeCsv(ds.test));
  writeTextAtomic(join(data, 'relation.csv'), toRelationCsv(ds.relations));
  writeTextAtomic(join(data, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
  writeJsonAtomic(join(out, DEMO_MARKER), { seed, sizes: DEMO_SIZES });
  return [
    `data.train=${join(data, 'train.csv')}`,
    `data.valid=${join(data, 'valid.csv')}`,
    `data.test=${join(data, 'test.csv')}`,
    `data.relations=${join(data, 'relation.csv')}`,
    `model.vocab=${join(data, 'vocab.txt')}`,
  ];
}

/** Registers `refit demo`. */
export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(
      'train a tiny model on a generated dataset (CPU, under 2 minutes), then predict a few sentences',
    )
    .argument('[overrides...]', 'config overrides as key=value (e.g. train.epochs=2)')
    .option('--out <dir>', 'run folder (replaced if it holds an earlier demo)', join('runs', 'demo'))
    .option('--seed <n>', 'seed of the generated data and the training', '42')
    .option('--progress <kind>', 'auto, tty, plain, jsonl or none', 'auto')
    .action(async (overrides: string[], o: { out: string; seed: string; progress: string }) => {
      const out = resolve(o.out);
      if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, DEMO_MARKER))) {
        throw new RefitError(
          'E_OUT_EXISTS',
          `${o.out}: folder exists and is not an earlier demo run; use another --out`,
        );
      }
      ctx.log = new RunLog(runPaths(out).log);
      const seed = intOption('--seed', o.seed, 0)!;
      const dataOverrides = writeDemoData(out, seed);
      const config = resolveConfig({
        overrides: [
          'model.preset=bert-tiny',
          'train.epochs=6',
          `train.seed=${seed}`,
          'memory.max_seq_len=64',
          'device=cpu',
          ...dataOverrides,
          ...overrides,
        ],
      });
      ctx.io.stdout.write(
        `refit demo: ${DEMO_SIZES.train} generated training examples, bert-tiny from random init, CPU\n`,
      );
      const result = await runTraining({
        config,
        out,
        force: true,
        env: ctx.env,
        reporters: pickReporter(ctx, o.progress),
        write_report: (run_dir) => writeReport({ run_dir }),
      });
      if (config.export.onnx) await exportAfterTraining({ run_dir: out, env: ctx.env, log: ctx.log });
      printSummary(ctx, o.out, result.metrics);
      const predictor = await openPredictor({ run_dir: out, env: ctx.env, log: ctx.log });
      try {
        const preds = await predictor.predict(
          DEMO_PREDICT_INPUTS.map(({ text, head, tail }) => ({ text, head, tail })),
          { top_k: 1 },
        );
        ctx.io.stdout.write('\npredictions:\n');
        preds.forEach((p, i) => {
          const want = DEMO_PREDICT_INPUTS[i].expected;
          ctx.io.stdout.write(
            `  ${DEMO_PREDICT_INPUTS[i].text}\n    ${p.head} → ${p.tail}: ${p.relation ?? p.error} ` +
              `(${(p.score ?? 0).toFixed(2)})${p.relation === want ? '' : `  [expected ${want}]`}\n`,
          );
        });
      } finally {
        await predictor.close();
      }
      ctx.io.stdout.write(`\ntry: refit predict --run ${o.out} --text "..." --head "..." --tail "..."\n`);
    });
}
