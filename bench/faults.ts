// The fault suite: runs every probe in bench/faults/*.probes.ts against the real binary, worker and server,
// and writes one row per probe (what was done, what was expected, what happened) to bench/results/faults.md.
// Usage: npm run build && node --import tsx bench/faults.ts [--only WORD] [--out bench/results/faults.md]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { probeContexts } from './faults/context.ts';
import type { Probe, ProbeResult } from './faults/types.ts';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const { values: opts } = parseArgs({
  options: { only: { type: 'string' }, out: { type: 'string', default: 'bench/results/faults.md' } },
});
const base = mkdtempSync(join(tmpdir(), 'refit-faults-'));

const context = probeContexts({ root: ROOT, base });

const cell = (s: string) =>
  s
    .split(base)
    .join('<tmp>')
    .split(ROOT)
    .join('<repo>')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 400);

async function main(): Promise<number> {
  if (!existsSync(join(ROOT, 'dist/refit.mjs')))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  const files = readdirSync(join(ROOT, 'bench/faults'))
    .filter((f) => f.endsWith('.probes.ts'))
    .sort();
  const rows: string[] = [];
  let failed = 0;
  for (const f of files) {
    const { PROBES } = (await import(`./faults/${f}`)) as { PROBES: Probe[] };
    for (const p of PROBES) {
      if (opts.only && !`${f} ${p.item} ${p.did}`.includes(opts.only)) continue;
      const t0 = Date.now();
      let r: ProbeResult;
      try {
        r = await p.run(context());
      } catch (e) {
        r = { ok: false, happened: `probe failed: ${(e as Error).message}` };
      }
      if (!r.ok) failed++;
      const s = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(
        `${r.ok ? 'ok  ' : 'FAIL'} ${f.replace('.probes.ts', '')} ${p.item}: ${p.did} (${s} s)${r.ok ? '' : ` — ${r.happened}`}`,
      );
      rows.push(
        `| ${cell(f.replace('.probes.ts', ''))} | ${cell(p.item)} | ${cell(p.did)} | ${cell(p.expected)} | ${cell(r.happened)} | ${r.ok ? 'ok' : '**FAIL**'} |`,
      );
    }
  }
  const cmd = `node --import tsx bench/faults.ts${opts.only ? ` --only ${opts.only}` : ''}`;
  const head = [
    `# Fault probes (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, CPU)`,
    '',
    `Command: \`npm run build && ${cmd}\``,
    '',
    `${rows.length} probes, ${rows.length - failed} as expected, ${failed} not.`,
    '',
    '| area | item | what was done | expected | what happened | |',
    '|---|---|---|---|---|---|',
  ];
  writeFileSync(resolve(ROOT, opts.out!), [...head, ...rows, ''].join('\n'));
  return failed ? 1 : 0;
}

process.exitCode = await main();
