// `refit predict --run NER_RUN --re-run RE_RUN`: raw text → {text, entities, triples} on real runs (trained here,
// tiny, learnt by heart), both engines giving the same spans and triples; --input FILE and - (JSON lines and text
// lines, a bad line answered in place); bad runs or options are one line, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { runInProcess } from './in-process.ts';
import { runEnv } from '../run/helpers.ts';
import { NO_SHARED, trainExtractRuns, type ExtractRuns } from '../infer/extract-runs.ts';

const env = runEnv() as Record<string, string>;
const base = mkdtempSync(join(tmpdir(), 'refit-extract-cli-'));
let runs: Promise<ExtractRuns> | undefined;
const trained = () => (runs ??= trainExtractRuns(join(base, 'runs'), env));
const codePoints = (s: string, start: number, end: number) => [...s].slice(start, end).join('');

/** The JSON lines of a successful `refit predict` (exit 0). */
async function extract(args: string[]): Promise<Array<Record<string, any>>> {
  const r = await runInProcess(['predict', ...args, '--threads', '1'], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
}

test(
  '--text: entities and typed triples with code-point offsets; torch and onnx agree',
  { skip: NO_SHARED },
  async () => {
    const { ner, re, texts } = await trained();
    const text = texts[0];
    const [torch] = await extract(['--run', ner, '--re-run', re, '--engine', 'torch', '--text', text]);
    const [onnx] = await extract(['--run', ner, '--re-run', re, '--engine', 'onnx', '--text', text]);
    assert.equal(torch.text, text);
    assert.ok(torch.entities.length >= 2, JSON.stringify(torch));
    for (const e of torch.entities) assert.equal(codePoints(text, e.start, e.end), e.text);
    assert.ok(torch.triples.length >= 1, JSON.stringify(torch));
    for (const t of torch.triples) {
      assert.ok(
        torch.entities.some(
          (e: any) => e.text === t.head && e.start === t.head_offset && e.type === t.head_type,
        ),
      );
      assert.ok(
        torch.entities.some(
          (e: any) => e.text === t.tail && e.start === t.tail_offset && e.type === t.tail_type,
        ),
      );
      assert.notEqual(t.relation, 'None');
    }
    // the sample's first row: 黄得功 出生地 安徽合肥
    assert.ok(
      torch.triples.some((t: any) => t.head === '黄得功' && t.relation === '出生地' && t.tail === '安徽合肥'),
      JSON.stringify(torch.triples),
    );
    const strip = (x: any) => ({
      entities: x.entities.map((e: any) => ({ ...e, score: undefined })),
      triples: x.triples.map((t: any) => ({ ...t, score: undefined })),
    });
    assert.deepEqual(strip(onnx), strip(torch));
    for (const [i, t] of onnx.triples.entries()) assert.ok(Math.abs(t.score - torch.triples[i].score) < 1e-4);
  },
);

test(
  '--input FILE and -: JSON lines and text lines in order, a bad line answered with its error',
  { skip: NO_SHARED },
  async () => {
    const { ner, re, texts } = await trained();
    const lines = [
      JSON.stringify({ text: texts[0] }),
      '',
      texts[1],
      '{"txt": 1}',
      JSON.stringify({ text: texts[2] }),
    ];
    const file = join(base, 'in.txt');
    writeFileSync(file, lines.join('\n') + '\n');
    const out = await extract(['--run', ner, '--re-run', re, '--engine', 'onnx', '--input', file]);
    assert.deepEqual(
      out.map((o) => [o.id, o.line, o.text ?? null]),
      [
        [0, 1, texts[0]],
        [1, 3, texts[1]],
        [2, 4, null],
        [3, 5, texts[2]],
      ],
    );
    assert.match(out[2].error, /"text" string/);
    assert.ok(Array.isArray(out[1].triples) && Array.isArray(out[3].entities));

    let stdout = '';
    const io = {
      stdout: new Writable({ write: (c, _e, done) => ((stdout += String(c)), done()) }),
      stderr: new Writable({ write: (_c, _e, done) => done() }),
      stdin: Readable.from([lines.join('\n') + '\n']),
    };
    const code = await main(
      ['predict', '--run', ner, '--re-run', re, '--engine', 'onnx', '--input', '-'],
      io,
      env,
    );
    assert.equal(code, 0);
    assert.deepEqual(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      out,
    );
  },
);

test('bad runs and options: one line, exit 2', { skip: NO_SHARED }, async () => {
  const { ner, re } = await trained();
  const cases: Array<[string[], RegExp]> = [
    [['--run', ner, '--re-run', ner, '--text', 'x'], /--re-run .*: an NER run/],
    [['--run', re, '--re-run', re, '--text', 'x'], /--run .*: not an NER run/],
    [['--run', ner, '--re-run', join(base, 'missing'), '--text', 'x'], /missing/],
    [['--run', join(base, 'missing'), '--re-run', re, '--text', 'x'], /missing/],
    [['--run', ner, '--re-run', re], /--text T or --input FILE/],
    [['--run', ner, '--re-run', re, '--input', join(base, 'nope.txt')], /nope\.txt/],
  ];
  for (const [args, line] of cases) {
    const r = await runInProcess(['predict', ...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, line);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
});
