// Config keys named like Object.prototype's members (`__proto__`, `constructor`, `toString`, …) are unknown keys
// like any other, wherever they are written: key=value overrides, YAML keys at the top, in sections, as sections,
// DeepKE conf folders (own keys, overrides, group names, interpolations, env); nothing is polluted. A config file
// over 1 MiB is refused with one line before it is parsed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, resolveConfigDetailed } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { makeDeepkeProject } from './deepke-project.ts';
import { pickReporter } from '../../src/cli/run-output.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-config-keys-'));
const NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'toLocaleString',
  '__defineGetter__',
];
let n = 0;
function yamlFile(text: string): string {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}

/** Asserts a one-line ConfigError (exit 2) with this code whose message matches `re`. */
function throwsMatching(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}
const esc = (s: string) => s.replace(/[$()*+.?[\\\]^{|}]/g, '\\$&');
const unknownKey = (prefix: string, key: string) =>
  new RegExp(`^${esc(prefix)}unknown config key '${esc(key)}' \\(did you mean '[\\w.]+'\\?\\)$`);

function notPolluted(): void {
  for (const k of ['epochs', 'x', 'polluted', 'preset'])
    assert.equal(({} as Record<string, unknown>)[k], undefined, `Object.prototype.${k}`);
}

test('key=value overrides: top-level and dotted object-member names are unknown keys with the closest key', () => {
  for (const name of NAMES) {
    throwsMatching(() => resolveConfig({ overrides: [`${name}=1`] }), 'E_CONFIG_KEY', unknownKey('', name));
    throwsMatching(
      () => resolveConfig({ overrides: [`train.${name}=1`] }),
      'E_CONFIG_KEY',
      unknownKey('', `train.${name}`),
    );
    throwsMatching(
      () => resolveConfig({ overrides: [`${name}.epochs=1`] }),
      'E_CONFIG_KEY',
      unknownKey('', `${name}.epochs`),
    );
  }
  notPolluted();
});

