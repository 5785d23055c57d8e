// manifest.json on its own (no worker): written over a folder's files, checked file by file (size, then SHA-256,
// hashed once per file identity and again after any rewrite, equal size included), the facts checked first, optional
// files allowed to be gone, unlisted model files refused, and a folder without one warned about once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readManifest,
  relationDifference,
  sha256File,
  verifyFolder,
  writeManifest,
} from '../../src/session/index.ts';

const folder = () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-manifest-unit-'));
  writeFileSync(join(dir, 'config.json'), '{"hidden_size": 128}\n');
  writeFileSync(join(dir, 'model.safetensors'), Buffer.alloc(4096, 7));
  writeFileSync(join(dir, 'model.onnx'), Buffer.alloc(1024, 3));
  writeFileSync(join(dir, '.model.onnx.check-1'), 'a temporary file is not listed');
  return dir;
};
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected a refusal');
};

test('the manifest lists the plain files with size and SHA-256; the folder passes as written', () => {
  const dir = folder();
  const m = writeManifest(dir, 'model', { config_sha256: 'x' });
  assert.deepEqual(Object.keys(m.files), ['config.json', 'model.onnx', 'model.safetensors']);
  assert.equal(m.files['model.safetensors'].size, 4096);
  assert.deepEqual(readManifest(dir), m);
  assert.deepEqual(verifyFolder(dir, { what: 'model' }), m);
});

test('a rewrite at equal size is seen (the hash cache keys on the file identity), and named with the fix', () => {
  const dir = folder();
  writeManifest(dir, 'model');
  const path = join(dir, 'model.safetensors');
  const before = sha256File(path);
  const b = readFileSync(path);
  b[2000] ^= 1;
  writeFileSync(path, b);
  assert.notEqual(sha256File(path), before);
  assert.equal(
    refusal(() => verifyFolder(dir, { what: 'model', fix: { '*': 'copy it again' } })),
    `${path}: its SHA-256 differs from the manifest's (changed since refit wrote it, or another run's file); ` +
      `copy it again`,
  );
});

test('sizes before hashes, facts before sizes; optional files may be gone, listed ones may not', () => {
  const dir = folder();
  writeManifest(dir, 'model');
  writeFileSync(join(dir, 'config.json'), '{}');
  assert.match(
    refusal(() => verifyFolder(dir, { what: 'model' })),
    /config\.json: 2 bytes, the manifest says 21 \(truncated\)$/,
  );
  assert.match(
    refusal(() =>
      verifyFolder(dir, { what: 'model', facts: () => ({ file: 'refit.json', what: 'another list' }) }),
    ),
    /refit\.json: another list$/,
  );
  writeManifest(dir, 'model');
  rmSync(join(dir, 'model.onnx'));
  assert.ok(verifyFolder(dir, { what: 'model', optional: ['model.onnx'] }));
  assert.match(
    refusal(() => verifyFolder(dir, { what: 'model' })),
    /model\.onnx: missing \(the model's manifest lists it, 1024 bytes\)$/,
  );
  writeFileSync(join(dir, 'vocab.txt'), '[PAD]\n');
  assert.match(
    refusal(() => verifyFolder(dir, { what: 'model', optional: ['model.onnx'] })),
    /vocab\.txt: not in the model's manifest \(copied in from elsewhere\?\)$/,
  );
});

test('no manifest: one warning per folder, and the folder passes; a damaged one is refused', () => {
  const dir = folder();
  const warned: string[] = [];
  assert.equal(verifyFolder(dir, { what: 'model', warn: (l) => warned.push(l) }), null);
  assert.equal(verifyFolder(dir, { what: 'model', warn: (l) => warned.push(l) }), null);
  assert.deepEqual(warned, [
    `${join(dir, 'manifest.json')}: missing (written by an older refit); the model's files cannot be verified`,
  ]);
  writeFileSync(join(dir, 'manifest.json'), '{"format":"refit-manifest","files":');
  assert.match(
    refusal(() => verifyFolder(dir, { what: 'model' })),
    /manifest\.json: not valid JSON \(damaged\)/,
  );
});

test('relation lists: another count, another order, another name', () => {
  const run = ['NA', 'born_in', 'works_for'];
  assert.equal(relationDifference(run, run), '');
  assert.equal(relationDifference(run, [...run, 'x']), '4 relations, the run has 3');
  assert.equal(
    relationDifference(run, ['NA', 'works_for', 'born_in'], 'the manifest'),
    "the relations are in another order (row 2 is 'works_for', the manifest has 'born_in')",
  );
  assert.equal(
    relationDifference(run, ['NA', 'born_in', 'lives_in']),
    "relation 'lives_in' at row 3 where the run has 'works_for'",
  );
});
