// A peer bench against DeepKE's own code: DeepKE's LM model trained by DeepKE's unmodified run.py (as shipped, every
// batch padded to 512, and with dynamic padding), `refit train -c conf/` (the deepke-lm head) and refit's default head,
// side by side in one run on the same data, the same random-init Hugging Face folder and the same epochs; then
// `refit import-deepke` of DeepKE's checkpoint and `refit predict` against DeepKE's own predict.py on the same rows.
//
// DeepKE runs under a Python of its own (--python), never refit's: one with torch, transformers, OmegaConf,
// scikit-learn, matplotlib and jieba. Hydra is not needed: bench/peer-deepke-shim.py composes DeepKE's conf/ as
// Hydra 1.0 does and calls run.py's and predict.py's main() bodies unmodified. refit runs from this checkout
// (bin/refit.mjs: `npm run build` first; its worker uses refit's own Python, or REFIT_PYTHON).
//
// One way to get such a Python (Debian unstable packages transformers 5, torch 2.14 and OmegaConf; run as root):
//   apt-get install debootstrap
//   debootstrap --variant=minbase unstable /srv/sid http://deb.debian.org/debian
//   cp /etc/resolv.conf /srv/sid/etc/; mount -t proc proc /srv/sid/proc
//   chroot /srv/sid apt-get install --no-install-recommends python3-torch python3-transformers python3-omegaconf \
//     python3-sklearn python3-matplotlib python3-jieba
//   for d in "$(realpath ..)" /tmp; do mkdir -p "/srv/sid$d"; mount --bind "$d" "/srv/sid$d"; done
//     (the checkout and ../shared, the DeepKE folder and --work must sit at the same paths inside the chroot)
// DeepKE's source (github.com/zjunlp/DeepKE; example/re/standard and src/deepke/relation_extraction/standard are read):
//   git clone https://github.com/zjunlp/DeepKE /tmp/deepke
//
// Run: nice -n 10 node --import tsx bench/peer-deepke.ts --deepke /tmp/deepke --python 'chroot /srv/sid python3'
//   [--data ../shared/assets/deepke-re-standard] [--vocab ../shared/assets/bert-vocab/google_zh_vocab.txt]
//   [--train 128] [--valid 64] [--test 100] [--epochs 1] [--layers 2] [--hidden 256] [--rows 60]
//   [--work DIR] [--out bench/results]
// Only the page again, from a run's saved figures: node --import tsx bench/peer-deepke.ts --from $WORK/peer-deepke.json
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SHIM = join(ROOT, 'bench/peer-deepke-shim.py');
const REFIT = join(ROOT, 'bin/refit.mjs');
const argv = process.argv.slice(2);
const arg = (name: string, dflt?: string): string => {
  const i = argv.indexOf(name);
  if (i >= 0 && argv[i + 1] !== undefined) return argv[i + 1];
  if (dflt === undefined) throw new Error(`peer-deepke: ${name} is required`);
  return dflt;
};
/** A saved run's peer-deepke.json: only render its results page again. */
const FROM = argv.includes('--from') ? resolve(arg('--from')) : undefined;
const DEEPKE = resolve(arg('--deepke', FROM ? '.' : undefined));
const PYTHON = arg('--python', FROM ? '' : undefined)
  .split(/\s+/)
  .filter(Boolean);
const DATA = resolve(arg('--data', join(ROOT, '../shared/assets/deepke-re-standard')));
const VOCAB = resolve(arg('--vocab', join(ROOT, '../shared/assets/bert-vocab/google_zh_vocab.txt')));
const SIZES = {
  train: Number(arg('--train', '128')),
  valid: Number(arg('--valid', '64')),
  test: Number(arg('--test', '100')),
};
const EPOCHS = Number(arg('--epochs', '1'));
const LAYERS = Number(arg('--layers', '2'));
const HIDDEN = Number(arg('--hidden', '256'));
const ROWS = Number(arg('--rows', '60'));
const WORK = argv.includes('--work')
  ? resolve(arg('--work'))
  : FROM
    ? ''
    : mkdtempSync(join(tmpdir(), 'refit-peer-deepke-'));
const OUT = resolve(arg('--out', join(ROOT, 'bench/results')));
const PROJECT = join(WORK, 'project');
const LM = join(PROJECT, 'lm');
const RUNS = join(WORK, 'runs');

