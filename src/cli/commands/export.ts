// `refit export --run DIR [--opset N] [--data FILE]`: the run's model as model/model.onnx for prediction without
// Python, checked against torch at once (the figures go into model/refit.json and are printed).
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { ConfigError } from '../../errors.ts';
import { exportRun } from '../../run/index.ts';

/** Registers `refit export`. */
export function registerExport(program: Command, ctx: CliContext): void {
  program.command('export')
    .description("export a trained run's model to ONNX (model/model.onnx), checked against torch, for predict/serve without Python")
    .requiredOption('--run <dir>', 'run folder written by refit train')
    .option('--opset <n>', 'ONNX opset (default 17; at least 11)')
    .option('--data <file>', "labelled data file to check the export on (default: the run's test, valid or train file)")
    .option('--format <name>', 'data format of --data (default: detected)')
    .action(async (o: { run: string; opset?: string; data?: string; format?: string }) => {
      const opset = o.opset === undefined ? undefined : Number(o.opset);
      if (opset !== undefined && !(Number.isInteger(opset) && opset >= 11 && opset <= 21)) throw new ConfigError('E_CLI_OPTION', `--opset ${o.opset}: expected an integer from 11 to 21`);
      const r = await exportRun({ run_dir: o.run, opset, data: o.data, format: o.format, env: ctx.env, log: ctx.log });
      ctx.io.stdout.write(`refit export: ${o.run}/model/${r.file} (opset ${r.opset}, ${(r.bytes / 1e6).toFixed(1)} MB); onnxruntime ${r.onnxruntime_node} vs torch ${r.torch_version} ` +
        `on ${r.check.examples} examples of ${r.check.data}: max |logit diff| ${r.check.max_abs_diff.toExponential(2)} (≤ ${r.check.tolerance}), same relation ${r.check.same_relation}/${r.check.examples}\n`);
    });
}
