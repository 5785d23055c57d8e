// The fault suite: runs every probe in bench/faults/*.probes.ts against the real binary, worker and server,
// and writes one row per probe (what was done, what was expected, what happened) to bench/results/faults.md.
// Usage: npm run build && node --import tsx bench/faults.ts [--only WORD] [--out bench/results/faults.md]
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../src/demo/index.ts';
import type { Probe, ProbeContext, ProbeResult } from './faults/types.ts';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const { values: opts } = parseArgs({
  options: { only: { type: 'string' }, out: { type: 'string', default: 'bench/results/faults.md' } },
});
const base = mkdtempSync(join(tmpdir(), 'refit-faults-'));
const assets = existsSync(join(ROOT, '../shared/assets')) ? join(ROOT, '../shared/assets') : undefined;

function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, REFIT_CACHE: join(base, 'cache') };
  for (const k of ['REFIT_INJECT_OOM', 'REFIT_INJECT_CRASH', 'REFIT_INJECT_STATE']) delete env[k];
  return { ...env, ...extra };
}

let dataDir: string | undefined;
function tinyTrainArgs(): string[] {
  if (!dataDir) {
    dataDir = join(base, 'data');
    execFileSync('mkdir', ['-p', dataDir]);
    const ds = generateDemoDataset({ seed: 5, train: 64, valid: 16, test: 24 });
    writeFileSync(join(dataDir, 'train.csv'), toDeepkeCsv(ds.train));
    writeFileSync(join(dataDir, 'valid.csv'), toDeepkeCsv(ds.valid));
    writeFileSync(join(dataDir, 'test.csv'), toDeepkeCsv(ds.test));
    writeFileSync(join(dataDir, 'relation.csv'), toRelationCsv(ds.relations));
    writeFileSync(join(dataDir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
  }
  const d = dataDir;
  return [
    `data.train=${d}/train.csv`,
    `data.valid=${d}/valid.csv`,
    `data.test=${d}/test.csv`,
    `data.relations=${d}/relation.csv`,
    `model.vocab=${d}/vocab.txt`,
    'model.preset=bert-tiny',
    'train.epochs=1',
    'train.batch_size=16',
    'memory.max_seq_len=64',
    'device=cpu',
    '--progress',
    'plain',
    '--threads',
    '1',
  ];
}

function refit(
  args: string[],
  o: { env?: Record<string, string | undefined>; timeoutMs?: number; input?: string; cwd?: string } = {},
) {
  return new Promise<{ status: number; stdout: string; stderr: string }>((done) => {
    const child = execFile(
      process.execPath,
      [join(ROOT, 'bin/refit.mjs'), ...args],
      {
        cwd: o.cwd ?? ROOT,
        env: cleanEnv(o.env),
        encoding: 'utf8',
        maxBuffer: 1 << 26,
        timeout: o.timeoutMs ?? 300_000,
      },
      (err, stdout, stderr) => {
        const status = err ? (err.killed ? 124 : typeof err.code === 'number' ? err.code : 1) : 0;
        done({ status, stdout, stderr });
      },
    );
    if (o.input !== undefined) child.stdin!.end(o.input);
    else child.stdin!.end();
  });
}

let tiny: Promise<string> | undefined;
function tinyRun(): Promise<string> {
  tiny ??= (async () => {
    const out = join(base, 'tiny-run');
    const r = await refit(['train', ...tinyTrainArgs(), '--out', out]);
    if (r.status !== 0)
      throw new Error(`training the shared tiny run failed: ${r.stderr.trim().split('\n').pop()}`);
    return out;
  })();
  return tiny;
}

let n = 0;
function context(): ProbeContext {
  const tmp = join(base, `probe-${++n}`);
  execFileSync('mkdir', ['-p', tmp]);
  return {
    tmp,
    root: ROOT,
    assets,
    refit,
    tinyTrainArgs,
    tinyRun,
    spawnRefit: (args, o = {}) =>
      spawn(process.execPath, [join(ROOT, 'bin/refit.mjs'), ...args], {
        cwd: o.cwd ?? ROOT,
        env: cleanEnv(o.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
  };
}

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
