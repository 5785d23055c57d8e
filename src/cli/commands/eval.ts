// `refit eval --run DIR --data FILE [--json]`: the run's model on any labelled file, the same metric block as training.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { evaluateNerRun, evaluateRun, parseEngine } from '../../infer/index.ts';
import { entityReport } from '../../metrics/index.ts';
import { readModelFolder } from '../../session/index.ts';

/** Registers `refit eval`. */
export function registerEval(program: Command, ctx: CliContext): void {
  program
    .command('eval')
    .description("evaluate a trained run's model on a labelled data file")
    .requiredOption('--run <dir>', 'run folder written by refit train')
    .requiredOption('--data <file>', 'labelled data file (any supported format)')
    .option('--format <name>', 'data format (default: detected)')
    .option('--json', 'print the metric block as JSON')
    .option(
      '--engine <name>',
      'onnx (onnxruntime-node, no Python) or torch (the worker); default: onnx when the run has model/model.onnx',
    )
    .action(async (o: { run: string; data: string; format?: string; json?: boolean; engine?: string }) => {
      if (readModelFolder(o.run).refit.task === 'ner') {
        const n = await evaluateNerRun({
          run_dir: o.run,
          data: o.data,
          format: o.format,
          engine: parseEngine('--engine', o.engine),
          env: ctx.env,
          log: ctx.log,
        });
        // seqeval's classification_report, as DeepKE prints it
        ctx.io.stdout.write(
          o.json ? JSON.stringify(n, null, 2) + '\n' : `${n.n} sentences\n${entityReport(n.entity)}`,
        );
        return;
      }
      const m = await evaluateRun({
        run_dir: o.run,
        data: o.data,
        format: o.format,
        engine: parseEngine('--engine', o.engine),
        env: ctx.env,
        log: ctx.log,
      });
      if (o.json) {
        ctx.io.stdout.write(JSON.stringify(m, null, 2) + '\n');
        return;
      }
      const f = (x: number) => x.toFixed(4);
      ctx.io.stdout.write(
        `${m.n} examples: accuracy ${f(m.accuracy)}  macro_f1 ${f(m.macro_f1)}  micro_f1 ${f(m.micro_f1)}` +
          `${m.semeval_official_f1 !== undefined ? `  semeval_official_f1 ${f(m.semeval_official_f1)}` : ''}\n`,
      );
      ctx.io.stdout.write('relation'.padEnd(24) + 'precision  recall     f1         support\n');
      for (const [name, r] of Object.entries(m.per_relation)) {
        ctx.io.stdout.write(
          `${name.padEnd(24)}${f(r.precision).padEnd(11)}${f(r.recall).padEnd(11)}${f(r.f1).padEnd(11)}${r.support}\n`,
        );
      }
    });
}
