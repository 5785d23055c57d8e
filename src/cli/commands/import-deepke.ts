// `refit import-deepke --conf conf/ --checkpoint checkpoints/…/lm_epoch3.pth --out DIR [key=value …]`: a trained
// DeepKE LM model into a refit run folder (thin wrapper over run/importDeepke).
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { resolveConfigDetailed } from '../../config/index.ts';
import { importDeepke } from '../../run/index.ts';

/** Registers `refit import-deepke`. */
export function registerImportDeepke(program: Command, ctx: CliContext): void {
  program
    .command('import-deepke')
    .description(
      'turn a trained DeepKE LM checkpoint (.pth) into a run folder for refit predict and refit serve',
    )
    .argument(
      '[overrides...]',
      'DeepKE or refit keys as key=value (e.g. lm_file=models/bert-base-chinese num_hidden_layers=1)',
    )
    .requiredOption(
      '--conf <path>',
      'the DeepKE conf the checkpoint was trained with: its conf/ folder (or a YAML file)',
    )
    .requiredOption(
      '--checkpoint <file>',
      "DeepKE's checkpoint, e.g. checkpoints/2024-01-01_12-00-00/lm_epoch3.pth",
    )
    .requiredOption('--out <dir>', 'run folder to write')
    .option('--force', 'replace an existing run folder')
    .action(
      async (overrides: string[], o: { conf: string; checkpoint: string; out: string; force?: boolean }) => {
        const { config, explicit } = resolveConfigDetailed({
          file: o.conf,
          overrides,
          env: ctx.env,
          warn: (l) => ctx.log.write(`warning: ${l}`),
        });
        const r = await importDeepke({
          config,
          explicit,
          conf: o.conf,
          checkpoint: o.checkpoint,
          out: o.out,
          force: o.force,
          env: ctx.env,
          log: ctx.log,
        });
        ctx.io.stdout.write(
          `imported ${o.checkpoint}: BERT (${r.num_hidden_layers} layer` +
            `${r.num_hidden_layers === 1 ? '' : 's'}) → ${r.rnn} → fc over ${r.relations.length} relations\n`,
        );
        ctx.io.stdout.write(
          `run saved to ${o.out}; predict with: refit predict --run ${o.out} --text … --head … --tail … ` +
            `[--head-type … --tail-type …]\n`,
        );
      },
    );
}
