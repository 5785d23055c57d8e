// /plan: the memory planner in the browser. The same planner module as `refit plan` / `refit fit` (src/memory's
// pure files; index.ts also re-exports file readers, which a page cannot use), recomputed as controls move.
import Chart from 'chart.js/auto';
import { fitConfig } from '../../src/memory/fit.ts';
import { GPUS, parseSize } from '../../src/memory/gpus.ts';
import { FIT_LEVERS, LEVERS, PERMITS, type Lever } from '../../src/memory/levers.ts';
import { PRESETS, validateDims } from '../../src/memory/models.ts';
import { planConfig, type ShapeConfig, type ShapeFacts } from '../../src/memory/run-shape.ts';
import type { GpuSpec, MemoryPlan, ModelDims, RunShape } from '../../src/memory/types.ts';
import { formatBytes } from '../../src/bytes.ts';
import { renderNav } from './nav.ts';
import './style.css';

const COLORS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#475569',
];
const opt = (values: readonly string[], selected: string) =>
  values.map((v) => `<option${v === selected ? ' selected' : ''}>${v}</option>`).join('');

/**
 * The levers the page has a control for: every `memory.*` and `model.lora.*` lever with a `refit plan` flag, from the
 * lever table (the batch size and the length are the run's own numbers, above them). The control's id is the flag's
 * name.
 */
const CONTROLLED = LEVERS.filter(
  (l) =>
    (l.key.startsWith('memory.') || l.key.startsWith('model.lora.')) &&
    l.flag?.plan &&
    l.name !== 'micro_batch_size' &&
    l.name !== 'max_seq_len',
);

/** A lever's control: a select of its values, a checkbox for on/off, a number for an integer. */
function control(l: Lever): string {
  const id = l.flag!.name;
  const label = l.name.replace(/_/g, ' ');
  if (l.values) {
    const chosen = l.values.includes(String(l.default)) ? String(l.default) : l.values[0];
    return `<label>${label}<select id="${id}">${opt(l.values, chosen)}</select></label>`;
  }
  if (l.schema.type === 'integer')
    return `<label>${label}<input id="${id}" type="number" min="${l.schema.minimum}" value="${l.default ?? 0}"></label>`;
  return `<label>${label}<input id="${id}" type="checkbox"${l.default === true ? ' checked' : ''}></label>`;
}

/** A control's value as the lever's config value. */
function controlValue(l: Lever): unknown {
  const input = document.getElementById(l.flag!.name) as HTMLInputElement;
  if (l.values) return input.value;
  if (l.schema.type === 'integer') return Number(input.value);
  return input.checked;
}

renderNav('/plan');
const app = document.getElementById('app') as HTMLElement;
app.innerHTML = `<h1>Memory planner</h1><p class="muted">Same planner as <code>refit plan</code> and <code>refit fit</code>.</p>
<section id="controls">
<label>model<select id="model">${opt([...Object.keys(PRESETS), 'config.json'], 'bert-base')}</select></label>
<label>GPU<select id="gpu">${opt([...Object.keys(GPUS), 'custom size'], 'RTX 3060')}</select></label>
<label>GPU memory<input id="gpu-size" value="12GB" disabled></label>
<label>engine<select id="engine">${opt(['refit', 'hf'], 'refit')}</select></label>
<label>mode<select id="mode">${opt(['train', 'infer'], 'train')}</select></label>
<label>batch size<input id="batch" type="number" min="1" max="4096" value="32"></label>
<label>&nbsp;<input id="batch-range" type="range" min="1" max="512" value="32"></label>
<label>sequence length<input id="seq" type="number" min="8" max="512" step="8" value="256"></label>
<label>relations<input id="labels" type="number" min="2" value="10"></label>
${CONTROLLED.map(control).join('\n')}
<label id="config-box" hidden style="display:flex">config.json<textarea id="config-json" rows="6">{"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 21128, "max_position_embeddings": 512, "type_vocab_size": 2}</textarea></label>
</section>
<section><div id="verdict" class="verdict"></div> <span id="peak" class="muted"></span>
<div class="chart" style="height:180px"><canvas id="plan-chart"></canvas></div><div id="breakdown"></div></section>
<section><button id="fit">Fit: what would refit fit choose?</button> <span class="muted">keeps the batch size above as the effective batch</span>
<div class="muted">allow, when nothing exact fits (changes the numerics; memory.allow):
${PERMITS.map((p) => `<label><input id="allow-${p}" type="checkbox"> ${p}</label>`).join(' ')}</div>
<div id="fit-result"></div></section>`;

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const val = (id: string) => el<HTMLInputElement>(id).value;
let chart: Chart | undefined;

