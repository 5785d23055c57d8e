// `refit report --run DIR`: (re)writes DIR/report.html, one self-contained page that opens offline.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { writeReport } from '../../report/index.ts';

/** Registers `refit report`. */
export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('write report.html (curves, memory timeline, plan, per-relation metrics) for a run folder')
    .requiredOption('--run <dir>', 'the run folder refit train wrote')
    .action(async (opts: { run: string }) => {
      const path = await writeReport({
        run_dir: opts.run,
        note: (line) => ctx.io.stderr.write(`refit: note: ${line}\n`),
      });
      ctx.io.stdout.write(`wrote ${path}\n`);
    });
}
