// The CLI's option values go through one helper (src/cli/options.ts), and commands share code only through src/cli/*
// files: no command imports another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  countOption,
  enumOption,
  intOption,
  listOption,
  portOption,
  secondsOption,
  threadsOption,
} from '../../src/cli/options.ts';

const fails = (f: () => unknown, line: string) =>
  assert.throws(
    f,
    (e: Error & { code?: string; exitCode?: number }) =>
      e.code === 'E_CLI_OPTION' && e.exitCode === 2 && e.message === line,
  );

test('integers, choices, lists, threads, ports, seconds and counts: a bad value is one line naming flag and value', () => {
  assert.equal(intOption('--top-k', undefined), undefined);
  assert.equal(intOption('--top-k', '3'), 3);
  assert.equal(intOption('--head-offset', '0', 0), 0);
  fails(() => intOption('--top-k', '0'), '--top-k 0: expected an integer ≥ 1');
  fails(() => intOption('--batch-size', 'abc'), '--batch-size abc: expected an integer ≥ 1');
  fails(() => intOption('--seq-len', '1.5'), '--seq-len 1.5: expected an integer ≥ 1');
  assert.equal(enumOption('--mode', 'infer', ['train', 'infer'] as const), 'infer');
  fails(
    () => enumOption('--precision', 'fp8', ['fp32', 'fp16', 'bf16']),
    '--precision fp8: expected one of fp32, fp16, bf16',
  );
  fails(
    () => enumOption('--mode', 'constructor', ['train', 'infer']),
    '--mode constructor: expected one of train, infer',
  );
  assert.deepEqual(listOption('--precision', 'fp16, bf16', ['fp32', 'fp16', 'bf16']), ['fp16', 'bf16']);
  assert.equal(threadsOption(undefined), undefined);
  fails(() => threadsOption('two'), '--threads two: expected an integer ≥ 1');
  assert.equal(portOption('0'), 0);
  fails(() => portOption('70000'), '--port 70000: must be an integer 0..65535 (0 = any free port)');
  assert.equal(secondsOption('--body-timeout', '1.5'), 1500);
  fails(
    () => secondsOption('--body-timeout', '0'),
    '--body-timeout 0: must be a number of seconds, more than 0 and at most 3600',
  );
  assert.equal(countOption('--max-restarts', '0', 0), 0);
  fails(() => countOption('--max-connections', '0'), '--max-connections 0: must be an integer 1..1000000');
});

test('no command imports another command', () => {
  const dir = 'src/cli/commands';
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && n !== 'index.ts')) {
    const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/from '(\.\/[^']+)'/g)].map((m) => m[1]);
    assert.deepEqual(imports, [], `${f} imports ${imports.join(', ')}`);
  }
});
