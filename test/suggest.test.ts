// The one closest-name helper: its three nearness rules (contains, leaf, typo) as the callers use them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestName, didYouMean, editDistance } from '../src/suggest.ts';

test('closestName: plain edit distance, lower-cased, first candidate on ties', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(closestName('Bert-Bas', ['bert-base', 'bert-large']), 'bert-base');
  assert.equal(closestName('x', []), undefined);
  assert.equal(closestName('ab', ['ac', 'ad']), 'ac');
});

test('contains: a name inside a candidate (or the reverse) is near (GPU and model names)', () => {
  assert.equal(closestName('a100', ['V100', 'A100x'], { contains: true }), 'A100x');
  assert.equal(
    closestName('a100', ['V100', 'A100x']),
    'V100',
    'without contains: one edit each, the first listed',
  );
});

test('leaf: a dotted candidate is also compared by its last part (config keys)', () => {
  assert.equal(closestName('epochs', ['data.train', 'train.epochs'], { leaf: true }), 'train.epochs');
  assert.equal(closestName('epoch', ['train.epochs', 'epoch_x'], { leaf: true }), 'train.epochs');
});

test('typo: only a likely typo is suggested (columns, formats, relations)', () => {
  assert.equal(didYouMean('sentense', ['sentence', 'relation']), " (did you mean 'sentence'?)");
  assert.equal(didYouMean('zzz', ['sentence', 'relation']), '');
  assert.equal(
    closestName('ab', ['xy'], { typo: true }),
    undefined,
    'two edits exceed half of a 2-letter name',
  );
});
