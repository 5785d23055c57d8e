// One error-code table: every code refit raises (in src/ and in the Python worker) has its exit code in EXIT_CODES,
// every error class takes the code first, and a code decides the exit code wherever it is raised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  DataError,
  EnvironmentError,
  EXIT_CODES,
  MultiError,
  RefitError,
  exitCodeOf,
  fsError,
} from '../../src/errors.ts';

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p, ext) : p.endsWith(ext) ? [p] : [];
  });
}
const src = files('src', '.ts').map((f) => ({ f, text: readFileSync(f, 'utf8') }));

test("every error code in src/ and the worker is in EXIT_CODES (the worker's E_INTERNAL is an internal error, not a code)", () => {
  const codes = new Set<string>();
  for (const { text } of src) for (const m of text.matchAll(/'(E_[A-Z0-9_]+)'/g)) codes.add(m[1]);
  for (const f of files('worker/python/refit_worker', '.py'))
    for (const m of readFileSync(f, 'utf8').matchAll(/["'](E_[A-Z0-9_]+)["']/g)) codes.add(m[1]);
  codes.delete('E_INTERNAL');
  const missing = [...codes].filter((c) => !Object.hasOwn(EXIT_CODES, c));
  assert.deepEqual(missing, [], 'codes without an exit code');
  for (const [code, exit] of Object.entries(EXIT_CODES)) assert.ok([1, 2, 130].includes(exit), code);
});

test('every error constructor call takes the code first (the constructors also type it as an ErrorCode)', () => {
  const bad: string[] = [];
  for (const { f, text } of src) {
    for (const m of text.matchAll(
      /new (RefitError|DataError|ConfigError|MultiError|EnvironmentError)\(\s*([^,]*),/g,
    )) {
      const first = m[2].trim();
      if (
        !/^'E_[A-Z0-9_]+'$|^`E_FS_\$\{x\.code\}` as ErrorCode$|^(code|ev\.code as ErrorCode|err\.code)$/.test(
          first,
        )
      )
        bad.push(`${f}: ${m[0].slice(0, 80)}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the code decides the exit code, whichever class raises it', () => {
  assert.equal(new RefitError('E_RUN_LOCKED', 'x').exitCode, 1);
  assert.equal(new EnvironmentError('E_RUN_LOCKED', 'x').exitCode, 1);
  assert.equal(new ConfigError('E_CONFIG_VALUE', 'x').exitCode, 2);
  assert.equal(new ConfigError('E_CONFIG_VALUE', 'x').code, 'E_CONFIG_VALUE');
  assert.equal(
    new DataError('E_DATA_JSON', { path: 'a.json', line: 3 }, 'broken').message,
    'a.json:3: broken',
  );
  assert.equal(new MultiError('E_DATA_ROW', ['a', 'b']).exitCode, 2);
  assert.equal(new RefitError('E_WORKER_CRASH', 'x').exitCode, 1);
  assert.equal(new RefitError('E_NO_MODEL', 'x').exitCode, 2);
  for (const name of ['E_SOMETHING_NEW', '__proto__', 'constructor', 'toString'])
    assert.equal(exitCodeOf(name), 2, name);
  const enospc = Object.assign(new Error('no space'), { code: 'ENOSPC', syscall: 'write', path: '/x' });
  const enotdir = Object.assign(new Error('not dir'), { code: 'ENOTDIR', syscall: 'open', path: '/x' });
  assert.equal(fsError(enospc)!.exitCode, 1);
  assert.equal(fsError(enotdir)!.exitCode, 2);
});
