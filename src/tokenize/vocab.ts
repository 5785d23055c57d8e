// A BERT vocab.txt read the way Hugging Face's load_vocab reads it (one token a line, id = line index,
// universal newlines, a later duplicate wins). No tokenization here.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RefitError } from '../errors.ts';

/** The special tokens BertTokenizer never splits; HF cuts them out of the text before anything else. */
export const SPECIAL_TOKENS = Object.freeze(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);

const REQUIRED = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] as const;

/** Token ↔ id of one WordPiece vocabulary; ids are line indices of vocab.txt. */
export class Vocab {
  /** Number of ids (lines), i.e. the embedding rows a model needs. */
  readonly size: number;
  /** sha256 (hex) of the token list, including tokens added with `withAdded`. */
  readonly content_hash: string;
  readonly cls_id: number;
  readonly sep_id: number;
  readonly pad_id: number;
  readonly unk_id: number;
  /** Tokens appended after the file's lines (e.g. marker strings), in id order. */
  readonly added: readonly string[];
  /** The file the vocabulary came from ('' when built from lines). */
  readonly path: string;
  private readonly tokens: string[];
  private readonly continuation: Uint8Array;
  private readonly byToken: Map<string, number>;
  /** Lookup for word-initial pieces and for `##`-continuations without their `##`, plus their longest key. */
  readonly whole: Map<string, number>;
  readonly cont: Map<string, number>;
  readonly max_whole_len: number;
  readonly max_cont_len: number;

  private constructor(tokens: string[], path: string, added: string[]) {
    this.tokens = tokens;
    this.path = path;
    this.added = Object.freeze(added.slice());
    this.size = tokens.length;
    this.byToken = new Map();
    this.cont = new Map();
    this.continuation = new Uint8Array(tokens.length);
    let maxWhole = 0;
    let maxCont = 0;
    tokens.forEach((t, i) => {
      this.byToken.set(t, i);
      if (t.length > maxWhole) maxWhole = t.length;
      if (t.startsWith('##') && t.length > 2) {
        this.cont.set(t.slice(2), i);
        this.continuation[i] = 1;
        if (t.length - 2 > maxCont) maxCont = t.length - 2;
      }
    });
    this.whole = this.byToken;
    this.max_whole_len = maxWhole;
    this.max_cont_len = maxCont;
    for (const t of REQUIRED) {
      if (!this.byToken.has(t))
        throw new RefitError(
          'E_VOCAB',
          `${path || 'vocab'}: the vocabulary has no ${t} token; use a BERT vocab.txt`,
        );
    }
    this.cls_id = this.byToken.get('[CLS]')!;
    this.sep_id = this.byToken.get('[SEP]')!;
    this.pad_id = this.byToken.get('[PAD]')!;
    this.unk_id = this.byToken.get('[UNK]')!;
    this.content_hash = createHash('sha256').update(tokens.join('\n')).digest('hex');
  }

  /** Reads a vocab.txt; a missing, empty or non-BERT file is a RefitError naming the path. */
  static fromFile(path: string): Vocab {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new RefitError('E_VOCAB', `${path}: cannot read the vocabulary (${code ?? String(e)})`);
    }
    if (text.length === 0) throw new RefitError('E_VOCAB', `${path}: the vocabulary file is empty`);
    return new Vocab(splitLines(text), path, []);
  }

  /** Builds a vocabulary from token lines (id = index). */
  static fromLines(lines: string[]): Vocab {
    return new Vocab(lines.slice(), '', []);
  }

  /** A new vocabulary with `tokens` that are not in it yet appended (ids size, size+1, …). */
  withAdded(tokens: string[]): Vocab {
    const fresh = [...new Set(tokens)].filter((t) => !this.byToken.has(t));
    if (fresh.length === 0) return this;
    return new Vocab([...this.tokens, ...fresh], this.path, [...this.added, ...fresh]);
  }

  /** The id of `token`, or undefined when it is not in the vocabulary. */
  id(token: string): number | undefined {
    return this.byToken.get(token);
  }

  /** True when `id` is a `##` word-continuation piece. */
  isContinuation(id: number): boolean {
    return this.continuation[id] === 1;
  }

  /** The token string of `id` (throws RangeError outside 0..size-1). */
  token(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length)
      throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.size})`);
    return this.tokens[id];
  }

  /** All tokens in id order, for writing a model's vocab.txt. */
  lines(): string[] {
    return this.tokens.slice();
  }
}

/** Python's text-mode readlines + rstrip('\n'): \r\n, \r and \n all end a line; no extra empty last line. */
function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
