// Probes of the command line itself: an unknown command and an unreadable config are one line, exit 2.
import { join } from 'node:path';
import type { Probe } from './types.ts';

export const PROBES: Probe[] = [
  {
    item: 'cli',
    did: '`refit train -c` a config file that does not exist',
    expected: 'exit 2, one line naming the file, no stack',
    async run(ctx) {
      const r = await ctx.refit(['train', '-c', join(ctx.tmp, 'nope.yaml'), '--out', join(ctx.tmp, 'run')]);
      const lines = r.stderr.trim().split('\n');
      const ok = r.status === 2 && lines[0].includes('nope.yaml') && !r.stderr.includes('    at ');
      return { ok, happened: `exit ${r.status}: ${lines[0]}` };
    },
  },
];
