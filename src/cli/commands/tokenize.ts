// `refit tokenize`: placeholder until its issue lands; it says so and exits 1.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';

export function registerTokenize(program: Command, _ctx: CliContext): void {
  program.command('tokenize').description('(not built yet)').allowUnknownOption().action(() => {
    throw new RefitError('E_NOT_BUILT', 'refit tokenize is not built yet', { exitCode: 1 });
  });
}
