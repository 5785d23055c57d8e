// Small JSON helpers the built-in parser lacks: where a syntax error is (Node 20's JSON.parse message has no
// position), and the physical line where each record of an array starts. Both are single linear scans.
import { DataError } from '../../errors.ts';
import { lineOfOffset } from './text-file.ts';

/** Parses `text` as JSON; on failure returns the 1-based line and column of the first syntax error. */
export function parseJson(
  text: string,
): { ok: true; value: unknown } | { ok: false; line: number; column: number; what: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const at = syntaxErrorOffset(text);
    const line = lineOfOffset(text, at.offset);
    const column = at.offset - (text.lastIndexOf('\n', at.offset - 1) + 1) + 1;
    return { ok: false, line, column, what: at.what || String((e as Error).message).split('\n')[0] };
  }
}

/** The parsed value of a data file's JSON text, or one E_DATA_JSON line at the first syntax error's line. */
export function parseJsonFile(path: string, text: string): unknown {
  const parsed = parseJson(text);
  if (parsed.ok) return parsed.value;
  const why = `broken JSON at column ${parsed.column}: ${parsed.what}`;
  throw new DataError('E_DATA_JSON', { path, line: parsed.line }, why);
}

/** Lines of every `{` that opens a value nested exactly `depth` containers deep (1 = elements of the top array). */
export function objectLines(text: string, depth: number): number[] {
  const lines: number[] = [];
  let level = 0;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // '"': skip the string, honouring backslash escapes
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x0a) line++;
    else if (c === 0x7b || c === 0x5b) {
      // '{' '['
      if (c === 0x7b && level === depth) lines.push(line);
      level++;
    } else if (c === 0x7d || c === 0x5d) level--;
  }
  return lines;
}

/** A minimal recursive-descent JSON checker, used only after JSON.parse failed, to say where. */
function syntaxErrorOffset(text: string): { offset: number; what: string } {
  let i = 0;
  const fail = (what: string): never => {
    throw { offset: Math.min(i, text.length), what };
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${describe(text[i])}`);
  };
  const string = () => {
    for (i++; i < text.length; i++) {
      if (text[i] === '\\') i++;
      else if (text[i] === '"') {
        i++;
        return;
      } else if (text.charCodeAt(i) < 0x20) fail('control character or line break inside a string');
    }
    fail('unterminated string');
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return container('}', true);
    if (c === '[') return container(']', false);
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (!m) fail(`unexpected ${describe(c)}`);
    i += m![0].length;
  };
  const container = (close: string, keyed: boolean): void => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      if (keyed) {
        ws();
        if (text[i] !== '"') fail(`expected a "key", found ${describe(text[i])}`);
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':', found ${describe(text[i])}`);
        i++;
      }
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === close) {
        i++;
        return;
      }
      fail(`expected ',' or '${close}', found ${describe(text[i])}`);
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${describe(text[i])} after the end of the JSON value`);
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'offset' in e) return e as { offset: number; what: string };
    throw e;
  }
  return { offset: 0, what: '' };
}

function describe(c: string | undefined): string {
  return c === undefined ? 'end of input' : `'${c}'`;
}
