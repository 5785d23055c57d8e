// The NER reader registry: one frozen map from format name to NerReader. Add a format by adding a reader and a line.
import { conllNerReader, deepkeNerReader, weiboConllReader, type NerReader } from './readers.ts';

/** Every NER format refit reads, by the name `data.format` uses; in sniff tie-break order. */
export const NER_READERS: Readonly<Record<string, NerReader>> = Object.freeze({
  'deepke-ner': deepkeNerReader,
  conll: conllNerReader,
  'weibo-conll': weiboConllReader,
});
