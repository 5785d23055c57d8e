// Reads every dataset in ../shared/assets with the detected reader and checks the counts each SOURCE.md gives,
// and that every span reproduces its entity text. Skips when ../shared is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import {
  readDataset,
  readRelations,
  resolveDataFolder,
  type Dataset,
  type RelationSet,
} from '../../src/data/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ASSETS = resolve(ROOT, '../shared/assets');
const skip = !existsSync(ASSETS) && 'needs ../shared (datasets)';

interface Case {
  folder: string;
  format: string;
  counts: Partial<Record<'train' | 'valid' | 'test', number>>;
  relations?: number;
  na_label?: string | null;
  labels?: Partial<Record<'train' | 'valid' | 'test', Record<string, number>>>;
}

const DEEPKE_TEST: Record<string, number> = Object.fromEntries(
  [
    '出生地',
    '连载网站',
    '导演',
    '国籍',
    '毕业院校',
    '出品公司',
    '所属专辑',
    '所在城市',
    '主持人',
    '祖籍',
  ].map((r) => [r, 100]),
);

/** Figures copied from each folder's SOURCE.md. */
const CASES: Case[] = [
  {
    folder: 'deepke-re-standard',
    format: 'deepke-csv',
    counts: { train: 3000, valid: 1000, test: 1000 },
    relations: 11,
    na_label: 'None',
    labels: {
      train: {
        出生地: 401,
        连载网站: 400,
        导演: 400,
        国籍: 400,
        毕业院校: 400,
        所属专辑: 400,
        出品公司: 326,
        主持人: 123,
        祖籍: 95,
        所在城市: 55,
      },
      valid: { 所在城市: 345, 祖籍: 305, 主持人: 277, 出品公司: 73 },
      test: DEEPKE_TEST,
    },
  },
  {
    folder: 'semeval2010-task8',
    format: 'semeval',
    counts: { train: 8000, test: 2717 },
    relations: 19,
    na_label: 'Other',
    labels: { train: { Other: 1410 } },
  },
  {
    folder: 'finre',
    format: 'thunlp',
    counts: { train: 13486, valid: 1489, test: 3727 },
    relations: 44,
    na_label: 'unknown',
    labels: { train: { unknown: 3613 }, valid: { unknown: 384 }, test: { unknown: 1005 } },
  },
  {
    folder: 'sanwen',
    format: 'thunlp',
    counts: { train: 17227, valid: 1793, test: 2220 },
    relations: 10,
    na_label: 'unknown',
    labels: { train: { unknown: 4619 }, valid: { unknown: 510 }, test: { unknown: 660 } },
  },
  {
    folder: 'people-relation-val',
    format: 'opennre',
    counts: { valid: 1000 },
    relations: 12,
    na_label: 'unknown',
    labels: {
      valid: {
        unknown: 377,
        夫妻: 190,
        父母: 139,
        合作: 66,
        兄弟姐妹: 61,
        师生: 52,
        情侣: 45,
        同门: 20,
        祖孙: 17,
        好友: 14,
        上下级: 11,
        亲戚: 8,
      },
    },
  },
  { folder: 'fewrel-val-wiki', format: 'fewrel', counts: { valid: 11200 } },
];

function labelCounts(d: Dataset): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of d.examples) m.set(e.relation!, (m.get(e.relation!) ?? 0) + 1);
  return m;
}

for (const c of CASES) {
  test(`${c.folder}: counts, labels and spans match SOURCE.md`, { skip }, async (t) => {
    const folder = await resolveDataFolder(join(ASSETS, c.folder));
    let relations: RelationSet | undefined;
    if (c.relations !== undefined) {
      relations = await readRelations(folder.relations!);
      assert.equal(relations.names.length, c.relations);
      assert.equal(relations.na_label, c.na_label);
    }
    for (const [split, n] of Object.entries(c.counts) as Array<['train' | 'valid' | 'test', number]>) {
      const started = performance.now();
      const d = await readDataset({ path: folder[split]!, relations, relations_path: folder.relations });
      t.diagnostic(
        `${split}: ${d.examples.length} examples in ${(performance.now() - started).toFixed(0)} ms`,
      );
      assert.equal(d.format, c.format);
      assert.equal(d.examples.length, n, `${split} examples`);
      assert.equal(d.skipped_rows, 0);
      const counts = labelCounts(d);
      for (const [label, k] of Object.entries(c.labels?.[split] ?? {}))
        assert.equal(counts.get(label), k, `${split} ${label}`);
      for (const e of d.examples) {
        for (const m of [e.head, e.tail])
          assert.equal(e.text.slice(m.start, m.end), m.text, `${e.file}:${e.line}`);
        assert.equal(e.head.type, undefined, 'no entity types from the relation list (DeepKE label leak)');
      }
    }
  });
}

test('deepke: every offset in the shipped data is honoured (SOURCE.md: 0 mismatches)', { skip }, async () => {
  for (const split of ['train', 'valid', 'test']) {
    const d = await readDataset({ path: join(ASSETS, 'deepke-re-standard', `${split}.csv`) });
    assert.equal(d.offset_fallbacks, 0);
  }
});

test('semeval: test labels equal the official answer keys row for row', { skip }, async () => {
  const d = await readDataset({ path: join(ASSETS, 'semeval2010-task8/test.tsv') });
  const keys = readFileSync(join(ASSETS, 'semeval2010-task8/answer_keys.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('\t')[1].trim());
  assert.deepEqual(
    d.examples.map((e) => e.relation),
    keys,
  );
  assert.ok(
    d.examples.every((e) => !/<\/?e[12]>/.test(e.text)),
    'markers are stripped',
  );
});

test('fewrel: 16 relations x 700', { skip }, async () => {
  const d = await readDataset({ path: join(ASSETS, 'fewrel-val-wiki/val_wiki.json') });
  const counts = labelCounts(d);
  assert.equal(counts.size, 16);
  assert.ok([...counts.values()].every((k) => k === 700));
});