function readModel(): ModelDims {
  if (val('model') !== 'config.json') return PRESETS[val('model') as keyof typeof PRESETS];
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(val('config-json'));
  } catch (e) {
    throw new Error(`config.json: not valid JSON (${(e as Error).message})`);
  }
  const base = PRESETS['bert-base'] as ModelDims;
  const dims = Object.fromEntries(
    Object.keys(base).map((k) => [k, raw[k] ?? (base as unknown as Record<string, number>)[k]]),
  );
  return validateDims(dims as unknown as ModelDims, 'config.json');
}

function readGpu(): GpuSpec {
  if (val('gpu') !== 'custom size') return GPUS[val('gpu')];
  return { name: val('gpu-size'), memory_bytes: parseSize(val('gpu-size')), bf16: true };
}

/**
 * The controls as a config: every `memory.*` lever at its table default, the controlled ones as set, the batch as the
 * effective batch in one micro-batch, the length as memory.max_seq_len.
 */
function readConfig(): ShapeConfig {
  const memory: Record<string, unknown> = Object.fromEntries(
    LEVERS.filter((l) => l.key.startsWith('memory.')).map((l) => [l.name, l.default]),
  );
  // model.lora.*: the table's defaults, the controlled rank as set
  const lora: Record<string, unknown> = Object.fromEntries(
    LEVERS.filter((l) => l.key.startsWith('model.lora.')).map((l) => [l.key.split('.').pop(), l.default]),
  );
  for (const l of CONTROLLED)
    if (l.key.startsWith('memory.')) memory[l.name] = controlValue(l);
    else lora[l.key.split('.').pop()!] = controlValue(l);
  memory.max_seq_len = Number(val('seq'));
  memory.allow = PERMITS.filter((p) => el<HTMLInputElement>(`allow-${p}`).checked);
  return {
    train: { batch_size: Number(val('batch')) },
    memory: memory as unknown as ShapeConfig['memory'],
    model: { head: 'entity-start', lora },
    data: { num_relations: Number(val('labels')) },
  };
}

/** The facts of the controls: the engine and the mode (no data, one process). */
function readFacts(): ShapeFacts {
  return { engine: val('engine') as ShapeFacts['engine'], mode: val('mode') as RunShape['mode'] };
}

