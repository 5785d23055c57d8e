// The default CPU threads of a model process (src/worker/threads.ts): the free cores, shared among the ranks on
// this node, at least 1 and at most MAX_DEFAULT_THREADS — the rule bench/results/threads.md measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultThreads, MAX_DEFAULT_THREADS, type ThreadsInput } from '../../src/worker/index.ts';

const CASES: Array<[string, ThreadsInput, number]> = [
  ['an idle 2-core machine: both cores', { cores: 2, load: 0 }, 2],
  ['2 cores, one busy with other work: 1 thread', { cores: 2, load: 1 }, 1],
  ['2 cores shared with a dozen jobs: still 1, never 0', { cores: 2, load: 12.3 }, 1],
  ['a load of 0.4 rounds to no busy core', { cores: 2, load: 0.4 }, 2],
  ['a load of 0.6 rounds to one busy core', { cores: 2, load: 0.6 }, 1],
  ['an idle 16-core machine: capped', { cores: 16, load: 0 }, MAX_DEFAULT_THREADS],
  ['16 cores with 13 busy: the 3 free ones', { cores: 16, load: 13 }, 3],
  ['2 ranks on 6 free cores: 3 each', { cores: 8, load: 2, processes: 2 }, 3],
  ['2 ranks on 1 free core: 1 each', { cores: 2, load: 1, processes: 2 }, 1],
  ['serve keeps a core for HTTP: 2 idle cores give 1', { cores: 2, load: 0, reserve: 1 }, 1],
  ['serve on an idle 4-core machine: 3', { cores: 4, load: 0, reserve: 1 }, 3],
];

for (const [name, input, want] of CASES)
  test(`defaultThreads: ${name}`, () => assert.equal(defaultThreads(input), want));

test('defaultThreads() reads this machine and stays within 1..MAX_DEFAULT_THREADS', () => {
  const t = defaultThreads();
  assert.ok(Number.isInteger(t) && t >= 1 && t <= MAX_DEFAULT_THREADS, String(t));
});
