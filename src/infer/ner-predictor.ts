// NER prediction (task: ner runs): text → the model's tokens (a character each for Chinese, whitespace words
// otherwise) → encoded rows → the engine's tag and score at each word's first sub-token → seqeval's entities as
// code-point spans {text, type, start, end, score}. One function for every caller (refit predict, and the text →
// triples pipeline); the engine only turns rows into tags (the torch worker's `eval`, or model.onnx in-process).
import { predictedEntities, sentenceOfText, type EntitySpan, type SentenceText } from '../data/index.ts';
import { encodeNerSentence } from '../encode/index.ts';
import type { LoadedModel, NerTokens, TokenTags } from '../session/index.ts';
import type { Liveness } from './model-worker.ts';

/** Rows for a token head: ids and, per row, the positions of its words' first sub-tokens (the positions read). */
export interface TokenRows {
  input_ids: number[][];
  word_starts: number[][];
}

/**
 * An engine for a token head: encoded rows → the argmax tag id and its softmax probability at each word start; its
 * liveness is its worker's (the server restarts a lost one).
 */
export interface TokenTagger extends Liveness {
  tagRows(rows: TokenRows): Promise<TokenTags>;
  close(): Promise<void>;
}

/** Softmax argmax of one position's logits: the tag id and its probability. */
export function tagOfLogits(row: ArrayLike<number>, at: number, num_labels: number): [number, number] {
  let best = 0;
  let max = -Infinity;
  for (let j = 0; j < num_labels; j++) {
    const v = row[at * num_labels + j];
    if (v > max) ((max = v), (best = j));
  }
  let sum = 0;
  for (let j = 0; j < num_labels; j++) sum += Math.exp(row[at * num_labels + j] - max);
  return [best, 1 / sum];
}

/** Texts split into the model's tokens and encoded as it was trained: one row per text, read at its word starts. */
export function nerRows(
  model: LoadedModel,
  texts: readonly string[],
): { splits: SentenceText[]; rows: TokenRows } {
  // `chars`: every code point but white space (DeepKE's `char TAG` lines have no space tokens); `words`: runs of
  // non-space characters
  const level = model.refit.ner_tokens === 'chars' ? 'char' : 'word';
  const splits = texts.map((t) => sentenceOfText(t, level));
  const encoded = splits.map((s) =>
    encodeNerSentence({
      tokenizer: model.text.tokenizer,
      words: s.tokens,
      labels: new Map(),
      max_seq_len: model.refit.max_seq_len,
    }),
  );
  return {
    splits,
    rows: {
      input_ids: encoded.map((e) => e.ids),
      word_starts: encoded.map((e) => e.word_pos.filter((p) => p >= 0)),
    },
  };
}

/** Predicts entities of texts with a loaded NER model and an engine (see the file's header). */
export class NerPredictor implements Liveness {
  constructor(
    readonly model: LoadedModel,
    private readonly tagger: TokenTagger,
  ) {
    if (model.refit.task !== 'ner' || !model.refit.tags || !model.refit.ner_tokens)
      throw new Error(`${model.dir}: not an NER model`);
  }

  /** The entities of each text, in order (tokens past the model's window get no entity). */
  async entities(texts: readonly string[]): Promise<EntitySpan[][]> {
    const refit = this.model.refit;
    const labels = refit.tags!;
    const { splits, rows } = nerRows(this.model, texts);
    const answer = rows.input_ids.length ? await this.tagger.tagRows(rows) : { tags: [], scores: [] };
    return splits.map((split, i) => {
      const tags = new Array<string>(split.tokens.length).fill('O');
      const scores = new Array<number>(split.tokens.length).fill(0);
      answer.tags[i].forEach((id, w) => {
        tags[w] = labels[id] ?? 'O';
        scores[w] = answer.scores[i][w];
      });
      return predictedEntities({ sentence: split, tags, probs: scores });
    });
  }

  get lost(): Promise<Error> {
    return this.tagger.lost;
  }

  get pid(): number | undefined {
    return this.tagger.pid;
  }

  ping(timeout_ms: number): Promise<void> {
    return this.tagger.ping(timeout_ms);
  }

  close(): Promise<void> {
    return this.tagger.close();
  }
}
