// Relation and entity-type names come from the data, so Object.prototype's names are names like any other:
// a dataset whose relations are `__proto__`, `constructor`, `toString` and `hasOwnProperty` (and whose entity types
// are too) trains, evaluates and predicts with them by name. The pure lookups are checked first, then one real run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRelationTypes } from '../../src/data/index.ts';
import { computeMetrics, perRelation } from '../../src/metrics/index.ts';
import { deepkeLmTypes, defaultMarkers, markerStrings } from '../../src/encode/index.ts';
import { Vocab } from '../../src/tokenize/index.ts';
import { runTraining } from '../../src/run/index.ts';
import { evaluateRun, openPredictor } from '../../src/infer/index.ts';
import { RunLog } from '../../src/log.ts';
import { testPython } from '../worker/helpers.ts';
import { readMetrics, runEnv, tinyConfig } from './helpers.ts';
import { PROTO_NAMES, protoNameData } from './names-data.ts';
import type { Example } from '../../src/data/index.ts';

test('relation.csv types, deepke-lm gold types, per-relation metrics and typed markers keep Object.prototype names', async () => {
  const dir = protoNameData();
  const types = (await readRelationTypes(join(dir, 'relation.csv')))!;
  assert.ok(Object.hasOwn(types, '__proto__') && Object.hasOwn(types, 'constructor'));
  assert.deepEqual(types['__proto__'], { head_type: '__proto__', tail_type: 'ORG' });
  assert.equal(
    Object.getPrototypeOf(types) === Object.prototype || Object.getPrototypeOf(types) === null,
    true,
  );
  const ex = (relation?: string): Example => ({
    text: 'a b',
    head: { text: 'a', start: 0, end: 1 },
    tail: { text: 'b', start: 2, end: 3 },
    file: 'x',
    line: 1,
    ...(relation ? { relation } : {}),
  });
  assert.deepEqual(deepkeLmTypes(ex('constructor'), { relation_types: types }), {
    head: 'PER',
    tail: 'toString',
  });
  // a relation not in relation.csv that is a prototype name gets no types (not Object's function or prototype)
  assert.deepEqual(deepkeLmTypes(ex('valueOf'), { relation_types: types }), {
    head: undefined,
    tail: undefined,
  });
  assert.deepEqual(
    deepkeLmTypes(ex('hasOwnProperty'), {
      relation_types: { no_relation: { head_type: 'A', tail_type: 'B' } },
    }),
    { head: undefined, tail: undefined },
  );

  const gold = ['__proto__', 'constructor', 'toString', 'no_relation'];
  const pred = ['__proto__', 'toString', 'toString', 'hasOwnProperty'];
  const per = perRelation(gold, pred, [...gold, 'hasOwnProperty']);
  assert.deepEqual(Object.keys(per), [...gold, 'hasOwnProperty']);
  assert.equal(per['__proto__'].f1, 1);
  assert.equal(per['constructor'].support, 1);
  const block = computeMetrics({ gold, pred, na_label: 'no_relation' });
  assert.deepEqual(
    Object.keys(JSON.parse(JSON.stringify(block)).per_relation).sort(),
    [...gold, 'hasOwnProperty'].sort(),
  );

  const vocab = Vocab.fromLines([
    '[PAD]',
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    ...Array.from({ length: 20 }, (_, i) => `[unused${i}]`),
  ]);
  const scheme = defaultMarkers(vocab, { typed: true, types: ['__proto__', 'constructor', 'PER'] });
  assert.deepEqual(Object.keys(scheme.types!), ['PER', '__proto__', 'constructor']);
  assert.equal(markerStrings(scheme).length, 4 + 6);
});

const skip = !(await testPython()) && 'needs a python3 with torch';
test(
  'a dataset whose relations and entity types are Object.prototype names trains, evaluates and predicts by those names',
  { skip },
  async () => {
    const data = protoNameData();
    const out = join(mkdtempSync(join(tmpdir(), 'refit-names-run-')), 'run');
    const env = runEnv();
    await runTraining({ config: tinyConfig(data, ['train.epochs=1']), out, env, num_threads: 1 });
    const m = readMetrics(out);
    for (const block of [m.valid, m.test]) {
      // per_relation and the confusion matrix cover the labels present in gold ∪ pred
      for (const r of ['__proto__', 'constructor'])
        assert.ok(block.confusion.labels.includes(r), `confusion names ${r}`);
      assert.deepEqual(Object.keys(block.per_relation), block.confusion.labels);
    }
    const log = new RunLog(join(out, 'names-test.log'));
    const again = await evaluateRun({ run_dir: out, data: join(data, 'test.csv'), env, log, num_threads: 1 });
    assert.ok(
      Object.hasOwn(again.per_relation, '__proto__') && Object.hasOwn(again.per_relation, 'constructor'),
    );
    const predictor = await openPredictor({ run_dir: out, env, log, num_threads: 1 });
    try {
      assert.deepEqual(predictor.relations.slice(0, 5), ['no_relation', ...PROTO_NAMES]);
      const [p] = await predictor.predict(
        [
          {
            text: 'Zoe Reyes was born in Medan.',
            head: 'Zoe Reyes',
            tail: 'Medan',
            head_type: '__proto__',
            tail_type: 'constructor',
          },
        ],
        { top_k: 6 },
      );
      assert.equal(p.error, undefined);
      assert.deepEqual(
        p.top!.map((t) => t.relation).sort(),
        ['no_relation', ...PROTO_NAMES, 'headquartered_in'].sort(),
      );
    } finally {
      await predictor.close();
    }
  },
);
