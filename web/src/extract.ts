// The predict page's raw-text mode, shown when the server has an NER run (`refit serve --run NER_RUN`, with or
// without `--re-run RE_RUN`): a text goes to POST /v1/extract and comes back with its entities (highlighted in the
// text by type, and listed) and, with a relation run, its triples. Offsets in the answer count code points.
import { getJson } from './nav.ts';
import { codePointToUtf16 } from '../../src/offsets.ts';
import type { EntitySpan } from '../../src/data/ner/types.ts';
import type { Triple } from '../../src/infer/extract.ts';

/** GET /v1/extract: the runs behind the route (re_run null: entities only). */
export interface ExtractInfo {
  ner_run: string;
  re_run: string | null;
  ner_engine: string;
}
/** An entity of the answer: as predicted, so with its score. */
type Entity = Required<EntitySpan>;
/** POST /v1/extract's answer for one text (no `triples` without a relation run). */
export interface Extraction {
  text: string;
  entities: Entity[];
  triples?: Triple[];
}

/** Highlight colours, picked per type by its name (the same type gets the same colour on every text). */
const COLOURS = ['#bfdbfe', '#fecaca', '#bbf7d0', '#fde68a', '#ddd6fe', '#fbcfe8', '#a5f3fc', '#fed7aa'];

function colourOf(type: string): string {
  let h = 0;
  for (const c of type) h = (h * 31 + (c.codePointAt(0) ?? 0)) >>> 0;
  return COLOURS[h % COLOURS.length];
}

export function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  );
}

/** The text as HTML with each entity in a <mark> coloured by its type (code-point offsets → UTF-16 indices). */
export function markedText(text: string, entities: readonly Entity[]): string {
  let html = '';
  let pos = 0;
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    const at = codePointToUtf16(text, e.start);
    const end = codePointToUtf16(text, e.end);
    if (at < pos || end <= at) continue; // overlapping or empty: the first one is shown
    html +=
      esc(text.slice(pos, at)) +
      `<mark class="ent" style="background:${colourOf(e.type)}" data-type="${esc(e.type)}" data-start="${e.start}"` +
      ` data-end="${e.end}" title="${esc(e.type)}"><span class="ent-text">${esc(text.slice(at, end))}</span>` +
      `<span class="ent-type">${esc(e.type)}</span></mark>`;
    pos = end;
  }
  return html + esc(text.slice(pos));
}

const row = (cells: Array<string | number>) =>
  `<tr>${cells.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`;

/** Renders the raw-text form into `root` and wires it to POST /v1/extract. */
export function renderExtract(root: HTMLElement, info: ExtractInfo | null, problem?: string): void {
  const runs = info
    ? `entities from ${info.ner_run} (${info.ner_engine})` +
      (info.re_run ? `, relations from ${info.re_run}` : '; no relation run: entities only')
    : '';
  root.innerHTML = `<h2 id="extract-title">Raw text → entities${info?.re_run === null ? '' : ' and triples'}</h2>
<p id="extract-info" class="muted">${esc(runs)}</p>
<label style="display:flex">text<textarea id="raw-text" rows="3"></textarea></label>
<button id="extract">Extract</button> <span id="extract-error" class="error" role="alert"></span>
<p id="extract-summary" role="status"></p>
<div id="extract-result" hidden><p id="marked" class="marked"></p>
<table id="entities"><caption>entities</caption><thead><tr><th scope="col">text</th><th scope="col">type</th>
<th scope="col">start</th><th scope="col">end</th><th scope="col">score</th></tr></thead><tbody></tbody></table>
<table id="triples"${info?.re_run === null ? ' hidden' : ''}><caption>triples</caption><thead><tr>
<th scope="col">head</th><th scope="col">head type</th><th scope="col">head at</th><th scope="col">relation</th>
<th scope="col">tail</th><th scope="col">tail type</th><th scope="col">tail at</th><th scope="col">score</th>
</tr></thead><tbody></tbody></table></div>`;
  const q = <T extends HTMLElement>(sel: string) => root.querySelector(sel) as T;
  const error = q('#extract-error');
  error.textContent = problem ?? '';

  const show = (x: Extraction): void => {
    q('#marked').innerHTML = markedText(x.text, x.entities);
    q('#entities tbody').innerHTML = x.entities
      .map((e) => row([e.text, e.type, e.start, e.end, e.score.toFixed(3)]))
      .join('');
    q('#triples tbody').innerHTML = (x.triples ?? [])
      .map((t) =>
        row([
          t.head,
          t.head_type,
          t.head_offset,
          t.relation,
          t.tail,
          t.tail_type,
          t.tail_offset,
          t.score.toFixed(3),
        ]),
      )
      .join('');
    q('#extract-result').hidden = false;
    const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
    q('#extract-summary').textContent =
      n(x.entities.length, 'entity', 'entities') +
      (x.triples ? `, ${n(x.triples.length, 'triple', 'triples')}` : '');
  };

  q('#extract').addEventListener('click', () => {
    error.textContent = '';
    q('#extract-summary').textContent = 'extracting…';
    const text = q<HTMLTextAreaElement>('#raw-text').value;
    getJson<Extraction>('/v1/extract', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
    }).then(show, (e: Error) => {
      q('#extract-result').hidden = true;
      q('#extract-summary').textContent = '';
      error.textContent = e.message;
    });
  });
}
