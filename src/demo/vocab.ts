// The demo's WordPiece vocabulary (vocab.txt lines): BERT's special tokens, reserved [unusedN] tokens
// for the entity markers, every word the demo can write (lowercased), and single characters as
// ##-pieces so a word outside the demo still tokenizes without [UNK]. Pure: no I/O.
import {
  CAPITALS,
  CITIES,
  COMPANIES,
  COUNTS,
  FIRST_NAMES,
  JOBS,
  LAST_NAMES,
  TEAMS,
  YEARS,
} from './lexicon.ts';
import { TEMPLATES } from './templates.ts';

/** [unused0]..[unused20]: untyped markers use 1–4, typed markers 5+2k / 6+2k for the demo's 4 entity types. */
const UNUSED_COUNT = 21;

/** BERT's basic split of lowercased text: whitespace, then each ASCII punctuation character alone. */
export function basicWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .flatMap((w) => w.split(/([!-/:-@[-`{-~])/))
    .filter((w) => w.length > 0);
}

/** The vocab.txt lines of the demo; `extra` texts (e.g. prediction examples) add their words too. */
export function demoVocabLines(extra: readonly string[] = []): string[] {
  const texts = [
    ...TEMPLATES.map((t) => t.text.replace(/\{[A-Z0-9]+\}/g, ' ')),
    ...FIRST_NAMES,
    ...LAST_NAMES,
    ...CITIES,
    ...COMPANIES,
    ...CAPITALS.flat(),
    ...JOBS,
    ...TEAMS,
    ...YEARS,
    ...COUNTS,
    ...extra,
  ];
  const words = [...new Set(texts.flatMap(basicWords))].sort();
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
  const punct = [...'.,;:!?\'"()-/&%$'];
  const lines = [
    '[PAD]',
    ...Array.from({ length: UNUSED_COUNT }, (_, i) => `[unused${i}]`),
    '[UNK]',
    '[CLS]',
    '[SEP]',
    '[MASK]',
    ...punct,
    ...chars,
    ...chars.map((c) => `##${c}`),
    ...words,
  ];
  return [...new Set(lines)];
}
