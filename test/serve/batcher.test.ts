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

test('a request too large for one call goes in parts, one call each, and a light request waits at most one part', async () => {
  const calls: string[][] = [];
  const b = new PredictBatcher({
    predict: (items) => {
      calls.push(items.map((it) => it.head));
      return echo(items);
    },
    max_items: 64,
    max_chars: 30,
  });
  const long = (n: number): PredictItem => ({
    text: `h${n} t${n} ${'x'.repeat(6)}`,
    head: `h${n}`,
    tail: `t${n}`,
  });
  const heavy = b.submit(Array.from({ length: 6 }, (_, i) => long(i))); // 14 characters each: 2 per call
  await new Promise((r) => setTimeout(r, 10)); // its first part is in flight
  const light = b.submit([item(0)]);
  const [h, l] = await Promise.all([heavy, light]);
  assert.deepEqual(
    h.map((r) => [r.id, r.relation]),
    Array.from({ length: 6 }, (_, i) => [i, `h${i}`]),
  );
  assert.deepEqual(l, [{ id: 0, head: 'a0', tail: 'b0', relation: 'a0' }]);
  assert.deepEqual(calls, [['h0', 'h1'], ['a0'], ['h2', 'h3'], ['h4', 'h5']]);
});

test('a failed part rejects its request once, and its other parts are not sent', async () => {
  let n = 0;
  const b = new PredictBatcher({
    predict: async (items) => {
      if (++n === 2) throw new Error('worker died');
      return echo(items);
    },
    max_items: 2,
  });
  await assert.rejects(b.submit(Array.from({ length: 8 }, (_, i) => item(i))), /worker died/);
  assert.equal(n, 2);
  assert.equal(b.waiting, 0);
});