test('YAML files: such names at the top, inside a section, or as a section are unknown with FILE:LINE', () => {
  for (const name of NAMES) {
    const top = yamlFile(`model:\n  preset: bert-tiny\n${name}: 1\n`);
    throwsMatching(
      () => resolveConfig({ file: top, overrides: [] }),
      'E_CONFIG_KEY',
      unknownKey(`${top}:3: `, name),
    );
    const nested = yamlFile(`train:\n  epochs: 2\n  ${name}: 1\n`);
    throwsMatching(
      () => resolveConfig({ file: nested, overrides: [] }),
      'E_CONFIG_KEY',
      unknownKey(`${nested}:3: `, `train.${name}`),
    );
    const section = yamlFile(`${name}:\n  epochs: 2\n`);
    throwsMatching(
      () => resolveConfig({ file: section, overrides: [] }),
      'E_CONFIG_KEY',
      new RegExp(`^${esc(section)}:1: unknown config section '${esc(name)}' \\(did you mean '\\w+'\\?\\)$`),
    );
    // a mapping under a real key carrying such a name: an unknown key or a bad value, one line, not a crash
    const value = yamlFile(`train:\n  epochs:\n    ${name}: 3\n`);
    assert.throws(
      () => resolveConfig({ file: value, overrides: [] }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.exitCode === 2 &&
        new RegExp(`^${esc(value)}:[23]: .*train\\.epochs`).test(e.message) &&
        !e.message.includes('\n'),
    );
  }
  notPolluted();
});

test('DeepKE conf folders: such names as conf keys, overrides, defaults groups, interpolations and env names', () => {
  for (const name of NAMES) {
    const ownKey = makeDeepkeProject({ 'train.yaml': `batch_size: 32\nepoch: 2\n${name}: 1\n` });
    throwsMatching(
      () => resolveConfigDetailed({ file: join(ownKey, 'conf'), overrides: [] }),
      'E_CONFIG_KEY',
      new RegExp(`unknown config key '${esc(name)}'`),
    );
    const project = makeDeepkeProject();
    throwsMatching(
      () => resolveConfigDetailed({ file: join(project, 'conf'), overrides: [`${name}=1`] }),
      'E_CONFIG_KEY',
      new RegExp(`unknown config key '${esc(name)}'`),
    );
    throwsMatching(
      () => resolveConfigDetailed({ file: join(project, 'conf'), overrides: [`+${name}=1`] }),
      'E_CONFIG_KEY',
      new RegExp(`unknown config key '${esc(name)}'`),
    );
    // a defaults group with such a name: a missing group file, named as such
    const group = makeDeepkeProject({ 'config.yaml': `defaults:\n  - train\n  - ${name}: lm\n` });
    throwsMatching(
      () => resolveConfigDetailed({ file: join(group, 'conf'), overrides: [] }),
      'E_CONFIG_HYDRA',
      new RegExp(`config\\.yaml:3: ${esc(name)}: lm: no such config file`),
    );
    // an interpolation reaching for an inherited member resolves to nothing, which refit needs here
    const interp = makeDeepkeProject({
      'train.yaml': `batch_size: 32\nepoch: \${opts.${name}}\nopts:\n  a: 1\n`,
    });
    throwsMatching(
      () => resolveConfigDetailed({ file: join(interp, 'conf'), overrides: [] }),
      'E_CONFIG_MISSING',
      new RegExp(`epoch uses \\$\\{opts\\.${esc(name)}\\}, but no conf file sets opts\\.${esc(name)}`),
    );
    const env = makeDeepkeProject({ 'train.yaml': `batch_size: 32\nepoch: \${env:${name}}\n` });
    throwsMatching(
      () => resolveConfigDetailed({ file: join(env, 'conf'), overrides: [], env: {} }),
      'E_CONFIG_MISSING',
      new RegExp(`epoch uses \\$\\{env:${esc(name)}\\}, but ${esc(name)} is not set in the environment`),
    );
  }
  // mappings with such keys merge as data (Hydra's deep merge), without touching any prototype
  const merged = makeDeepkeProject({
    'train.yaml': 'batch_size: 32\nepoch: 2\nextra:\n  __proto__: {polluted: 1}\n',
    'predict.yaml': 'extra:\n  __proto__: {x: 2}\n',
  });
  throwsMatching(
    () => resolveConfigDetailed({ file: join(merged, 'conf'), overrides: [] }),
    'E_CONFIG_KEY',
    /unknown config section 'extra'/,
  );
  notPolluted();
});

test('CLI names looked up in tables: --progress constructor is an unknown reporter, not Object', () => {
  const ctx = { io: { stdout: process.stdout } } as unknown as Parameters<typeof pickReporter>[0];
  for (const name of NAMES)
    throwsMatching(
      () => pickReporter(ctx, name),
      'E_CLI_OPTION',
      new RegExp(`^--progress ${esc(name)}: use auto, tty, plain, jsonl or none$`),
    );
  assert.equal(pickReporter(ctx, 'none').length, 0);
});

test('a config file over 1 MiB is refused with one line, before parsing (plain YAML and a conf folder)', () => {
  const big = yamlFile(`train:\n  epochs: 2\n${'  # padding line to make the file large\n'.repeat(60_000)}`);
  const t0 = Date.now();
  throwsMatching(
    () => resolveConfig({ file: big, overrides: [] }),
    'E_CONFIG_FILE',
    new RegExp(
      `^${esc(big)}: config file is 2\\.\\d MiB; refit reads config files up to 1 MiB \\(is this the right file\\?\\)$`,
    ),
  );
  assert.ok(Date.now() - t0 < 1000, `refused in ${Date.now() - t0} ms`);
  const project = makeDeepkeProject({
    'train.yaml': `batch_size: 32\n${'# pad pad pad pad pad pad pad pad pad pad pad pad pad\n'.repeat(40_000)}`,
  });
  throwsMatching(
    () => resolveConfigDetailed({ file: join(project, 'conf'), overrides: [] }),
    'E_CONFIG_FILE',
    /train\.yaml: config file is 2\.\d MiB/,
  );
  const hugePrimary = makeDeepkeProject({
    'config.yaml': `defaults:\n  - train\n${'#'.repeat(1_100_000)}\n`,
  });
  throwsMatching(
    () => resolveConfigDetailed({ file: join(hugePrimary, 'conf'), overrides: [] }),
    'E_CONFIG_FILE',
    /config\.yaml: config file is 1\.\d MiB/,
  );
  // exactly at the limit is still read
  const atLimit = yamlFile(`train:\n  epochs: 2\n#${'x'.repeat((1 << 20) - 22)}\n`);
  assert.equal(resolveConfig({ file: atLimit, overrides: [] }).train.epochs, 2);
});
