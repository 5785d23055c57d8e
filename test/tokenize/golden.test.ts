// Parity with Hugging Face's BertTokenizer on every line of ../shared/golden/tokenizer (real sentences + hard strings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Vocab, WordPieceTokenizer } from '../../src/tokenize/index.ts';
import { NEEDS_SHARED, SHARED, readJsonlGz } from './helpers.ts';

interface GoldenLine {
  id: string;
  text: string;
  ids: number[];
  ids_cls_sep_max128: number[];
}

const CASES = [
  { name: 'zh_lower', vocab: 'google_zh_vocab.txt', lowercase: true },
  { name: 'zh_cased', vocab: 'google_zh_vocab.txt', lowercase: false },
  { name: 'en_uncased', vocab: 'google_uncased_en_vocab.txt', lowercase: true },
] as const;

/** HF `tokenizer(text, truncation=True, max_length=128)`: [CLS] + the first 126 ids + [SEP]. */
function clsSep128(vocab: Vocab, ids: number[]): number[] {
  return [vocab.cls_id, ...ids.slice(0, 126), vocab.sep_id];
}

for (const c of CASES) {
  test(`golden ${c.name}: ids equal HF BertTokenizer on every line`, { skip: NEEDS_SHARED }, () => {
    const vocab = Vocab.fromFile(path.join(SHARED, 'assets/bert-vocab', c.vocab));
    const tok = new WordPieceTokenizer(vocab, { lowercase: c.lowercase });
    const lines = readJsonlGz<GoldenLine>(path.join(SHARED, 'golden/tokenizer', `tok_${c.name}.jsonl.gz`));
    const stats = JSON.parse(readFileSync(path.join(SHARED, 'golden/tokenizer/stats-all.json'), 'utf8'))[
      c.name
    ];
    assert.ok(lines.length > 1000 && lines.length <= stats.sentences, `${lines.length} golden lines`);
    assert.equal(vocab.unk_id, stats.special_ids['[UNK]']);
    assert.equal(vocab.cls_id, stats.special_ids['[CLS]']);
    const mismatches: string[] = [];
    for (const line of lines) {
      const ids = tok.ids(line.text);
      if (JSON.stringify(ids) !== JSON.stringify(line.ids)) {
        mismatches.push(
          `${line.id} ${JSON.stringify(line.text).slice(0, 120)}\n  got ${JSON.stringify(ids).slice(0, 200)}\n  exp ${JSON.stringify(line.ids).slice(0, 200)}`,
        );
      } else if (JSON.stringify(clsSep128(vocab, ids)) !== JSON.stringify(line.ids_cls_sep_max128)) {
        mismatches.push(`${line.id} ids_cls_sep_max128 differs`);
      }
    }
    assert.equal(
      mismatches.length,
      0,
      `${mismatches.length} of ${lines.length} lines differ; first:\n${mismatches.slice(0, 5).join('\n')}`,
    );
  });
}