function drawPlan(plan: MemoryPlan): void {
  const fits = plan.fits === true;
  el('verdict').textContent = fits ? 'fits' : 'does not fit';
  el('verdict').className = `verdict ${fits ? 'fits' : 'nofit'}`;
  el('verdict').dataset.peak = String(plan.peak_device_bytes); // the exact figure `refit plan --json` prints
  el('peak').textContent =
    `predicted peak ${formatBytes(plan.peak_device_bytes)} of ${formatBytes(plan.budget_bytes)} (${plan.peak_phase}); ${(plan.params / 1e6).toFixed(1)} M parameters`;
  const parts = Object.entries(plan.breakdown).filter(([, v]) => v > 0);
  el('breakdown').innerHTML =
    '<table><tr>' +
    parts.map(([k]) => `<th>${k}</th>`).join('') +
    '</tr><tr>' +
    parts.map(([, v]) => `<td>${formatBytes(v)}</td>`).join('') +
    '</tr></table>' +
    // offload: what the run keeps in host memory instead (pinned on CUDA), as `refit plan --offload` lists it
    (plan.host
      ? `<p id="host-bytes">host memory (offload ${plan.config.offload}): ${formatBytes(plan.host.total)} — ` +
        `optimizer ${formatBytes(plan.host.optimizer)}, fp32 copy ${formatBytes(plan.host.master_weights)}, ` +
        `gradients ${formatBytes(plan.host.gradients)}, activations ${formatBytes(plan.host.activations)}</p>`
      : '');
  const data = {
    labels: ['predicted', 'GPU'],
    datasets: [
      ...parts.map(([k, v], i) => ({
        label: k,
        data: [v, null] as (number | null)[],
        backgroundColor: COLORS[i % COLORS.length],
        stack: 'm',
      })),
      {
        label: 'GPU memory',
        data: [null, plan.budget_bytes ?? null],
        backgroundColor: '#94a3b8',
        stack: 'm',
      },
    ],
  };
  if (chart) {
    chart.data = data;
    chart.update('none');
    return;
  }
  chart = new Chart(el<HTMLCanvasElement>('plan-chart'), {
    type: 'bar',
    data,
    options: {
      indexAxis: 'y',
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, ticks: { callback: (v) => formatBytes(Number(v)) } },
        y: { stacked: true },
      },
      plugins: {
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${formatBytes(c.raw as number)}` } },
      },
    },
  });
}

function update(): void {
  el<HTMLInputElement>('gpu-size').disabled = val('gpu') !== 'custom size';
  el('config-box').hidden = val('model') !== 'config.json';
  try {
    // the one planning path, as `refit plan -c` plans a config
    drawPlan(
      planConfig({ config: readConfig(), facts: readFacts(), model: readModel(), gpu: readGpu() }).plan,
    );
  } catch (e) {
    el('verdict').textContent = (e as Error).message;
    el('verdict').className = 'verdict err';
    el('peak').textContent = '';
  }
}

function fit(): void {
  try {
    const r = fitConfig({ config: readConfig(), facts: readFacts(), model: readModel(), gpu: readGpu() });
    // one column per lever fit searches (the lever table), between the split and the length
    const shown = (v: unknown) => (typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v));
    const row = (c: typeof r) =>
      `<tr><td>${c.config.micro_batch_size} × ${c.config.grad_accumulation}</td>` +
      FIT_LEVERS.map(
        (l) => `<td>${shown((c.config as unknown as Record<string, unknown>)[l.name])}</td>`,
      ).join('') +
      `<td>${c.config.seq_len} (${c.config.padding})</td><td>${formatBytes(c.peak_device_bytes)}</td>` +
      `<td>${c.fits ? 'fits' : 'does not fit'}</td><td>${c.predicted_examples_per_s.toFixed(0)}</td></tr>`;
    const heads = FIT_LEVERS.map((l) => `<th>${l.name.replace(/_/g, ' ')}</th>`).join('');
    el('fit-result').innerHTML =
      `<p id="fit-verdict">${r.fits ? 'refit fit would choose' : 'nothing fits; the closest is'}:</p><table>` +
      `<tr><th>micro-batch × accumulation</th>${heads}<th>length</th><th>peak</th><th>verdict</th>` +
      '<th>examples/s (predicted)</th></tr>' +
      row(r) +
      r.alternatives
        .slice(0, 5)
        .map((a) => row(a as typeof r))
        .join('') +
      '</table>';
    el('fit-result').dataset.choice = JSON.stringify(r.config); // the exact choice `refit fit --json` prints
  } catch (e) {
    el('fit-result').innerHTML = `<p class="error"></p>`;
    (el('fit-result').firstChild as HTMLElement).textContent = (e as Error).message;
  }
}

el('batch-range').addEventListener('input', () => {
  el<HTMLInputElement>('batch').value = val('batch-range');
  update();
});
el('batch').addEventListener('input', () => {
  el<HTMLInputElement>('batch-range').value = val('batch');
  update();
});
el('controls').addEventListener('input', update);
el('controls').addEventListener('change', update);
el('fit').addEventListener('click', fit);
update();
