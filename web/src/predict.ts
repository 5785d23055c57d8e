// /: the predict form. Type a sentence, mark head and tail (select text and press a button, or type them),
// and see the relation with the top probabilities, from POST /v1/predict. When the server has an NER run
// (GET /v1/extract answers), the raw-text form (extract.ts) comes first; with an NER run alone, it is the page.
import Chart from 'chart.js/auto';
import { getJson, renderNav } from './nav.ts';
import { esc, renderExtract, type ExtractInfo } from './extract.ts';
import { utf16ToCodePoint } from '../../src/offsets.ts';
import './style.css';

interface ModelInfo {
  relations: string[];
  na_label: string | null;
  max_seq_len: number;
}
interface Prediction {
  relation?: string;
  score?: number;
  top?: Array<{ relation: string; score: number }>;
  error?: string;
}

renderNav('/');
const app = document.getElementById('app') as HTMLElement;
app.innerHTML = `<h1 id="page-title">Predict a relation</h1><section id="extract-box" hidden></section>
<div id="relation-box"><p id="model-info" class="muted">loading model…</p>
<section><label style="display:flex">sentence<textarea id="text" rows="3">Marie Curie was born in Warsaw.</textarea></label>
<div><button id="mark-head" class="secondary" title="select text in the sentence first">selection → head</button>
<button id="mark-tail" class="secondary" title="select text in the sentence first">selection → tail</button></div>
<label>head<input id="head" value="Marie Curie"></label><label>tail<input id="tail" value="Warsaw"></label>
<label>top k<input id="top-k" type="number" min="1" max="20" value="5"></label>
<p id="preview"></p><button id="predict">Predict</button> <span id="error" class="error"></span></section>
<section id="result-box" hidden><div>relation: <span id="relation" class="result"></span> <span id="score" class="muted"></span></div>
<div class="chart"><canvas id="top-chart"></canvas></div></section></div>`;

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const text = el<HTMLTextAreaElement>('text');
/** Where the marked head/tail start in the textarea, in UTF-16 units (converted to code points when sent). */
const offsets: { head?: number; tail?: number } = {};
let chart: Chart | undefined;

/** Shows the sentence with head and tail highlighted where they will be found. */
function preview(): void {
  const t = text.value;
  const spans = (['head', 'tail'] as const)
    .map((role) => {
      const name = el<HTMLInputElement>(role).value;
      const at = offsets[role] ?? (name ? t.indexOf(name) : -1);
      return { role, at, end: at + name.length };
    })
    .filter((s) => s.at >= 0 && s.end > s.at)
    .sort((a, b) => a.at - b.at);
  let html = '';
  let pos = 0;
  for (const s of spans) {
    if (s.at < pos) continue;
    html += esc(t.slice(pos, s.at)) + `<mark class="${s.role}">${esc(t.slice(s.at, s.end))}</mark>`;
    pos = s.end;
  }
  el('preview').innerHTML = html + esc(t.slice(pos));
}

function mark(role: 'head' | 'tail'): void {
  const { selectionStart: a, selectionEnd: b } = text;
  if (a === b) {
    el('error').textContent = 'select part of the sentence first';
    return;
  }
  el<HTMLInputElement>(role).value = text.value.slice(a, b);
  offsets[role] = a;
  el('error').textContent = '';
  preview();
}

function show(p: Prediction): void {
  el('result-box').hidden = false;
  el('relation').textContent = p.relation ?? '–';
  el('score').textContent = p.score !== undefined ? `p = ${p.score.toFixed(3)}` : '';
  const top = p.top ?? [];
  const data = {
    labels: top.map((t) => t.relation),
    datasets: [{ label: 'probability', data: top.map((t) => t.score), backgroundColor: '#2563eb' }],
  };
  if (chart) {
    chart.data = data;
    chart.update();
    return;
  }
  chart = new Chart(el<HTMLCanvasElement>('top-chart'), {
    type: 'bar',
    data,
    options: {
      indexAxis: 'y',
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { min: 0, max: 1 } },
    },
  });
}

async function predict(): Promise<void> {
  el('error').textContent = '';
  const item: Record<string, unknown> = {
    text: text.value,
    head: el<HTMLInputElement>('head').value,
    tail: el<HTMLInputElement>('tail').value,
  };
  // the selection is in UTF-16 units; the API counts code points (an emoji or U+20000+ CJK character is one)
  if (offsets.head !== undefined) item.head_offset = utf16ToCodePoint(text.value, offsets.head);
  if (offsets.tail !== undefined) item.tail_offset = utf16ToCodePoint(text.value, offsets.tail);
  try {
    const p = await getJson<Prediction>(
      `/v1/predict?top_k=${Number(el<HTMLInputElement>('top-k').value) || 5}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(item) },
    );
    if (p.error) throw new Error(p.error);
    show(p);
  } catch (e) {
    el('error').textContent = (e as Error).message;
  }
}

for (const role of ['head', 'tail'] as const) {
  el(`mark-${role}`).addEventListener('click', () => mark(role));
  el(role).addEventListener('input', () => {
    delete offsets[role];
    preview();
  });
}
text.addEventListener('input', () => {
  delete offsets.head;
  delete offsets.tail;
  preview();
});
el('predict').addEventListener('click', () => void predict());
preview();
getJson<ModelInfo>('/v1/model').then(
  (m) => {
    el('model-info').textContent =
      `${m.relations.length} relations (NA: ${m.na_label ?? 'none'}), max length ${m.max_seq_len} tokens: ${m.relations.join(', ')}`;
  },
  (e: Error) => {
    el('model-info').textContent = e.message;
  },
);
// An NER run on the server (GET /v1/extract is there, even if its model is down): the raw-text form first
fetch('/v1/extract').then(
  async (r) => {
    if (r.status === 404) return; // no NER run: the relation form alone
    const body = (await r.json().catch(() => ({}))) as ExtractInfo & { error?: string };
    const info = r.ok ? body : null;
    const box = el('extract-box');
    box.hidden = false;
    renderExtract(box, info, r.ok ? undefined : (body.error ?? `HTTP ${r.status}`));
    el('page-title').textContent = info?.re_run === null ? 'Find entities' : 'Extract entities and relations';
    el('relation-box').hidden = info?.re_run === null; // an NER run alone has no relation run to predict with
  },
  () => undefined,
);
