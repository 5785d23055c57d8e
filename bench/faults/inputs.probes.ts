// Probes of hostile and unusual input (issue 10, items 4, 10, 13, 14, 15, 16): offsets after emoji and astral CJK
// through the CLI and the HTTP API, a prediction file with bad rows (and --strict, and one larger than the heap),
// config keys named like Object.prototype members, a 2 MB config, a DeepKE header missing half a column pair, a
// relation list with a gap, tqdm's bar with "Killed" on its line, and the float tolerance of the backward-OOM check.
// Everything runs the built binary, the real worker and the real server.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Probe, ProbeContext } from './types.ts';

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';
const oneLine = (s: string) => s.trim() !== '' && s.trim().split('\n').length === 1;
const clean = (s: string) => !s.includes('internal error') && !s.includes('    at ');
const rows = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
const write = (ctx: ProbeContext, name: string, text: string | Buffer) => {
  writeFileSync(join(ctx.tmp, name), text);
  return join(ctx.tmp, name);
};

// Python: T.index('Maya Okafor', 10) == 28 (the second one), T.index('Porto') == 19; JavaScript counts 30 and 21.
const T = "😀𠀀 Maya Okafor met Porto in Maya Okafor's Porto.";
const HEAD_CP = 28;
const TAIL_CP = 19;
const HEAD_UTF16 = T.lastIndexOf('Maya Okafor');

