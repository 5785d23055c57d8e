// Text → triples without models: candidate pairs (ordered, distinct, constrained by relation.csv's types), one
// predict call for all pairs, NA answers dropped, code-point offsets kept from the entities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allowedTypePairs,
  candidatePairs,
  extractTriples,
  typeConstraints,
  typedRelation,
} from '../../src/infer/index.ts';
import { relationRowsToCharBio } from '../../src/data/index.ts';
import type { PredictItem } from '../../src/infer/index.ts';

const e = (text: string, type: string, start: number) => ({
  text,
  type,
  start,
  end: start + [...text].length,
});

test('candidatePairs: ordered pairs of distinct entities; with types, only the pairs a relation names', () => {
  const ents = [e('张三', 'PER', 0), e('北京', 'LOC', 3), e('李四', 'PER', 6)];
  assert.equal(candidatePairs(ents).length, 6);
  const allowed = allowedTypePairs(
    { None: { head_type: 'None', tail_type: 'None' }, 出生地: { head_type: 'PER', tail_type: 'LOC' } },
    'None',
  );
  assert.deepEqual(
    candidatePairs(ents, allowed).map(([h, t]) => [h.text, t.text]),
    [
      ['张三', '北京'],
      ['李四', '北京'],
    ],
  );
  assert.equal(allowedTypePairs(undefined, 'None'), undefined);
  assert.equal(allowedTypePairs({ None: { head_type: 'x', tail_type: 'y' } }, 'None'), undefined);
});

test('extractTriples: one predict call; NA and bad items dropped; triples carry types and code-point offsets', async () => {
  const texts = ['𠀋张三生于北京', '无', '李四'];
  const calls: PredictItem[][] = [];
  const out = await extractTriples(
    {
      entities: async (t) => {
        assert.deepEqual(t, texts);
        return [[e('张三', 'PER', 1), e('北京', 'LOC', 5)], [], [e('李四', 'PER', 0)]];
      },
      predict: async (items) => {
        calls.push(items);
        return items.map((it, id) => ({
          id,
          head: it.head,
          tail: it.tail,
          relation: it.head === '张三' ? '出生地' : 'None',
          score: 0.75,
        }));
      },
      na_label: 'None',
    },
    texts,
  );
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0][0], {
    text: texts[0],
    head: '张三',
    head_offset: 1,
    head_type: 'PER',
    tail: '北京',
    tail_offset: 5,
    tail_type: 'LOC',
  });
  assert.deepEqual(out[0].triples, [
    {
      head: '张三',
      head_type: 'PER',
      head_offset: 1,
      relation: '出生地',
      tail: '北京',
      tail_type: 'LOC',
      tail_offset: 5,
      score: 0.75,
    },
  ]);
  assert.deepEqual(
    out.map((x) => [x.text, x.entities.length, x.triples.length]),
    [
      [texts[0], 2, 1],
      ['无', 0, 0],
      ['李四', 1, 0],
    ],
  );
});

test("relationRowsToCharBio: a sentence's rows merged, typed by the relation's types, NA rows untyped", () => {
  const m = (text: string, start: number) => ({ text, start, end: start + text.length });
  const row = (text: string, head: [string, number], tail: [string, number], relation: string) => ({
    text,
    head: m(...head),
    tail: m(...tail),
    relation,
    file: 'x',
    line: 1,
  });
  const types = {
    出生地: { head_type: '人物', tail_type: '地点' },
    None: { head_type: 'None', tail_type: 'None' },
  };
  const text = '张三 生于北京';
  const out = relationRowsToCharBio(
    [
      row(text, ['张三', 0], ['北京', 5], '出生地'),
      row(text, ['张三', 0], ['生于', 3], 'None'),
      row('李四', ['李', 0], ['四', 1], 'None'),
    ],
    types,
    'None',
  );
  assert.equal(
    out,
    ['张 B-人物', '三 I-人物', '生 O', '于 O', '北 B-地点', '京 I-地点', '', '李 O', '四 O', ''].join('\n'),
  );
});

test("extractTriples with relation.csv's types: a triple's relation fits its pair's types (every relation ranked)", async () => {
  const types = {
    None: { head_type: 'None', tail_type: 'None' },
    出生地: { head_type: 'PER', tail_type: 'LOC' },
    国籍: { head_type: 'PER', tail_type: 'COUNTRY' },
  };
  const top = (...r: string[]) => r.map((relation, i) => ({ relation, score: 0.5 - i / 10 }));
  // the pair PER → LOC: the answer 国籍 (PER → COUNTRY) gives way to the best-ranked relation that fits
  const answer = (relation: string, ranked: string[]) => ({
    id: 0,
    head: 'h',
    tail: 't',
    relation,
    score: 0.5,
    top: top(...ranked),
  });
  const pair = { head_type: 'PER', tail_type: 'LOC', na_label: 'None', types };
  assert.deepEqual(typedRelation(answer('国籍', ['国籍', '出生地', 'None']), pair), {
    relation: '出生地',
    score: 0.4,
  });
  assert.equal(typedRelation(answer('国籍', ['国籍', 'None', '出生地']), pair), undefined);
  assert.equal(typedRelation(answer('None', ['None', '出生地']), pair), undefined);
  assert.deepEqual(typedRelation(answer('出生地', ['出生地']), pair), { relation: '出生地', score: 0.5 });
  assert.deepEqual(typedRelation(answer('国籍', ['国籍']), { ...pair, types: undefined }), {
    relation: '国籍',
    score: 0.5,
  });
  assert.deepEqual(typeConstraints({ None: types.None }, 'None'), {});

  const opts: Array<{ top_k?: number } | undefined> = [];
  const out = await extractTriples(
    {
      entities: async () => [[e('张三', 'PER', 0), e('北京', 'LOC', 4)]],
      predict: async (items, o) => {
        opts.push(o);
        return items.map((it, id) => ({
          ...answer('国籍', ['国籍', '出生地']),
          id,
          head: it.head,
          tail: it.tail,
        }));
      },
      na_label: 'None',
      ...typeConstraints(types, 'None'),
    },
    ['张三生于北京'],
  );
  assert.deepEqual(opts, [{ top_k: 3 }]);
  assert.deepEqual(
    out[0].triples.map((t) => [t.head, t.relation, t.tail, t.score]),
    [['张三', '出生地', '北京', 0.4]],
  );
});
