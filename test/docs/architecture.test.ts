// docs/architecture.md is the map of the code: every file or folder it names exists in the tree, it sends readers to
// nothing outside the repository, and "How to add a memory lever" names exactly the files a lever touches (the table,
// the planner's pricing, the worker's implementation), each of which exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
const DOC = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');

/** The files adding a `memory.*` lever touches: the table, the planner's pricing, the worker's implementation. */
const LEVER_FILES = [
  'src/memory/memory-levers.ts',
  'src/memory/distributed-levers.ts', // instead of memory-levers.ts for a distributed.* lever
  'src/memory/lora-levers.ts', // … and for a model.lora.* one
  'src/memory/lever-types.ts',
  'src/memory/types.ts',
  'src/memory/run-shape.ts',
  'src/memory/profiles/terms.ts',
  'worker/python/refit_worker/protocol.py',
];

/** The repository's top folders and src/'s parts: the doc names files from the root or from src/. */
const FOLDERS =
  'src|worker|test|bench|web|scripts|docs|cli|config|data|tokenize|encode|memory|batch|session|run|infer|metrics|report|serve';

/** Backticked paths (`src/…`, `run/decide.ts`, …), globs and `file:symbol` cut. */
function namedPaths(text: string): string[] {
  return [...text.matchAll(new RegExp(`\`((?:${FOLDERS})\\/[^\`\\s:]+)(?::[^\`]*)?\``, 'g'))].map((m) =>
    m[1].replace(/\/\*.*$/, '').replace(/\/$/, ''),
  );
}

/** A named path exists from the root or, for src/'s parts, from src/. */
const exists = (p: string) => existsSync(join(ROOT, p)) || existsSync(join(ROOT, 'src', p));

test('every path docs/architecture.md names exists in the tree', () => {
  const paths = namedPaths(DOC);
  assert.ok(paths.length >= 40, `the map names ${paths.length} paths`);
  const missing = paths.filter((p) => !exists(p));
  assert.deepEqual(missing, [], 'named in docs/architecture.md but not in the tree');
});

test('the docs send readers to nothing outside the repository', () => {
  for (const name of ['architecture.md', 'encoded-dataset.md']) {
    const text = readFileSync(join(ROOT, 'docs', name), 'utf8');
    assert.doesNotMatch(text, /\.\.\/shared\/docs|\.\.\/shared\/[a-z-]+\.md/, name);
  }
});

test('"A memory lever" names exactly the files a lever touches', () => {
  // the section's steps, up to the paragraph on what reads the table (those files are not touched)
  const section = /\*\*A memory lever\.\*\*([\s\S]*?)\nEverything else reads the table/.exec(DOC)?.[1];
  assert.ok(section, 'the section is there, its steps followed by "Everything else reads the table"');
  const named = [...new Set(namedPaths(section).filter((p) => /^(src|worker)\/.*\.(ts|py)$/.test(p)))].sort();
  assert.deepEqual(named, [...LEVER_FILES].sort());
  for (const f of LEVER_FILES) assert.ok(existsSync(join(ROOT, f)), f);
});
