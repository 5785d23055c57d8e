// The one byte formatter: PyTorch's format_size boundaries and digits, the placeholder for a missing figure, and the
// figures report.html inlines (its source is self-contained).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes } from '../src/bytes.ts';
import { DRAW_FUNCTIONS } from '../src/report/draw.ts';

test('formatBytes prints as PyTorch does: bytes up to 1024, then KiB, MiB, GiB with two decimals', () => {
  assert.equal(formatBytes(512), '512 bytes');
  assert.equal(formatBytes(1024), '1024 bytes');
  assert.equal(formatBytes(1025), '1.00 KiB');
  assert.equal(formatBytes(192 * 2 ** 20), '192.00 MiB');
  assert.equal(formatBytes(11.75 * 2 ** 30), '11.75 GiB');
  assert.equal(formatBytes(130206.04 * 2 ** 30), '130206.04 GiB', 'no TiB, as in PyTorch');
  assert.equal(formatBytes(-3 * 2 ** 20), '-3.00 MiB');
  assert.equal(formatBytes(300 * 2 ** 20, { digits: 1 }), '300.0 MiB');
  for (const missing of [undefined, null, Number.NaN, Infinity]) assert.equal(formatBytes(missing), '–');
  assert.equal(formatBytes(undefined, { missing: '-' }), '-');
});

test('report.html inlines formatBytes with the drawing functions, and it runs from its source alone', () => {
  assert.ok(DRAW_FUNCTIONS.includes(formatBytes as never));
  const inlined = new Function(`${formatBytes.toString()}; return ${formatBytes.name}(11.75 * 2 ** 30);`);
  assert.equal(inlined(), '11.75 GiB');
});
