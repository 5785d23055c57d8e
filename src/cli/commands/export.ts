// `refit export --run DIR [--opset N] [--data FILE]`: the run's model as model/model.onnx for prediction without
// Python, checked against torch at once (the figures go into model/refit.json and are printed).
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { ConfigError } from '../../errors.ts';
import { exportRun, onnxCheckSummary } from '../../infer/index.ts';

/** Registers `refit export`. */
export function registerExport(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description(
      "export a trained run's model to ONNX (model/model.onnx), checked against torch, for predict/serve " +
        'without Python',
    )
    .requiredOption('--run <dir>', 'run folder written by refit train')
    .option('--opset <n>', 'ONNX opset (default 17; at least 11)')
    .option(
      '--data <file>',
      "labelled data file to check the export on (default: the run's test, valid or train file)",
    )
    .option('--format <name>', 'data format of --data (default: detected)')
    .option(
      '--quantize <kind>',
      'int8: also write model.int8.onnx (encoder linear layers, per-channel int8 weights, dynamic ' +
        'activations), kept as the default engine only if macro-F1 drops ≤ 1 point and it is faster here',
    )
    .option(
      '--threads <n>',
      'CPU threads for the int8 vs fp32 measurement (default: the free cores, at most 4)',
    )
    .action(
      async (o: {
        run: string;
        opset?: string;
        data?: string;
        format?: string;
        quantize?: string;
        threads?: string;
      }) => {
        if (o.quantize !== undefined && o.quantize !== 'int8')
          throw new ConfigError('E_CLI_OPTION', `--quantize ${o.quantize}: expected int8`);
        const threads = o.threads === undefined ? undefined : Number(o.threads);
        if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
          throw new ConfigError('E_CLI_OPTION', `--threads ${o.threads}: must be a positive integer`);
        const opset = o.opset === undefined ? undefined : Number(o.opset);
        if (opset !== undefined && !(Number.isInteger(opset) && opset >= 11 && opset <= 21))
          throw new ConfigError('E_CLI_OPTION', `--opset ${o.opset}: expected an integer from 11 to 21`);
        const r = await exportRun({
          run_dir: o.run,
          opset,
          data: o.data,
          format: o.format,
          quantize: o.quantize as 'int8' | undefined,
          threads,
          env: ctx.env,
          log: ctx.log,
        });
        ctx.io.stdout.write(
          `refit export: ${o.run}/model/${r.file} (opset ${r.opset}, ${(r.bytes / 1e6).toFixed(1)} MB); ` +
            `onnxruntime ${r.onnxruntime_node} vs torch ${r.torch_version} ${onnxCheckSummary(r)}\n`,
        );
        const q = r.int8;
        if (q) {
          const pct = (x: number) => (100 * x).toFixed(2);
          ctx.io.stdout.write(
            `refit export: int8 (${q.quantized_matmuls} MatMuls, ${(q.bytes / 1e6).toFixed(1)} MB) on ` +
              `${q.examples} rows of ${q.data}, ${q.threads} thread${q.threads > 1 ? 's' : ''}: ` +
              `macro-F1 ${pct(q.macro_f1_fp32)} → ${pct(q.macro_f1_int8)}, ` +
              `${q.examples_per_s_fp32.toFixed(1)} → ${q.examples_per_s_int8.toFixed(1)} examples/s: ` +
              `${q.kept ? `kept, ${q.file} is the default engine` : 'not kept (fp32 stays the default)'}\n`,
          );
        }
      },
    );
}
