// Throughput of tokenize + entity encoding on SanWen train (17,227 sentences, Chinese BERT vocab), one core.
// Run: node --import tsx bench/tokenize-encode.ts   (writes bench/results/tokenize-encode.md)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDataset, relationSetFromExamples, type Example } from '../src/data/index.ts';
import { Vocab, WordPieceTokenizer } from '../src/tokenize/index.ts';
import { defaultMarkers, encodeExample, writeEncodedDataset } from '../src/encode/index.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(REPO, '../shared');
const DATA = path.join(SHARED, 'assets/sanwen/train.txt');
const VOCAB = path.join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt');
const RUNS = 5;
const MAX_SEQ_LEN = 256;

/** Best (lowest) wall time in seconds of `RUNS` runs of `fn`. */
function best(fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return min;
}

async function bestAsync(fn: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return min;
}

async function main(): Promise<void> {
  const { examples } = await readDataset({ path: DATA });
  const vocab = Vocab.fromFile(VOCAB);
  const markers = defaultMarkers(vocab, { typed: false });
  const relations = relationSetFromExamples(examples, 'unknown');
  const chars = examples.reduce((s, e) => s + e.text.length, 0);
  let tokens = 0;
  // Every run builds a fresh tokenizer, so its word cache starts cold as in a real `refit train`.
  const tokenizeOnly = best(() => {
    const tok = new WordPieceTokenizer(vocab, { lowercase: true });
    tokens = 0;
    for (const ex of examples) tokens += tok.ids(ex.text).length;
  });
  let truncated = 0;
  const encode = best(() => {
    const tok = new WordPieceTokenizer(vocab, { lowercase: true });
    truncated = 0;
    for (const ex of examples)
      if (
        encodeExample({ tokenizer: tok, example: ex as Example, max_seq_len: MAX_SEQ_LEN, markers }).truncated
      )
        truncated++;
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'refit-bench-'));
  let fileBytes = 0;
  const write = await bestAsync(async () => {
    rmSync(dir, { recursive: true, force: true });
    const tok = new WordPieceTokenizer(vocab, { lowercase: true });
    const w = await writeEncodedDataset({
      examples,
      relations,
      tokenizer: tok,
      max_seq_len: MAX_SEQ_LEN,
      markers,
      cache_dir: dir,
    });
    fileBytes = w.total_tokens * 4 + w.n * 20;
  });
  const cached = await bestAsync(async () => {
    const tok = new WordPieceTokenizer(vocab, { lowercase: true });
    const w = await writeEncodedDataset({
      examples,
      relations,
      tokenizer: tok,
      max_seq_len: MAX_SEQ_LEN,
      markers,
      cache_dir: dir,
    });
    if (!w.from_cache) throw new Error('expected a cache hit');
  });
  rmSync(dir, { recursive: true, force: true });
  const vocabLoad = best(() => {
    Vocab.fromFile(VOCAB);
  });
  const n = examples.length;
  const rows = [
    ['tokenize only (ids)', tokenizeOnly],
    [`tokenize + encode (markers, truncation to ${MAX_SEQ_LEN})`, encode],
    ['tokenize + encode + write .refit-ds (hash, file, rename)', write],
    ['cache hit (hash inputs, read header and lengths)', cached],
  ] as const;
  const lines = [
    '# tokenize + encode throughput (SanWen train)',
    '',
    'Command: `node --import tsx bench/tokenize-encode.ts` (from the repository root).',
    '',
    `Data: ../shared/assets/sanwen/train.txt, ${n} sentences, ${chars} characters, ${tokens} WordPiece tokens; vocab google_zh_vocab.txt (21128), lower-case. ` +
      `Best of ${RUNS} runs, each with a fresh tokenizer (cold word cache), one thread. Reading the TSV is not timed. ${truncated} examples truncated at ${MAX_SEQ_LEN}.`,
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores, load average ${loadavg()[0].toFixed(1)} while measuring: shared machine, figures are upper bounds), Node ${process.version}. Target: all of SanWen train in under 1 s.`,
    '',
    '| step | seconds | sentences/s | ratio to tokenize only |',
    '|---|---:|---:|---:|',
    ...rows.map(
      ([name, s]) =>
        `| ${name} | ${s.toFixed(3)} | ${Math.round(n / s).toLocaleString('en-US')} | ${(s / tokenizeOnly).toFixed(2)} |`,
    ),
    '',
    `Vocabulary load (vocab.txt → maps): ${(vocabLoad * 1000).toFixed(1)} ms. Encoded file ≈ ${(fileBytes / 1e6).toFixed(2)} MB.`,
    '',
  ];
  const out = path.join(REPO, 'bench/results/tokenize-encode.md');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, lines.join('\n'));
  process.stdout.write(lines.join('\n'));
}

await main();
