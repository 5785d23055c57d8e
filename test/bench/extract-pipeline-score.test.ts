// The pipeline bench's triple scoring: exact matches (text + code-point offset + relation), the verdicts on triples
// whose pair the rows do not annotate, and the NER's recall of the entities the gold triples need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  goldEntities,
  goldPairs,
  judge,
  neededEntityRecall,
  scoreTriples,
} from '../../bench/extract-pipeline-score.ts';

const types = {
  出生地: { head_type: '人物', tail_type: '地点' },
  None: { head_type: 'None', tail_type: 'None' },
};
// '𠀋' is one code point and two UTF-16 units: offsets below count code points
const text = '𠀋张三生于北京，李四生于上海';
const row = (head: string, tail: string, relation: string) => ({
  text,
  head: { text: head, start: text.indexOf(head), end: text.indexOf(head) + head.length },
  tail: { text: tail, start: text.indexOf(tail), end: text.indexOf(tail) + tail.length },
  relation,
  file: 'test.csv',
  line: 2,
});
const gold = goldPairs([row('张三', '北京', '出生地'), row('李四', '上海', 'None')], types, 'None');
const t = (head: string, head_offset: number, relation: string, tail: string, tail_offset: number) => ({
  head,
  head_offset,
  relation,
  tail,
  tail_offset,
});

test('goldPairs: code-point spans typed by relation.csv; NA rows annotate nothing', () => {
  assert.deepEqual(gold.get(text), [
    {
      head: { text: '张三', type: '人物', start: 1, end: 3 },
      tail: { text: '北京', type: '地点', start: 5, end: 7 },
      relation: '出生地',
    },
  ]);
  assert.deepEqual(
    goldEntities(gold.get(text)!).map((x) => x.text),
    ['张三', '北京'],
  );
});

test('judge: correct, wrong relation, misbounded, reversed and unjudged', () => {
  const g = gold.get(text)!;
  assert.equal(judge(t('张三', 1, '出生地', '北京', 5), g), 'correct');
  assert.equal(judge(t('张三', 0, '出生地', '北京', 5), g), 'misbounded'); // the offset is part of the match
  assert.equal(judge(t('张三', 1, '祖籍', '北京', 5), g), 'wrong_relation');
  assert.equal(judge(t('张三', 1, '出生地', '北京，', 5), g), 'misbounded');
  assert.equal(judge(t('北京', 5, '出生地', '张三', 1), g), 'reversed');
  assert.equal(judge(t('李四', 8, '出生地', '上海', 12), g), 'unjudged');
  assert.equal(judge(t('张三', 1, '出生地', '上海', 12), g), 'unjudged');
});

test('scoreTriples: precision over judged triples, a lower bound over all, recall over the rows', () => {
  const s = scoreTriples(
    [text],
    [
      [
        t('张三', 1, '出生地', '北京', 5),
        t('张三', 1, '祖籍', '北京，', 5),
        t('李四', 8, '出生地', '上海', 12),
      ],
    ],
    gold,
  );
  assert.deepEqual(s.verdicts, { correct: 1, wrong_relation: 0, misbounded: 1, reversed: 0, unjudged: 1 });
  assert.equal(s.predicted, 3);
  assert.equal(s.gold, 1);
  assert.equal(s.precision, 0.5);
  assert.equal(s.precision_all, 1 / 3);
  assert.equal(s.recall, 1);
  assert.equal(s.f1, 2 / 3);
});

test('neededEntityRecall: exact span, span and type, and pairs with both ends found typed', () => {
  const found = [
    [
      { text: '张三', type: '人物', start: 1, end: 3 },
      { text: '北京', type: '城市', start: 5, end: 7 },
    ],
  ];
  assert.deepEqual(neededEntityRecall([text], found, gold), {
    entities: 2,
    span: 2,
    span_and_type: 1,
    pairs: 1,
    pairs_both_typed: 0,
  });
});
