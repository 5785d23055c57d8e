// `refit predict`: placeholder until its issue lands; it says so and exits 1.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';

export function registerPredict(program: Command, _ctx: CliContext): void {
  program.command('predict').description('(not built yet)').allowUnknownOption().action(() => {
    throw new RefitError('E_NOT_BUILT', 'refit predict is not built yet', { exitCode: 1 });
  });
}
