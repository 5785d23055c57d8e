// Log text → a clean text plus a whitespace-free "compact" copy with a position map, so that messages
// wrapped at any column (even inside a word or number) still match. Pure; no I/O.

/** Cleaned text and its whitespace-free copy; `map[i]` is the index in `text` of `compact[i]`. */
export interface NormalizedText {
  text: string;
  compact: string;
  map: Int32Array;
  /**
   * Lines that carried a rank prefix (`[rank1]:`, `[default1]:`, mpirun's `[job,1]<stderr>:`): start in
   * `text` and rank, in order.
   */
  ranks: Array<{ start: number; rank: number }>;
}

// ANSI colour/cursor sequences (tqdm, rich, coloured loggers).
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07/g;
// Per-line prefixes that launchers add to every line of a worker's output (torchrun `[rank0]:`, accelerate/
// deepspeed `[default0]:`, mpirun `[1,0]<stderr>:`), and quoting in issues and code (markdown `> `, `# `, `// `).
const LINE_PREFIX_RE =
  /^(?:\[(?:rank|default)\d+\]:|\[\d+,\d+\]<std(?:out|err)>:|[ \t]*(?:>[ \t]?)+|[ \t]*(?:#|\/\/)(?=[ \t]))[ \t]?/gm;
// A message quoted inside a JSON string or a Python repr carries literal "\n" escapes.
const ESCAPED_BREAK_RE = /\\[nrt]/g;

// Whitespace removed in the compact copy (must match the loop in normalizeLog).
const SPACE_RE = /[ \t\n\v\f\u00a0]+/g;

/** Cleans log text (ANSI, `\r` progress bars, launcher prefixes) and builds the compact copy. */
export function normalizeLog(raw: string): NormalizedText {
  // Line by line, so that the rank a launcher prefix named is kept for the line after the prefix is gone.
  const ranks: NormalizedText['ranks'] = [];
  let at = 0;
  const text = raw
    .replace(ANSI_RE, '')
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => {
      const m = RANK_PREFIX_RE.exec(line);
      const clean = line.replace(LINE_PREFIX_RE, '').replace(ESCAPED_BREAK_RE, ' ');
      if (m) ranks.push({ start: at, rank: Number(m[1] ?? m[2]) });
      at += clean.length + 1;
      return clean;
    })
    .join('\n');
  const map = new Int32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Same set as SPACE_RE: space, \t \n \v \f, no-break space.
    if (c === 32 || (c >= 9 && c <= 12) || c === 0xa0) continue;
    map[n++] = i;
  }
  const compact = text.replace(SPACE_RE, '');
  return { text, compact, map: map.subarray(0, n), ranks };
}

// The rank in a launcher prefix: torchrun `[rank1]:`, accelerate/deepspeed `[default1]:`, mpirun `[job,1]<stderr>:`.
const RANK_PREFIX_RE = /^(?:\[(?:rank|default)(\d+)\]:|\[\d+,(\d+)\]<std(?:out|err)>:)/;

/** The rank whose prefixed line holds text position `pos`, or undefined when that line had no rank prefix. */
export function rankAt(norm: NormalizedText, pos: number): number | undefined {
  let found: number | undefined;
  const lineStart = norm.text.lastIndexOf('\n', pos - 1) + 1;
  for (const r of norm.ranks) {
    if (r.start > lineStart) break;
    if (r.start === lineStart) found = r.rank;
  }
  return found;
}

/** The first compact index whose text position is ≥ `pos` (binary search). */
export function compactIndexOf(norm: NormalizedText, pos: number): number {
  let lo = 0;
  let hi = norm.map.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (norm.map[mid] < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The text position of compact index `ci` (the end of the text when `ci` is past the end). */
export function textIndexOf(norm: NormalizedText, ci: number): number {
  return ci < norm.map.length ? norm.map[ci] : norm.text.length;
}

/** The text between `start` and the end of the line holding position `end - 1`, whitespace collapsed. */
export function excerpt(text: string, start: number, end: number): string {
  let stop = text.indexOf('\n', Math.max(start, end - 1));
  if (stop < 0) stop = text.length;
  return text.slice(start, stop).replace(/\s+/g, ' ').trim();
}
