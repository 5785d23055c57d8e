// PredictBatcher: concurrent requests share worker calls, each caller gets its own results, errors reach every caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PredictBatcher, type PredictItem, type PredictResult } from '../../src/serve/index.ts';

const item = (n: number): PredictItem => ({ text: `a${n} b${n}`, head: `a${n}`, tail: `b${n}` });
// The unit under test is the batching; the "worker" here answers relation = head so results can be traced.
const echo = async (items: PredictItem[]): Promise<PredictResult[]> => {
  await new Promise((r) => setTimeout(r, 20));
  return items.map((it, id) => ({ id, head: it.head, tail: it.tail, relation: it.head }));
};

test('20 concurrent single requests go to the worker in a few calls, results back to the right caller', async () => {
  const calls: number[] = [];
  const b = new PredictBatcher({
    predict: (items) => {
      calls.push(items.length);
      return echo(items);
    },
  });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit([item(i)])));
  results.forEach((r, i) =>
    assert.deepEqual(r, [{ id: 0, head: `a${i}`, tail: `b${i}`, relation: `a${i}` }]),
  );
  assert.ok(calls.length <= 2, `calls ${calls}`);
  assert.equal(
    calls.reduce((a, c) => a + c, 0),
    20,
  );
});

test('max_items caps one call; requests arriving during a call go together in the next', async () => {
  const calls: number[] = [];
  const b = new PredictBatcher({
    predict: (items) => {
      calls.push(items.length);
      return echo(items);
    },
    max_items: 4,
  });
  const lists = await Promise.all([
    b.submit([item(0), item(1), item(2)]),
    b.submit([item(3), item(4)]),
    b.submit([item(5)]),
  ]);
  assert.deepEqual(
    lists.map((l) => l.map((r) => r.id)),
    [[0, 1, 2], [0, 1], [0]],
  );
  assert.deepEqual(calls, [3, 3]);
});

test('a failing worker call rejects each of its callers, and the batcher keeps working', async () => {
  let fail = true;
  const b = new PredictBatcher({
    predict: async (items) => {
      if (fail) throw new Error('worker died');
      return echo(items);
    },
  });
  const r = await Promise.allSettled([b.submit([item(0)]), b.submit([item(1)])]);
  assert.deepEqual(
    r.map((x) => x.status),
    ['rejected', 'rejected'],
  );
  fail = false;
  assert.equal((await b.submit([item(2)]))[0].relation, 'a2');
});