/** Starts `refit serve` on the shared tiny run and returns its URL and a stop function. */
async function serve(ctx: ProbeContext): Promise<{ url: string; stop: () => void }> {
  const child = ctx.spawnRefit(['serve', '--run', await ctx.tinyRun(), '--port', '0']);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`refit serve did not start: ${err}`)), 120_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/[\d.]+:\d+/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`refit serve exited ${code}: ${err.trim()}`));
    });
  });
  return { url, stop: () => child.kill('SIGTERM') };
}
const post = async (url: string, body: unknown) => {
  const r = await fetch(`${url}/v1/predict?top_k=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, any> };
};

export const PROBES: Probe[] = [
  {
    item: '4',
    did: '`predict --text` with 😀 and 𠀀 (U+20000) before the entity, code-point offsets (28, 19); the same row as `--input` JSONL and as a DeepKE CSV row',
    expected:
      "no error; the three give the same relation and score (offsets read as Python's str.index everywhere)",
    async run(ctx) {
      const run = await ctx.tinyRun();
      const item = {
        text: T,
        head: 'Maya Okafor',
        tail: 'Porto',
        head_offset: HEAD_CP,
        tail_offset: TAIL_CP,
      };
      const [a, b, c] = await Promise.all([
        ctx.refit([
          'predict',
          '--run',
          run,
          '--text',
          T,
          '--head',
          'Maya Okafor',
          '--tail',
          'Porto',
          '--head-offset',
          String(HEAD_CP),
          '--tail-offset',
          String(TAIL_CP),
          '--top-k',
          '1',
        ]),
        ctx.refit([
          'predict',
          '--run',
          run,
          '--top-k',
          '1',
          '--input',
          write(ctx, 'a.jsonl', JSON.stringify(item) + '\n'),
        ]),
        ctx.refit([
          'predict',
          '--run',
          run,
          '--top-k',
          '1',
          '--input',
          write(
            ctx,
            'a.csv',
            `sentence,relation,head,head_offset,tail,tail_offset\n"${T}",born_in,Maya Okafor,${HEAD_CP},Porto,${TAIL_CP}\n`,
          ),
        ]),
      ]);
      const [pa, pb, pc] = [a, b, c].map((r) =>
        r.status === 0 ? rows(r.stdout)[0] : { error: `exit ${r.status}: ${firstLine(r.stderr)}` },
      );
      const ok = [pa, pb, pc].every((p) => !p.error && p.score === pa.score && p.relation === pa.relation);
      return {
        ok,
        happened: `--text ${pa.error ?? `${pa.relation} ${pa.score?.toFixed(6)}`}; --input ${pb.error ?? `${pb.relation} ${pb.score?.toFixed(6)}`}; CSV ${pc.error ?? `${pc.relation} ${pc.score?.toFixed(6)}`}`,
      };
    },
  },
  {
    item: '4',
    did: '`predict --text` with the UTF-16 offset a JavaScript client counts (30) for the head after 😀𠀀',
    expected: "that row's error says offsets count code points and names 28; exit 0 (exit 2 with --strict)",
    async run(ctx) {
      const args = [
        'predict',
        '--run',
        await ctx.tinyRun(),
        '--text',
        T,
        '--head',
        'Maya Okafor',
        '--tail',
        'Porto',
        '--head-offset',
        String(HEAD_UTF16),
      ];
      const [r, s] = await Promise.all([ctx.refit(args), ctx.refit([...args, '--strict'])]);
      const err = r.status === 0 ? (rows(r.stdout)[0].error ?? '') : '';
      const ok =
        r.status === 0 &&
        /code points.*it is at 28\)$/.test(err) &&
        s.status === 2 &&
        oneLine(s.stderr) &&
        s.stderr.includes('it is at 28');
      return {
        ok,
        happened: `exit ${r.status}, error: ${err}; --strict: exit ${s.status}: ${firstLine(s.stderr)}`,
      };
    },
  },
  {
    item: '4',
    did: 'POST /v1/predict (real `refit serve`) with the same astral text: code-point offsets, then the UTF-16 offset, then both in one list',
    expected:
      "200 with the CLI's answer; 400 naming code-point offset 28; the list answers item 2 and gives item 1 its error",
    async run(ctx) {
      const run = await ctx.tinyRun();
      const cli = await ctx.refit([
        'predict',
        '--run',
        run,
        '--text',
        T,
        '--head',
        'Maya Okafor',
        '--tail',
        'Porto',
        '--head-offset',
        String(HEAD_CP),
        '--tail-offset',
        String(TAIL_CP),
        '--top-k',
        '1',
      ]);
      const want = rows(cli.stdout)[0];
      const server = await serve(ctx);
      try {
        const good = await post(server.url, {
          text: T,
          head: 'Maya Okafor',
          tail: 'Porto',
          head_offset: HEAD_CP,
          tail_offset: TAIL_CP,
        });
        const bad = await post(server.url, {
          text: T,
          head: 'Maya Okafor',
          tail: 'Porto',
          head_offset: HEAD_UTF16,
        });
        const list = await post(server.url, [
          { text: T, head: 'Maya Okafor', tail: 'Porto', head_offset: HEAD_UTF16 },
          { text: T, head: 'Maya Okafor', tail: 'Porto', head_offset: HEAD_CP },
        ]);
        const ok =
          good.status === 200 &&
          good.json.score === want.score &&
          bad.status === 400 &&
          /it is at 28\)$/.test(bad.json.error ?? '') &&
          list.status === 200 &&
          /it is at 28/.test(list.json[0]?.error ?? '') &&
          list.json[1]?.relation !== undefined;
        return {
          ok,
          happened: `code points: ${good.status} ${good.json.relation} ${good.json.score?.toFixed(6)} (CLI ${want.score?.toFixed(6)}); UTF-16: ${bad.status} ${bad.json.error}; list: ${list.status}, [${list.json.map?.((p: any) => p.error ?? p.relation).join(' | ')}]`,
        };
      } finally {
        server.stop();
      }
    },
  },
  {
    item: '10',
    did: '`predict --input` a JSONL of 8 rows + a blank line: good, broken JSON, `text` a number, no `head`, offset -1, offset not at the entity, a list, good',
    expected:
      'exit 0; 8 output lines in input order, each bad one with its line and reason; one stderr summary naming the bad lines',
    async run(ctx) {
      const good = { text: 'Maya Okafor was born in Porto.', head: 'Maya Okafor', tail: 'Porto' };
      const input = write(
        ctx,
        'rows.jsonl',
        [
          JSON.stringify(good),
          '{"text": "x", "head": ',
          JSON.stringify({ text: 7, head: 'a', tail: 'b' }),
          '',
          JSON.stringify({ text: good.text, tail: 'Porto' }),
          JSON.stringify({ ...good, head_offset: -1 }),
          JSON.stringify({ ...good, head_offset: 3 }),
          '[1]',
          JSON.stringify(good),
        ].join('\n') + '\n',
      );
      const r = await ctx.refit(['predict', '--run', await ctx.tinyRun(), '--input', input]);
      const out = r.status === 0 ? rows(r.stdout) : [];
      const bad = out.filter((o) => o.error).map((o) => o.line);
      const ok =
        r.status === 0 &&
        out.length === 8 &&
        out.every((o, i) => o.id === i) &&
        JSON.stringify(out.map((o) => o.line)) === '[1,2,3,5,6,7,8,9]' &&
        JSON.stringify(bad) === '[2,3,5,6,7,8]' &&
        oneLine(r.stderr) &&
        r.stderr.includes('6 of 8 rows were bad (lines 2, 3, 5, 6, 7, 8)');
      return {
        ok,
        happened: `exit ${r.status}, ${out.length} lines; errors: ${out
          .filter((o) => o.error)
          .map((o) => `${o.line}: ${o.error}`)
          .join('; ')}; stderr: ${firstLine(r.stderr)}`,
      };
    },
  },
  {
    item: '10',
    did: 'the same file with `--strict`',
    expected:
      'exit 2, one stderr line naming the first bad row and the count; every row still has its output line',
    async run(ctx) {
      const input = write(
        ctx,
        'rows.jsonl',
        [
          JSON.stringify({ text: 'Ann met Bob.', head: 'Ann', tail: 'Bob' }),
          '{broken',
          JSON.stringify({ text: ['x'], head: 'a', tail: 'b' }),
        ].join('\n') + '\n',
      );
      const r = await ctx.refit(['predict', '--run', await ctx.tinyRun(), '--input', input, '--strict']);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes(`${input}:2: `) &&
        r.stderr.includes('2 of 3 rows were bad') &&
        rows(r.stdout).length === 3;
      return {
        ok,
        happened: `exit ${r.status}, ${rows(r.stdout).length} output lines; ${firstLine(r.stderr)}`,
      };
    },
  },
  {
    item: '10',
    did: "`predict --input` a 30 MB JSONL (150,002 rows, 2 good) with node's heap capped at 24 MB (NODE_OPTIONS=--max-old-space-size=24)",
    expected: 'exit 0, 150,002 output lines (streamed: the file never sits in memory)',
    async run(ctx) {
      const path = join(ctx.tmp, 'big.jsonl');
      const fd = openSync(path, 'w');
      const good =
        JSON.stringify({ text: 'Maya Okafor was born in Porto.', head: 'Maya Okafor', tail: 'Porto' }) + '\n';
      writeSync(fd, good);
      const block = (JSON.stringify({ text: 7, head: 'x'.repeat(180), tail: 'y' }) + '\n').repeat(1000);
      for (let i = 0; i < 150; i++) writeSync(fd, block);
      writeSync(fd, good);
      closeSync(fd);
      const out = join(ctx.tmp, 'out.jsonl');
      const t0 = Date.now();
      const r = await ctx.refit(['predict', '--run', await ctx.tinyRun(), '--input', path, '--output', out], {
        env: { NODE_OPTIONS: '--max-old-space-size=24' },
      });
      const n = r.status === 0 ? readFileSync(out, 'utf8').trimEnd().split('\n').length : 0;
      return {
        ok: r.status === 0 && n === 150_002,
        happened: `exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${n} lines; ${firstLine(r.stderr)}`,
      };
    },
  },
  {
    item: '13',
    did: '`refit plan` with overrides `__proto__=1`, `constructor=1`, `toString=1`, `hasOwnProperty=1`, `valueOf=1`, `train.constructor=1`',
    expected: 'each: exit 2, one line "unknown config key … (did you mean …?)", no internal error',
    async run(ctx) {
      const names = [
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'train.constructor',
      ];
      const rs = await Promise.all(names.map((k) => ctx.refit(['plan', 'model.preset=bert-tiny', `${k}=1`])));
      const ok = rs.every(
        (r, i) =>
          r.status === 2 &&
          oneLine(r.stderr) &&
          clean(r.stderr) &&
          r.stderr.startsWith(`refit: unknown config key '${names[i]}' (did you mean '`),
      );
      return {
        ok,
        happened: rs
          .map((r, i) => `${names[i]}: exit ${r.status} ${firstLine(r.stderr).replace(/^refit: /, '')}`)
          .join('; '),
      };
    },
  },
  {
    item: '13',
    did: '`refit plan -c` YAML files with a top-level `__proto__:` key, a `constructor:` section, and `toString:` inside `train:`',
    expected: 'each: exit 2, one FILE:LINE line naming the unknown key or section',
    async run(ctx) {
      const files = [
        write(ctx, 'a.yaml', 'model:\n  preset: bert-tiny\n__proto__:\n  polluted: 1\n'),
        write(ctx, 'b.yaml', 'model:\n  preset: bert-tiny\nconstructor:\n  epochs: 1\n'),
        write(ctx, 'c.yaml', 'model:\n  preset: bert-tiny\ntrain:\n  toString: 1\n'),
      ];
      const rs = await Promise.all(files.map((f) => ctx.refit(['plan', '-c', f])));
      const ok = rs.every(
        (r, i) =>
          r.status === 2 &&
          oneLine(r.stderr) &&
          clean(r.stderr) &&
          r.stderr.startsWith(`refit: ${files[i]}:${i === 2 ? 4 : 3}: unknown config `),
      );
      return { ok, happened: rs.map((r) => `exit ${r.status} ${firstLine(r.stderr)}`).join('; ') };
    },
  },
  {
    item: '13',
    did: '`refit train -c` a 2 MB YAML config (valid, mostly comments); `refit data check --format constructor`',
    expected:
      'exit 2 at once with one line naming the file and the 1 MiB limit; the format is an unknown one',
    async run(ctx) {
      const big = write(
        ctx,
        'big.yaml',
        `train:\n  epochs: 1\n${'# padding padding padding padding padding padding padding\n'.repeat(36_000)}`,
      );
      const t0 = Date.now();
      const r = await ctx.refit(['train', '-c', big, '--out', join(ctx.tmp, 'run')]);
      const ms = Date.now() - t0;
      const data = ctx
        .tinyTrainArgs()
        .find((a) => a.startsWith('data.train='))!
        .slice('data.train='.length);
      const f = await ctx.refit(['data', 'check', '--format', 'constructor', data]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.includes(`${big}: config file is 2.`) &&
        r.stderr.includes('1 MiB') &&
        ms < 10_000 &&
        f.status === 2 &&
        oneLine(f.stderr) &&
        clean(f.stderr) &&
        f.stderr.includes("'constructor' is not a known format");
      return {
        ok,
        happened: `exit ${r.status} in ${ms} ms: ${firstLine(r.stderr)}; --format constructor: exit ${f.status}: ${firstLine(f.stderr)}`,
      };
    },
  },
  {
    item: '14',
    did: '`refit data check` DeepKE CSVs whose header has head_offset without tail_offset, and tail_type without head_type',
    expected: 'exit 2, one PATH:1 line naming the missing column',
    async run(ctx) {
      const a = write(
        ctx,
        'offsets.csv',
        'sentence,relation,head,head_offset,tail\n张三出生于北京,出生地,张三,0,北京\n',
      );
      const b = write(
        ctx,
        'types.csv',
        'sentence,relation,head,tail,tail_type\n张三出生于北京,出生地,张三,北京,地点\n',
      );
      const [ra, rb] = await Promise.all([ctx.refit(['data', 'check', a]), ctx.refit(['data', 'check', b])]);
      const ok =
        ra.status === 2 &&
        ra.stderr ===
          `refit: ${a}:1: missing column 'tail_offset' (the header has 'head_offset'; give both offset columns, or neither to take each entity's first occurrence)\n` &&
        rb.status === 2 &&
        oneLine(rb.stderr) &&
        rb.stderr.startsWith(`refit: ${b}:1: missing column 'head_type'`);
      return {
        ok,
        happened: `exit ${ra.status}: ${firstLine(ra.stderr)}; exit ${rb.status}: ${firstLine(rb.stderr)}`,
      };
    },
  },
  {
    item: '14',
    did: '`refit data check` a folder whose relation.csv has indices 0, 1, 2, 4 (line 5 jumps over 3), and a rel2id.json with 0, 2',
    expected: 'exit 2, one line naming the file and the line where the gap is',
    async run(ctx) {
      const d = join(ctx.tmp, 'gap');
      mkdirSync(d);
      writeFileSync(
        join(d, 'relation.csv'),
        'head_type,tail_type,relation,index\nNone,None,None,0\n人物,地点,出生地,1\n人物,地点,祖籍,2\n网络小说,网站,连载网站,4\n',
      );
      writeFileSync(
        join(d, 'train.csv'),
        'sentence,relation,head,head_offset,tail,tail_offset\n张三出生于北京,出生地,张三,0,北京,5\n',
      );
      const j = join(ctx.tmp, 'gapj');
      mkdirSync(j);
      writeFileSync(join(j, 'rel2id.json'), '{\n  "None": 0,\n  "出生地": 2\n}\n');
      writeFileSync(
        join(j, 'train.csv'),
        'sentence,relation,head,head_offset,tail,tail_offset\n张三出生于北京,出生地,张三,0,北京,5\n',
      );
      const [r, rj] = await Promise.all([ctx.refit(['data', 'check', d]), ctx.refit(['data', 'check', j])]);
      const ok =
        r.status === 2 &&
        oneLine(r.stderr) &&
        r.stderr.startsWith(
          `refit: ${join(d, 'relation.csv')}:5: index 4 of '连载网站' leaves a gap: no relation has index 3`,
        ) &&
        rj.status === 2 &&
        oneLine(rj.stderr) &&
        rj.stderr.startsWith(
          `refit: ${join(j, 'rel2id.json')}:3: index 2 of '出生地' leaves a gap: no relation has index 1`,
        );
      return {
        ok,
        happened: `exit ${r.status}: ${firstLine(r.stderr)}; exit ${rj.status}: ${firstLine(rj.stderr)}`,
      };
    },
  },
  {
    item: '15',
    did: "`refit doctor --json` a log whose last line is `Epoch 1:  45%|████▍     | 410/912 [02:11<02:41, 3.11it/s]Killed` (as a terminal shows it), from a file and from stdin; and the raw capture with tqdm's \\r redraws",
    expected: 'kind host-oom, cause host-memory, each time',
    async run(ctx) {
      const copied = write(
        ctx,
        'train.log',
        'Loading data: 100%|██████████| 5210/5210 [00:03<00:00, 1571.22it/s]\nEpoch 1:  45%|████▍     | 410/912 [02:11<02:41, 3.11it/s]Killed\n',
      );
      const rawText =
        'Epoch 1:   0%|          | 0/912 [00:00<?, ?it/s]\rEpoch 1:  45%|████▍     | 410/912 [02:11<02:41, 3.11it/s, loss=0.41]Killed\n';
      const raw = write(ctx, 'raw.log', rawText);
      const [a, b, c] = await Promise.all([
        ctx.refit(['doctor', copied, '--json']),
        ctx.refit(['doctor', '-', '--json'], { input: readFileSync(copied, 'utf8') }),
        ctx.refit(['doctor', raw, '--json']),
      ]);
      const got = [a, b, c].map((r) =>
        r.status === 0 ? JSON.parse(r.stdout) : { kind: `exit ${r.status}`, diagnosis: {} },
      );
      const ok = got.every((g) => g.kind === 'host-oom' && g.diagnosis?.cause === 'host-memory');
      return {
        ok,
        happened: got
          .map((g, i) => `${['file', 'stdin', 'raw \\r'][i]}: ${g.kind}, ${g.diagnosis?.cause}`)
          .join('; '),
      };
    },
  },
  {
    item: '16',
    did: "the worker's backward-OOM check (worker/python/tests/check_levers.py, real Trainer) run 5 times",
    expected:
      'every run ok: the update after an OOM mid-backward matches the clean one within the fp32 reduction-order bound (relative), and dropping the kept micro-batch is caught',
    async run(ctx) {
      const { makeExamples, testPython, writeDataset } = await import('../../test/worker/helpers.ts');
      const python = await testPython();
      if (!python) return { ok: false, happened: 'no python with torch' };
      const ds = writeDataset(join(ctx.tmp, 'train.refit-ds'), makeExamples(8));
      const seen: string[] = [];
      let ok = true;
      for (let i = 0; i < 5; i++) {
        const r = spawnSync(python, [join(ctx.root, 'worker/python/tests/check_levers.py'), ds], {
          env: { ...process.env, PYTHONPATH: join(ctx.root, 'worker/python') },
          encoding: 'utf8',
        });
        const out = JSON.parse(r.stdout || '{"ok":false}') as {
          ok: boolean;
          backward_oom?: { relative_update_diff: number; tolerance: number; lost_micro_batch_diff: number };
        };
        ok &&= out.ok;
        const b = out.backward_oom;
        seen.push(b ? `${b.relative_update_diff.toExponential(2)}` : 'failed');
        if (i === 4 && b)
          seen.push(
            `(bound ${b.tolerance.toExponential(2)}; a dropped micro-batch gives ${b.lost_micro_batch_diff.toFixed(2)})`,
          );
      }
      return { ok, happened: `${ok ? 'all ok' : 'NOT ok'}: relative update difference ${seen.join(', ')}` };
    },
  },
];