/** The figures of one contender, each as that contender computes it. */
interface Row {
  name: string;
  examples_per_s: number | null;
  timed_steps: number;
  peak_rss_bytes: number | null;
  test_macro_f1: number | null;
  wall_s: number;
}

const commands: string[] = [];

/** Runs a command to the end (its stderr passed through), recorded for the results page. */
function sh(cmd: string[]): { out: string; wall_s: number } {
  commands.push(cmd.map((c) => (/[\s'"]/.test(c) ? `'${c}'` : c)).join(' '));
  process.stderr.write(`$ ${commands.at(-1)}\n`);
  const t0 = performance.now();
  const r = spawnSync(cmd[0], cmd.slice(1), {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const wall_s = (performance.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`peer-deepke: ${cmd.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}`);
  return { out: r.stdout, wall_s };
}
/** One shim command; its answer is the last line of its stdout (JSON). */
const shim = (...args: string[]) => {
  const r = sh([...PYTHON, SHIM, ...args]);
  return { ...JSON.parse(r.out.trim().split('\n').at(-1)!), wall_s: r.wall_s };
};
const refit = (...args: string[]) => sh(['node', REFIT, ...args]);

/** The same model size for every contender: DeepKE's keys, which `refit train -c conf/` takes as DeepKE does. */
const DEEPKE_KEYS = [
  `lm_file=${LM}`,
  `num_hidden_layers=${LAYERS}`,
  `input_size=${HIDDEN}`,
  `epoch=${EPOCHS}`,
  'use_gpu=false',
];

/** refit's ONNX export after training is left out: DeepKE has none, and it only adds wall time. */
const NO_EXPORT = ['export.onnx=false'];

interface StepEvent {
  event: 'step';
  time: string;
  epoch: number;
  examples: number;
  memory: { peak_rss_bytes?: number };
}

/** examples/s over steps 2..n of each epoch (start-up, the first step and evaluation left out), as DeepKE's. */
function refitRow(name: string, run: string, wall_s: number): Row {
  const events = readFileSync(join(run, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { event: string })
    .filter((e): e is StepEvent => e.event === 'step');
  let examples = 0;
  let seconds = 0;
  let timed = 0;
  for (const epoch of new Set(events.map((e) => e.epoch))) {
    const steps = events.filter((e) => e.epoch === epoch);
    if (steps.length < 2) continue;
    examples += steps.slice(1).reduce((a, e) => a + e.examples, 0);
    seconds += (Date.parse(steps.at(-1)!.time) - Date.parse(steps[0].time)) / 1000;
    timed += steps.length - 1;
  }
  const metrics = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  return {
    name,
    examples_per_s: examples / seconds,
    timed_steps: timed,
    peak_rss_bytes: Math.max(...events.map((e) => e.memory.peak_rss_bytes ?? 0)),
    test_macro_f1: metrics.test?.macro_f1 ?? NaN,
    wall_s,
  };
}

function main(): void {
  if (FROM) return void writePage(JSON.parse(readFileSync(FROM, 'utf8')) as Result);
  if (!existsSync(REFIT)) throw new Error('peer-deepke: run `npm run build` first (bin/refit.mjs → dist/)');
  mkdirSync(RUNS, { recursive: true });
  cpSync(join(DEEPKE, 'example/re/standard/conf'), join(PROJECT, 'conf'), { recursive: true });
  const prep = shim(
    'prepare',
    ...['--data', DATA, '--vocab', VOCAB, '--project', PROJECT],
    ...['--train', `${SIZES.train}`, '--valid', `${SIZES.valid}`, '--test', `${SIZES.test}`],
    ...['--layers', `${LAYERS}`, '--hidden', `${HIDDEN}`],
  );
  process.stderr.write(`prepared ${JSON.stringify(prep)}\n`);

  const rows: Row[] = [];
  const deepke = (name: string, dynamic: boolean) => {
    const r = shim(
      'train',
      '--deepke',
      DEEPKE,
      '--project',
      PROJECT,
      ...(dynamic ? ['--dynamic-padding'] : []),
      ...DEEPKE_KEYS,
    );
    rows.push({
      name,
      examples_per_s: r.examples_per_s,
      timed_steps: r.timed_steps,
      peak_rss_bytes: r.train_peak_rss_bytes,
      test_macro_f1: r.test.macro_f1,
      wall_s: r.wall_s,
    });
    return r;
  };
  const shipped = deepke('DeepKE run.py, as shipped (every batch padded to 512)', false);
  deepke('DeepKE run.py, dynamic padding (collate and mask cut to the batch longest)', true);

  const lmRun = join(RUNS, 'refit-deepke-lm');
  const lm = refit(
    'train',
    '-c',
    join(PROJECT, 'conf'),
    ...DEEPKE_KEYS,
    ...NO_EXPORT,
    '--out',
    lmRun,
    '--progress',
    'none',
    '--force',
  );
  rows.push(refitRow('refit train -c conf/ (deepke-lm head)', lmRun, lm.wall_s));

  const origin = join(PROJECT, 'data/origin');
  const headRun = join(RUNS, 'refit-default-head');
  const head = refit(
    'train',
    ...[`data.train=${origin}/train.csv`, `data.valid=${origin}/valid.csv`, `data.test=${origin}/test.csv`],
    ...[`data.relations=${origin}/relation.csv`, `model.pretrained=${LM}`, `train.epochs=${EPOCHS}`],
    ...['train.batch_size=32', 'device=cpu', ...NO_EXPORT, '--out', headRun, '--progress', 'none', '--force'],
  );
  rows.push(refitRow("refit train, refit's default head", headRun, head.wall_s));

  // DeepKE's last checkpoint into a refit run, then both predictors on the same test rows (types as DeepKE's eval
  // gives them: relation.csv's pair for the row's gold relation; no offsets, so both replace the first occurrence).
  const imported = join(RUNS, 'imported');
  refit(
    'import-deepke',
    ...['--conf', join(PROJECT, 'conf'), '--checkpoint', shipped.checkpoint, '--out', imported, '--force'],
    ...DEEPKE_KEYS,
  );
  const types = new Map<string, [string, string]>();
  for (const line of readFileSync(join(origin, 'relation.csv'), 'utf8').trim().split('\n').slice(1)) {
    const [h, t, rel] = line.split(',');
    types.set(rel, [h, t]);
  }
  const test = csvRows(readFileSync(join(origin, 'test.csv'), 'utf8')).slice(0, ROWS);
  const items = test.map((r) => ({
    text: r.sentence,
    head: r.head,
    tail: r.tail,
    head_type: types.get(r.relation)![0],
    tail_type: types.get(r.relation)![1],
  }));
  const rowsFile = join(WORK, 'predict-rows.jsonl');
  writeFileSync(rowsFile, items.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const ours = refit('predict', '--run', imported, '--input', rowsFile, '--top-k', '100')
    .out.trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as { relation: string; score: number; top: Array<{ relation: string; score: number }> },
    );
  const theirs = shim(
    'predict',
    ...['--deepke', DEEPKE, '--project', PROJECT, '--rows', rowsFile],
    ...DEEPKE_KEYS,
    `fp=${shipped.checkpoint}`,
  ).predictions as Array<{ relation: string; said: string; probs: Record<string, number> }>;
  let same = 0;
  let saidSame = 0;
  let maxDiff = 0;
  theirs.forEach((t, i) => {
    if (ours[i].relation === t.relation) same++;
    if (t.said.includes(`"${ours[i].relation}"`)) saidSame++;
    for (const o of ours[i].top) maxDiff = Math.max(maxDiff, Math.abs(o.score - t.probs[o.relation]));
  });
  const result: Result = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? '?', load_at_end: loadavg() },
    settings: { ...SIZES, epochs: EPOCHS, layers: LAYERS, hidden: HIDDEN, rows: ROWS },
    places: { work: WORK, deepke: DEEPKE, root: ROOT },
    deepke_torch: shipped.torch,
    prepared: prep,
    rows,
    predict: { rows: theirs.length, same, said_same: saidSame, max_prob_diff: maxDiff },
    commands,
  };
  writeFileSync(join(WORK, 'peer-deepke.json'), JSON.stringify(result, null, 2) + '\n');
  writePage(result);
}

function writePage(r: Result): void {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'peer-deepke.md'), page(r));
  process.stdout.write(page(r));
}

/** Rows of a CSV file with a header (RFC 4180 quoting, as Python's csv module writes it). */
function csvRows(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') ((field += '"'), i++);
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (record.push(field), (field = ''));
    else if (c === '\n') (record.push(field), records.push(record), (record = []), (field = ''));
    else if (c !== '\r') field += c;
  }
  if (field || record.length) (record.push(field), records.push(record));
  const [header, ...body] = records;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

/** Everything one run measured, saved as $WORK/peer-deepke.json; the results page is rendered from it. */
interface Result {
  date: string;
  machine: { cores: number; cpu: string; load_at_end: number[] };
  settings: {
    train: number;
    valid: number;
    test: number;
    epochs: number;
    layers: number;
    hidden: number;
    rows: number;
  };
  places: { work: string; deepke: string; root: string };
  deepke_torch: string;
  prepared: unknown;
  rows: Row[];
  predict: { rows: number; same: number; said_same: number; max_prob_diff: number };
  commands: string[];
}

/** A command as the results page shows it: the bench's folders by their argument names, not this machine's paths. */
function shown(line: string, places: Result['places']): string {
  const names: Array<[string, string]> = [
    [places.work, '$WORK'],
    [places.deepke, '$DEEPKE'],
    [resolve(places.root, '../shared'), '../shared'],
    [places.root, '.'],
  ];
  return names.reduce((l, [path, name]) => l.split(path).join(name), line);
}

function page(r: Result): string {
  const fixed = (x: number | null, digits: number) =>
    x === null || Number.isNaN(x) ? '–' : x.toFixed(digits);
  const mib = (b: number | null) => (b ? `${(b / 2 ** 20).toFixed(0)} MiB` : '–');
  const s = r.settings;
  return [
    `# Peer bench: DeepKE's own code vs refit (${r.date.slice(0, 10)})`,
    '',
    `${r.machine.cores} × ${r.machine.cpu}, **shared with other work** (load average at the end:` +
      ` ${r.machine.load_at_end.map((x) => x.toFixed(1)).join(', ')}): every figure is depressed and noisy;` +
      ' compare the rows of this one run only.',
    '',
    `Data: DeepKE's sample (deepke-re-standard), rows spread evenly over each file: ${s.train} train / ${s.valid}` +
      ` valid / ${s.test} test. Model: one random-init BERT folder (${s.layers} layers, hidden ${s.hidden}, the` +
      ` Chinese vocab) given to every contender; ${s.epochs} epoch(s), batch 32, CPU.`,
    `DeepKE: its unmodified run.py and predict.py under torch ${r.deepke_torch} (bench/peer-deepke-shim.py composes` +
      " its conf/ as Hydra 1.0 does). refit: this checkout's bin/refit.mjs, its worker on refit's own Python.",
    'examples/s: steps 2..n of each epoch (start-up, the first step and evaluation left out), timed at each',
    "optimizer step's completion. Peak RSS: the training process's high-water mark at its last step (DeepKE's",
    "Python; refit's worker). Test macro-F1 as each computes it (DeepKE: scikit-learn's macro over the labels",
    "present in truth or prediction, on the last epoch's weights; refit: metrics.json's test.macro_f1). A few steps",
    'from random init leave every model near chance: the F1 column shows that each scorer runs, not which model is',
    'better; the timed steps are few, so examples/s is a rough ratio.',
    '',
    '| contender | examples/s | timed steps | peak RSS | test macro-F1 | wall s (start-up included) |',
    '|---|---|---|---|---|---|',
    ...r.rows.map(
      (x) =>
        `| ${x.name} | ${fixed(x.examples_per_s, 2)} | ${x.timed_steps} | ${mib(x.peak_rss_bytes)} | ` +
        `${fixed(x.test_macro_f1, 4)} | ${fixed(x.wall_s, 1)} |`,
    ),
    '',
    `**import-deepke:** the checkpoint of DeepKE's as-shipped run, imported with \`refit import-deepke\` and` +
      ` predicted with \`refit predict\`, against DeepKE's predict.py on the same ${r.predict.rows} test rows` +
      ' (the first of the subsample; types from relation.csv by the gold relation, as DeepKE evaluates; no offsets,' +
      ` so both replace the first occurrence): **${r.predict.same}/${r.predict.rows} same answers**` +
      ` (predict.py's printed answer agrees on ${r.predict.said_same}/${r.predict.rows}); largest |probability` +
      ` difference| over every relation of every row: **${r.predict.max_prob_diff.toExponential(1)}**.`,
    '',
    'Commands, in order ($WORK is --work, $DEEPKE is --deepke):',
    '',
    '```',
    ...r.commands.map((c) => shown(c, r.places)),
    '```',
    '',
  ].join('\n');
}

main();
