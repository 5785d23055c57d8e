// The deepke-lm head's keys: model.head=deepke-lm, model.rnn.* with DeepKE's lm.yaml defaults, nested YAML, and the
// two RNN settings DeepKE's LM cannot train with (odd hidden_size when bidirectional, last_layer_hn false over layers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

test("defaults are DeepKE's model/lm.yaml; nested YAML and dotted overrides set them", () => {
  assert.deepEqual(resolveConfig({ overrides: [] }).model.rnn, {
    type: 'LSTM',
    hidden_size: 100,
    num_layers: 1,
    bidirectional: true,
    last_layer_hn: true,
    dropout: 0.3,
  });
  const file = join(mkdtempSync(join(tmpdir(), 'refit-rnn-')), 'c.yaml');
  writeFileSync(file, 'model:\n  head: deepke-lm\n  rnn:\n    type: GRU\n    hidden_size: 64\n');
  const c = resolveConfig({ file, overrides: ['model.rnn.num_layers=2'] });
  assert.equal(c.model.head, 'deepke-lm');
  assert.deepEqual(c.model.rnn, {
    type: 'GRU',
    hidden_size: 64,
    num_layers: 2,
    bidirectional: true,
    last_layer_hn: true,
    dropout: 0.3,
  });
});

test("settings DeepKE's LM cannot train with are one line naming the key", () => {
  const err = (overrides: string[]) => {
    try {
      resolveConfig({ overrides });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.message;
    }
    return 'no error';
  };
  assert.equal(
    err(['model.rnn.hidden_size=101']),
    'model.rnn.hidden_size must be even with a bidirectional RNN (half per direction), got 101',
  );
  assert.equal(err(['model.rnn.hidden_size=101', 'model.rnn.bidirectional=false']), 'no error');
  assert.match(
    err(['last_layer_hn=false', 'num_layers=2']),
    /^last_layer_hn \(model\.rnn\.last_layer_hn\) false with num_layers 2: DeepKE's LM then outputs one prediction per RNN layer/,
  );
  assert.equal(err(['model.rnn.last_layer_hn=false']), 'no error', 'one layer: the same tensor either way');
  assert.match(err(['model.rnn.type=SRU']), /model\.rnn\.type must be one of LSTM, GRU, RNN, got "SRU"/);
  assert.match(err(['model.head=bilstm']), /model\.head must be one of entity-start, cls, deepke-lm/);
});
