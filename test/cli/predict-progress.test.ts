// The progress of `refit predict --input`: a bar with rows/s and ETA redrawn in place on a terminal, plain lines
// every 10 s otherwise, and the line count that gives the ETA its total (a fake clock; no model needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countLines, predictProgress } from '../../src/cli/predict-progress.ts';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return {
    isTTY,
    chunks,
    write(s: string) {
      chunks.push(s);
      return true;
    },
  } as never as { isTTY: boolean; chunks: string[]; write(s: string): boolean };
}

test('not a terminal: one plain line per 10 s with rows, rows/s and ETA; nothing for a quick run', () => {
  let t = 0;
  const err = sink(false);
  const p = predictProgress({ stderr: err as never, total: 1000, now: () => t });
  t = 5_000;
  p.rows(100);
  assert.deepEqual(err.chunks, []);
  t = 10_000;
  p.rows(100);
  assert.deepEqual(err.chunks, ['refit predict: 200/≈1,000 rows, 20 rows/s, ETA 0:40\n']);
  p.done();
  assert.equal(err.chunks.length, 1);
});

test('a terminal: the bar is redrawn in place, and ends with a newline', () => {
  let t = 0;
  const err = sink(true);
  const p = predictProgress({ stderr: err as never, total: 400, now: () => t });
  t = 1_000;
  p.rows(100);
  assert.equal(
    err.chunks[0],
    `\r\x1b[2K[${'='.repeat(6).padEnd(24)}] 25% 100/≈400 rows  100 rows/s  ETA 0:03  0:01 elapsed`,
  );
  t = 4_000;
  p.rows(300);
  p.done();
  assert.match(err.chunks.at(-1)!, /^\r\x1b\[2K\[=+\] 100% 400\/≈400 rows {2}100 rows\/s {2}0:04 elapsed\n$/);
});

test('countLines counts lines with or without a final newline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-progress-'));
  writeFileSync(join(dir, 'a'), 'x\ny\nz\n');
  writeFileSync(join(dir, 'b'), 'x\ny\nz');
  assert.equal(await countLines(join(dir, 'a')), 3);
  assert.equal(await countLines(join(dir, 'b')), 3);
});
