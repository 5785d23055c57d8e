// The run log under a flood: every line cut short, one write bounded in lines, and the file rotated to
// refit.log.1 at its size cap, so hostile requests or a crash loop cannot fill the disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_LOG_LINE_CHARS, MAX_LOG_WRITE_LINES, RunLog, clip, logMaxBytesFromEnv } from '../../src/log.ts';

test('a 1 MB line is cut to MAX_LOG_LINE_CHARS, saying how much was left out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-log-'));
  try {
    const log = new RunLog(join(dir, 'refit.log'));
    log.write(`serve POST /v1/predict -> 400: head '${'x'.repeat(1_000_000)}' is not in the text`);
    const text = readFileSync(join(dir, 'refit.log'), 'utf8');
    assert.ok(text.length < MAX_LOG_LINE_CHARS + 100, `${text.length} characters`);
    assert.match(text, /… \(\d+ more characters\)\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write of 10,000 lines keeps MAX_LOG_WRITE_LINES of them', () => {
  const log = new RunLog();
  log.write(Array.from({ length: 10_000 }, (_, i) => `line ${i}`).join('\n'));
  const lines = log.lastLines(1000);
  assert.equal(lines.length, MAX_LOG_WRITE_LINES);
  assert.equal(lines.at(-1), '… (9901 more lines)');
});

test('the file is rotated to .1 at its cap: both files stay under it, the newest lines are kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-log-'));
  try {
    const path = join(dir, 'refit.log');
    const log = new RunLog(path, { max_bytes: 64 * 1024 });
    for (let i = 0; i < 2000; i++) log.write(`request ${i}: ${'y'.repeat(200)}`); // ~460 KB written
    assert.ok(statSync(path).size <= 64 * 1024);
    assert.ok(existsSync(`${path}.1`) && statSync(`${path}.1`).size <= 64 * 1024);
    assert.match(readFileSync(path, 'utf8'), /request 1999: /);
    // a second logger on the same file (another command) sees its size and rotates too
    const again = new RunLog(path, { max_bytes: 64 * 1024 });
    for (let i = 0; i < 500; i++) again.write(`more ${i}: ${'z'.repeat(200)}`);
    assert.ok(statSync(path).size <= 64 * 1024);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('REFIT_LOG_MAX_BYTES sets the cap; clip names what it left out', () => {
  assert.equal(logMaxBytesFromEnv({ REFIT_LOG_MAX_BYTES: '1048576' }), 1048576);
  assert.equal(logMaxBytesFromEnv({ REFIT_LOG_MAX_BYTES: 'lots' }), undefined);
  assert.equal(logMaxBytesFromEnv({}), undefined);
  assert.equal(clip('abcdef', 3), 'abc… (3 more characters)');
  assert.equal(clip('abc', 3), 'abc');
});
