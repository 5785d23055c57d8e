// The memory folder's layout: no file in it imports memory/index.ts (the doctor imported it while index.ts re-exports
// the doctor: an import circle), and the calibration helpers stay off the public surface (bench and tests only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as memory from '../../src/memory/index.ts';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) =>
    statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : [],
  );
}

test('no file under src/memory imports memory/index.ts', () => {
  const index = resolve('src/memory/index.ts');
  const bad = files('src/memory')
    .filter((f) => f !== join('src/memory', 'index.ts'))
    .filter((f) =>
      [...readFileSync(f, 'utf8').matchAll(/from '(\.[^']*)'/g)].some(
        (m) => resolve(f, '..', m[1]) === index,
      ),
    );
  assert.deepEqual(bad, []);
});

test('the calibration helpers are not on the memory surface', () => {
  for (const name of [
    'goldenRun',
    'fitTrain',
    'fitInfer',
    'fitReserve',
    'fitCost',
    'leastSquares',
    'leaveOneModelOut',
    'loadGolden',
  ])
    assert.ok(!(name in memory), name);
});
