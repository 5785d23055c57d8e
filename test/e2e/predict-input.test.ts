// `refit predict --input` and offsets through the built binary, the real worker and the real server:
// - every input row gets exactly one output line, in input order; a bad row (broken JSON, `text` not a string, a
//   missing field, a bad offset, invalid UTF-8, an over-long line) gets `line` and `error` in its place; a summary
//   goes to stderr; --strict exits 2 with one line; the input is streamed (a file larger than the heap works);
// - offsets count code points everywhere (Python's str.index): after an emoji or an astral CJK character, the same
//   item gives the same answer from --text, an --input JSONL row, a DeepKE CSV and POST /v1/predict.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, NO_CLI, cachedTinyRun } from '../web/tiny-run.ts';
import { SCORE_TOLERANCE, assertClose } from '../numerics.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-predict-input-'));
const env: Record<string, string | undefined> = { ...process.env, REFIT_LOG: join(dir, 'cli.log') };
delete env.REFIT_INJECT_OOM;
delete env.REFIT_INJECT_CRASH;

function refit(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: dir, env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 1 << 28 },
      (err, stdout, stderr) => {
        done({ status: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}
const file = (name: string, text: string | Buffer) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const rows = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, any>);

const GOOD = { text: 'Maya Okafor was born in Porto.', head: 'Maya Okafor', tail: 'Porto' };
// Code points before the entity: an emoji and an astral CJK character (U+20000) are 1 each, 2 UTF-16 units each.
const ASTRAL = "😀𠀀 Maya Okafor met Porto in Maya Okafor's Porto.";
const cp = (s: string, utf16: number) => [...s.slice(0, utf16)].length; // the code-point offset Python's str.index gives
const SECOND_HEAD = ASTRAL.lastIndexOf('Maya Okafor'); // UTF-16 index of the second occurrence

describe('refit predict --input: one line per row, bad rows in place', { skip: NO_CLI }, () => {
  let run: string;
  before(() => {
    run = cachedTinyRun();
  });

  const mixed = [
    JSON.stringify(GOOD), //                                         line 1: good
    '{"text": "Maya Okafor was born in Porto.", "head": ', //         line 2: broken JSON
    JSON.stringify({ text: 42, head: 'a', tail: 'b' }), //           line 3: text not a string
    '', //                                                            line 4: blank, not a row
    JSON.stringify({ text: GOOD.text, tail: 'Porto' }), //            line 5: head missing
    JSON.stringify({ ...GOOD, head_offset: -1 }), //                  line 6: negative offset
    JSON.stringify({ ...GOOD, tail_offset: 1.5 }), //                 line 7: fractional offset
    JSON.stringify({ ...GOOD, head_offset: 3 }), //                   line 8: offset not at the head
    '[1, 2, 3]', //                                                   line 9: not an object
    JSON.stringify({ ...GOOD, head: 'Nobody' }), //                   line 10: entity not in the text
    JSON.stringify({ ...GOOD, head_offset: 0, tail_offset: 24 }), // line 11: good, with offsets
  ];

  test('a file mixing good and bad rows: every row one line, in order, bad ones with line and reason; a stderr summary; exit 0', async () => {
    const input = file(
      'mixed.jsonl',
      Buffer.concat([
        Buffer.from(mixed.join('\n') + '\n'),
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), // line 12: invalid UTF-8
        Buffer.from(`{"text": "${'x'.repeat((1 << 20) + 10)}", "head": "x", "tail": "x"}\n`), // line 13: longer than 1 MiB
        Buffer.from(JSON.stringify(GOOD)),
      ]),
    ); // line 14: good, no final newline
    // with the same good row alone (and --strict, which a file without bad rows passes) at the same time
    const [r, alone] = await Promise.all([
      refit(['predict', '--run', run, '--input', input, '--top-k', '2']),
      refit([
        'predict',
        '--run',
        run,
        '--input',
        file('good.jsonl', JSON.stringify(GOOD) + '\n'),
        '--top-k',
        '2',
        '--strict',
      ]),
    ]);
    assert.equal(r.status, 0, r.stderr);
    const out = rows(r.stdout);
    assert.deepEqual(
      out.map((o) => o.id),
      [...Array(13).keys()],
      'ids count rows in input order',
    );
    assert.deepEqual(
      out.map((o) => o.line),
      [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
      'the blank line 4 is not a row',
    );
    const errors = Object.fromEntries(out.filter((o) => o.error).map((o) => [o.line, o.error]));
    assert.deepEqual(Object.keys(errors).map(Number), [2, 3, 5, 6, 7, 8, 9, 10, 12, 13]);
    assert.match(errors[2], /^broken JSON at column \d+: /);
    assert.equal(errors[3], "field 'text' must be a string, got a number");
    assert.equal(errors[5], "field 'head' is missing");
    assert.equal(errors[6], "field 'head_offset' must be a whole number ≥ 0 (a code-point offset), got -1");
    assert.equal(errors[7], "field 'tail_offset' must be a whole number ≥ 0 (a code-point offset), got 1.5");
    assert.equal(errors[8], "head 'Maya Okafor' is not at head_offset 3");
    assert.match(errors[9], /^expected a JSON object/);
    assert.equal(errors[10], "head 'Nobody' is not in the text");
    assert.match(errors[12], /invalid UTF-8/);
    assert.match(errors[13], /longer than 1 MiB/);
    for (const o of out.filter((x) => !x.error)) {
      assert.deepEqual(Object.keys(o), ['id', 'line', 'head', 'tail', 'relation', 'score', 'top']);
      assert.equal(o.top.length, 2);
    }
    assert.deepEqual(
      Object.keys(out[1]),
      ['id', 'line', 'head', 'tail', 'error'],
      "a bad row has the good rows' shape with error instead of the answer",
    );
    assert.equal(
      r.stderr,
      `refit: warning: ${input}: 10 of 13 rows were bad (lines 2, 3, 5, 6, 7, 8, 9, 10, 12, 13); each has an error line in the output\n`,
    );
    // the good row alone gets the same answer (bad rows do not disturb their neighbours); no bad rows: exit 0, silent.
    // Alone it is a batch of one, in the file it shares a batch: the BLAS may sum in another order (SCORE_TOLERANCE).
    assert.equal(alone.status, 0, alone.stderr);
    assert.equal(alone.stderr, '');
    assert.equal(rows(alone.stdout)[0].relation, out[0].relation);
    assertClose(
      rows(alone.stdout)[0].score,
      out[0].score,
      SCORE_TOLERANCE,
      'the good row alone vs in the file',
    );
  });

  test('--strict: any bad row exits 2 with one line naming the first; every row still gets its line', async () => {
    const input = file('strict.jsonl', mixed.join('\n') + '\n');
    const r = await refit(['predict', '--run', run, '--input', input, '--strict']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout.trim().split('\n').length, 10);
    assert.match(
      r.stderr,
      new RegExp(
        `^refit: ${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: broken JSON at column \\d+: .* \\(--strict: 8 of 10 rows were bad: lines 2, 3, 5, 6, 7, 8, 9, 10; each has an error line in the output\\)\\n$`,
      ),
    );
  });

  test('a labelled data file: each record one line at its position, a bad record with its line and reason', async () => {
    const csv = file(
      'labelled.csv',
      'sentence,relation,head,head_offset,tail,tail_offset\n' +
        `${GOOD.text},born_in,Maya Okafor,0,Porto,24\n` +
        `${GOOD.text},born_in,Nobody,0,Porto,24\n` +
        `"${ASTRAL}",born_in,Maya Okafor,${cp(ASTRAL, SECOND_HEAD)},Porto,${cp(ASTRAL, ASTRAL.indexOf('Porto'))}\n`,
    );
    const r = await refit(['predict', '--run', run, '--input', csv]);
    assert.equal(r.status, 0, r.stderr);
    const out = rows(r.stdout);
    assert.deepEqual(
      out.map((o) => [o.id, o.line, 'error' in o]),
      [
        [0, 2, false],
        [1, 3, true],
        [2, 4, false],
      ],
    );
    assert.equal(out[1].error, "head 'Nobody' does not occur in the sentence");
  });

  test('the input is streamed: 30 MB of rows under a 24 MB heap, every row answered', async () => {
    const path = join(dir, 'big.jsonl');
    const fd = openSync(path, 'w');
    const bad = JSON.stringify({ text: 7, head: 'x'.repeat(180), tail: 'y' }) + '\n';
    writeSync(fd, JSON.stringify(GOOD) + '\n');
    const block = bad.repeat(1000);
    for (let i = 0; i < 150; i++) writeSync(fd, block);
    writeSync(fd, JSON.stringify(GOOD) + '\n');
    closeSync(fd);
    const out = join(dir, 'big.out.jsonl');
    const r = await refit(['predict', '--run', run, '--input', path, '--top-k', '1', '--output', out], {
      NODE_OPTIONS: '--max-old-space-size=24',
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 150_002);
    assert.equal(JSON.parse(lines[150_001]).line, 150_002);
    assert.ok(JSON.parse(lines[150_001]).relation && JSON.parse(lines[0]).relation);
    // A run over 10 s also writes plain progress lines ('refit predict: N/≈M rows, …') when stderr is no terminal.
    const said = r.stderr
      .split('\n')
      .filter((l) => !l.startsWith('refit predict: '))
      .join('\n');
    assert.equal(
      said,
      `refit: warning: ${path}: 150000 of 150002 rows were bad (lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …); each has an error line in the output\n`,
    );
  });
});

describe(
  'offsets count code points everywhere (emoji and astral CJK before the entity)',
  { skip: NO_CLI },
  () => {
    let run: string;
    let server: ChildProcess | undefined;
    let url = '';
    before(async () => {
      run = cachedTinyRun();
      server = spawn(process.execPath, [CLI, 'serve', '--run', run, '--port', '0'], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      url = await new Promise<string>((resolve, reject) => {
        let seen = '';
        let err = '';
        server!.stdout!.on('data', (d) => {
          seen += d;
          const m = /http:\/\/[\d.]+:\d+/.exec(seen);
          if (m) resolve(m[0]);
        });
        server!.stderr!.on('data', (d) => {
          err += d;
        });
        server!.on('exit', (code) => reject(new Error(`refit serve exited ${code}: ${err.trim()}`)));
      });
    });
    after(() => {
      server?.kill('SIGTERM');
    });

    const post = async (body: unknown) => {
      const r = await fetch(`${url}/v1/predict?top_k=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, json: (await r.json()) as Record<string, any> };
    };
    const headAt = cp(ASTRAL, SECOND_HEAD); // the second occurrence, in code points
    const tailAt = cp(ASTRAL, ASTRAL.indexOf('Porto'));
    const utf16Head = SECOND_HEAD; // what a JavaScript client would count
    const UTF16_WHY = `head 'Maya Okafor' is not at head_offset ${utf16Head} (offsets count code points, as Python's str.index: it is at ${headAt})`;

    test('code-point offsets pick the occurrence they name, the same answer from --text, --input, a DeepKE CSV and the API', async () => {
      // what Python says: ASTRAL.index('Maya Okafor', 10) == 28, ASTRAL.index('Porto') == 19; JavaScript counts 2 more
      assert.deepEqual([headAt, tailAt, utf16Head], [28, 19, 30]);
      const item = {
        text: ASTRAL,
        head: 'Maya Okafor',
        tail: 'Porto',
        head_offset: headAt,
        tail_offset: tailAt,
      };
      // a UTF-16 offset (what JavaScript counts) in the same --input file is that row's error, with the fix named
      const utf16Row = { ...item, head_offset: utf16Head };
      const [text, jsonl, csv] = await Promise.all([
        refit([
          'predict',
          '--run',
          run,
          '--text',
          ASTRAL,
          '--head',
          'Maya Okafor',
          '--tail',
          'Porto',
          '--head-offset',
          String(headAt),
          '--tail-offset',
          String(tailAt),
          '--top-k',
          '1',
        ]),
        refit([
          'predict',
          '--run',
          run,
          '--input',
          file('astral.jsonl', `${JSON.stringify(item)}\n${JSON.stringify(utf16Row)}\n`),
          '--top-k',
          '1',
        ]),
        refit([
          'predict',
          '--run',
          run,
          '--top-k',
          '1',
          '--input',
          file(
            'astral.csv',
            `sentence,relation,head,head_offset,tail,tail_offset\n"${ASTRAL}",born_in,Maya Okafor,${headAt},Porto,${tailAt}\n`,
          ),
        ]),
      ]);
      assert.equal(text.status, 0, text.stderr);
      const viaText = rows(text.stdout)[0];
      assert.equal(viaText.error, undefined);
      const [viaInput, utf16InInput] = rows(jsonl.stdout);
      assert.equal(utf16InInput.error, UTF16_WHY);
      const viaCsv = rows(csv.stdout)[0];
      const api = await post(item);
      assert.equal(api.status, 200, JSON.stringify(api.json));
      for (const [name, p] of [
        ['--input', viaInput],
        ['DeepKE CSV', viaCsv],
        ['POST /v1/predict', api.json],
      ] as const) {
        assert.equal(p.error, undefined, `${name}: ${p.error}`);
        // the same item through another path, maybe in another batch or thread count: equal up to fp32 rounding
        assertClose(p.score, viaText.score, SCORE_TOLERANCE, `${name} reads the offsets as --text does`);
        assert.equal(p.relation, viaText.relation);
      }
      // the first occurrence is another mention: a different input to the model
      const first = await post({ ...item, head_offset: cp(ASTRAL, ASTRAL.indexOf('Maya Okafor')) });
      assert.equal(first.status, 200);
      assert.ok(
        Math.abs(first.json.score - viaText.score) > SCORE_TOLERANCE,
        `the offset chooses the occurrence: ${first.json.score} vs ${viaText.score}`,
      );
    });

    test('a UTF-16 offset (what JavaScript counts) is refused with the code-point offset named, by the CLI and the API', async () => {
      const why = UTF16_WHY;
      const args = [
        'predict',
        '--run',
        run,
        '--text',
        ASTRAL,
        '--head',
        'Maya Okafor',
        '--tail',
        'Porto',
        '--head-offset',
        String(utf16Head),
      ];
      const [text, strict] = await Promise.all([refit(args), refit([...args, '--strict'])]);
      assert.equal(text.status, 0);
      assert.equal(rows(text.stdout)[0].error, why);
      assert.equal(text.stderr, `refit: warning: ${why}\n`);
      assert.equal(strict.status, 2);
      assert.equal(strict.stderr, `refit: ${why}\n`);
      const api = await post({ text: ASTRAL, head: 'Maya Okafor', tail: 'Porto', head_offset: utf16Head });
      assert.equal(api.status, 400);
      assert.equal(api.json.error, why);
      const list = await post([
        { text: ASTRAL, head: 'Maya Okafor', tail: 'Porto', head_offset: utf16Head },
        { text: ASTRAL, head: 'Maya Okafor', tail: 'Porto', head_offset: headAt },
      ]);
      assert.equal(list.status, 200);
      assert.equal(list.json[0].error, why);
      assert.equal(list.json[1].error, undefined);
    });

    test('the API schema says offsets count code points', async () => {
      const { OFFSET_DESCRIPTION, predictBodySchema } = await import('../../src/serve/schema.ts');
      assert.match(OFFSET_DESCRIPTION, /code points \(Python's str\.index\)/);
      const item = (predictBodySchema() as { else: { properties: Record<string, { description?: string }> } })
        .else;
      assert.equal(item.properties.head_offset.description, OFFSET_DESCRIPTION);
      assert.equal(item.properties.tail_offset.description, OFFSET_DESCRIPTION);
    });
  },
);
