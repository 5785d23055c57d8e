// Hydra composition of a DeepKE conf folder (conf/config.yaml + its `defaults:` list), without Python:
// the config files merged in Hydra's order into DeepKE's one flat namespace, command-line overrides and
// group switches applied, interpolations resolved. Reads YAML files only; maps no keys (resolve.ts does).
//
// Hydra rules followed (DeepKE pins hydra-core 1.0.6; the 1.1+ forms are accepted too):
// - A defaults entry is `name` (conf/name.yaml), `group: option` (conf/group/option.yaml), `_self_`, with
//   `optional` (1.0: a sibling `optional: true`; 1.1: `optional group: option`) and 1.1's `override`.
// - Without `_self_` a file's own keys come first and its defaults list overrides them (Hydra 1.0; 1.1+
//   flipped this, and `_self_` placed in the list is honoured either way). Later files win; mappings merge.
// - Every file lands in the global package (Hydra 1.0's default, which DeepKE relies on); `hydra:` keys and
//   the `hydra/` group are Hydra bookkeeping and are not read. Group and config names are from conf/, also in a
//   nested defaults list (Hydra 1.0; 1.1 reads them relative to the containing file's group).
// - `cwd` is DeepKE's original working directory: the project folder, the parent of conf/.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { ConfigError } from '../errors.ts';
import type { Where } from './aliases.ts';
import { own, setOwn } from '../own.ts';
import { SECTIONS, checkConfigSize, readConfigText, type Entry } from './entries.ts';

/** The primary config DeepKE's run.py loads from its conf folder. */
export const PRIMARY_CONFIG = 'config.yaml';

/** Group options DeepKE has that refit does not train, by group, with the option refit trains instead. */
export const REFUSED_GROUP_OPTIONS: Readonly<
  Record<string, { trains: string; what: string; refused: readonly string[] }>
> = Object.freeze({
  model: { trains: 'lm', what: 'BERT + BiLSTM', refused: ['cnn', 'rnn', 'gcn', 'capsule', 'transformer'] },
});

/** A DeepKE conf composed by Hydra's rules. */
export interface HydraComposition {
  /** The primary config file (conf/config.yaml). */
  file: string;
  /** The conf folder. */
  conf_dir: string;
  /** DeepKE's `cwd`: the project folder (the parent of conf/); DeepKE-relative paths are read from it. */
  project: string;
  /** The option chosen for each config group (`model` → `lm`; null when none). */
  choices: Record<string, string | null>;
  /** Every composed key in first-written order, overrides applied and interpolations resolved. */
  entries: Entry[];
  /** The overrides that are not Hydra's (refit's dotted keys, `device`, `out`): applied after the entries. */
  rest: string[];
}

/**
 * The primary config of a Hydra conf, or undefined for a plain config file: a folder holding config.yaml
 * (or conf/config.yaml, for a DeepKE project folder), or a YAML file with a top-level `defaults:` list.
 */
export function hydraPrimary(path: string): string | undefined {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return undefined;
  }
  if (stat.isDirectory()) {
    for (const file of [join(path, PRIMARY_CONFIG), join(path, 'conf', PRIMARY_CONFIG)])
      if (existsSync(file)) return file;
    throw new ConfigError(
      'E_CONFIG_FILE',
      `${path}: a folder without ${PRIMARY_CONFIG}: give a config file, or a DeepKE conf folder (conf/ ` +
        `with ${PRIMARY_CONFIG} and its defaults: list)`,
    );
  }
  checkConfigSize(path); // a huge file is refused before anything reads it
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return /^defaults[ \t]*:/m.test(text) ? path : undefined;
}

/** One parsed config file: its own keys (values as JS, with lines), its defaults list, its line lookup. */
interface ConfFile {
  path: string;
  own: Array<{ key: string; value: unknown; line?: number }>;
  defaults?: DefaultEntry[];
  /** `# @package X` when the file says so */
  pkg?: { name: string; line: number };
}

/** One defaults-list entry. */
type DefaultEntry =
  | { kind: 'self'; line?: number }
  | { kind: 'config'; name: string; optional: boolean; line?: number }
  | {
      kind: 'group';
      group: string;
      option: string | null;
      optional: boolean;
      override: boolean;
      line?: number;
    };

/** What composing keeps track of. */
interface State {
  confDir: string;
  project: string;
  /** group switches: command line first, then `override` entries */
  switches: Map<string, { option: string | null; where: Where }>;
  choices: Record<string, string | null>;
  merged: Map<string, { value: unknown; where: Where }>;
  /** files being composed, for cycles */
  stack: string[];
}

/**
 * Composes the conf whose primary config is `file` with `overrides` (Hydra syntax: key=value, group=option,
 * +k=v, ~k).
 */
export function composeHydra(opts: {
  file: string;
  overrides: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  isRefitKey: (key: string) => boolean;
}): HydraComposition {
  const confDir = dirname(opts.file);
  const state: State = {
    confDir,
    project: dirname(confDir) || '.',
    switches: new Map(),
    choices: {},
    merged: new Map(),
    stack: [],
  };
  const primary = readConfFile(opts.file);
  const groups = new Set((primary.defaults ?? []).flatMap((d) => (d.kind === 'group' ? [d.group] : [])));
  const { flat, rest, added } = splitOverrides(opts.overrides, {
    confDir,
    groups,
    isRefitKey: opts.isRefitKey,
    switches: state.switches,
  });
  composeFile(primary, state, true);
  // A group switched on the command line that the defaults list never named (Hydra's `+group=option`).
  for (const group of added)
    composeGroup({ kind: 'group', group, option: null, optional: false, override: false }, state, undefined);
  for (const o of flat) {
    if (o.remove) state.merged.delete(o.key);
    else setPath(state.merged, o.key, o.value, {});
  }
  return {
    file: opts.file,
    conf_dir: confDir,
    project: state.project,
    choices: state.choices,
    entries: flatEntries(state, opts.env ?? {}),
    rest,
  };
}

/** Merges one file and its defaults list in Hydra 1.0 order (own keys first unless `_self_` is placed). */
function composeFile(file: ConfFile, state: State, primary: boolean): void {
  if (state.stack.includes(file.path)) {
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${file.path}: the defaults lists include each other (` +
        `${[...state.stack, file.path].map((p) => basename(p)).join(' → ')})`,
    );
  }
  if (file.pkg && file.pkg.name !== '_global_') {
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${file.path}:${file.pkg.line}: '# @package ${file.pkg.name}' is not supported: DeepKE's conf files ` +
        `are merged into one flat namespace (Hydra 1.0's _global_ package); remove the line`,
    );
  }
  state.stack.push(file.path);
  const list = file.defaults ?? [];
  if (primary) {
    for (const d of list) {
      if (d.kind === 'group' && d.override && !state.switches.has(d.group))
        state.switches.set(d.group, { option: d.option, where: { file: file.path, line: d.line } });
    }
  }
  const order = list.some((d) => d.kind === 'self') ? list : [{ kind: 'self' } as DefaultEntry, ...list];
  for (const d of order) {
    if (d.kind === 'self') mergeOwn(file, state);
    else if (d.kind === 'config') composeConfig(d, file, state);
    else if (!d.override) composeGroup(d, state, file.path);
  }
  state.stack.pop();
}

function mergeOwn(file: ConfFile, state: State): void {
  for (const { key, value, line } of file.own) {
    // Hydra bookkeeping, and DeepKE's cwd which run.py fills with the original working directory.
    if (key === 'hydra' || key === 'cwd') continue;
    setPath(state.merged, key, value, { file: file.path, line });
  }
}

function composeConfig(d: Extract<DefaultEntry, { kind: 'config' }>, from: ConfFile, state: State): void {
  if (isHydraGroup(d.name)) return;
  const path = confPath(state.confDir, d.name);
  if (!existsSync(path)) {
    if (d.optional) return;
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${from.path}${d.line !== undefined ? `:${d.line}` : ''}: ` +
        `defaults entry '${d.name}': no such config file ${path}`,
    );
  }
  composeFile(readConfFile(path), state, false);
}

function composeGroup(
  d: Extract<DefaultEntry, { kind: 'group' }>,
  state: State,
  from: string | undefined,
): void {
  if (isHydraGroup(d.group)) return;
  const switched = state.switches.get(d.group);
  const option = switched ? switched.option : d.option;
  const where: Where = switched ? switched.where : { file: from, line: d.line };
  setOwn(state.choices, d.group, option);
  if (option === null) return;
  const refused = own(REFUSED_GROUP_OPTIONS, d.group);
  if (refused?.refused.includes(option)) {
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${whereText(where, `${d.group}: ${option}`, `${d.group}=${option}`)}: ` +
        `refit trains DeepKE's ${refused.trains} model only (${refused.what}); use ${d.group}=${refused.trains}`,
    );
  }
  const path = confPath(join(state.confDir, d.group), option);
  if (!existsSync(path)) {
    if (d.optional) return;
    const options = optionsOf(join(state.confDir, d.group));
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${whereText(where, `${d.group}: ${option}`, `${d.group}=${option}`)}: no such config file ${path}` +
        (options.length
          ? ` (${d.group} options: ${options.join(', ')})`
          : ` (no ${join(state.confDir, d.group)} folder)`),
    );
  }
  composeFile(readConfFile(path), state, false);
}

/** `FILE:LINE: group: option` for a defaults entry, `group=option` for a command-line switch. */
function whereText(where: Where, inFile: string, typed: string): string {
  return where.file ? `${where.file}${where.line !== undefined ? `:${where.line}` : ''}: ${inFile}` : typed;
}

function isHydraGroup(name: string): boolean {
  return name === 'hydra' || name.startsWith('hydra/') || name.startsWith('/hydra/');
}

function confPath(dir: string, name: string): string {
  const rel = name.replace(/^\//, '');
  const yaml = join(dir, `${rel}.yaml`);
  return existsSync(yaml) || !existsSync(join(dir, `${rel}.yml`)) ? yaml : join(dir, `${rel}.yml`);
}

function optionsOf(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => f.replace(/\.ya?ml$/, ''))
      .sort();
  } catch {
    return [];
  }
}

/** Sets a (possibly dotted) key, merging mappings as OmegaConf does; the last writer is where the value comes from. */
function setPath(merged: State['merged'], key: string, value: unknown, where: Where): void {
  const [head, ...tail] = key.split('.');
  const prev = merged.get(head);
  if (tail.length === 0) {
    merged.set(head, {
      value: isPlainMap(prev?.value) && isPlainMap(value) ? deepMerge(prev.value, value) : value,
      where,
    });
    return;
  }
  const nested = tail.reduceRight<unknown>((acc, k) => ({ [k]: acc }), value);
  merged.set(head, {
    value: isPlainMap(prev?.value) ? deepMerge(prev.value, nested as Record<string, unknown>) : nested,
    where,
  });
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = own(out, k);
    // own data property, even for `__proto__`
    setOwn(out, k, isPlainMap(prev) && isPlainMap(v) ? deepMerge(prev, v) : v);
  }
  return out;
}

/** Reads one conf file: its own keys with lines, its defaults list, its `# @package` line. */
function readConfFile(path: string): ConfFile {
  const text = readConfigText(path);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    throw new ConfigError(
      'E_CONFIG_YAML',
      `${path}:${lineCounter.linePos(err.pos[0]).line}: YAML syntax error: ${err.message.split('\n')[0]}`,
    );
  }
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Node | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const file: ConfFile = { path, own: [] };
  const pkgLine = text.split('\n').findIndex((l) => /^#\s*@package\s+\S+/.test(l));
  if (pkgLine >= 0)
    file.pkg = {
      name: text
        .split('\n')
        [pkgLine].replace(/^#\s*@package\s+/, '')
        .trim(),
      line: pkgLine + 1,
    };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return file;
  if (!isMap(root))
    throw new ConfigError(
      'E_CONFIG_YAML',
      `${path}:${lineOf(root) ?? 1}: a config file must be a mapping of keys to values`,
    );
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (key === 'defaults') file.defaults = readDefaults(pair, path, lineOf);
    else
      file.own.push({ key, value: (pair.value as Node | null)?.toJSON?.() ?? null, line: lineOf(pair.key) });
  }
  return file;
}

/** Parses a `defaults:` list (the Hydra 1.0 and 1.1 entry forms). */
function readDefaults(pair: Pair, path: string, lineOf: (n: unknown) => number | undefined): DefaultEntry[] {
  const seq = pair.value;
  if (seq === null || (isScalar(seq) && seq.value === null)) return [];
  if (!isSeq(seq))
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${path}:${lineOf(pair.key)}: defaults must be a list (- name, - group: option)`,
    );
  const out: DefaultEntry[] = [];
  for (const item of seq.items) {
    const line = lineOf(item);
    const bad = (what: string) =>
      new ConfigError(
        'E_CONFIG_HYDRA',
        `${path}:${line}: bad defaults entry (${what}); expected - name, - group: option or - _self_`,
      );
    if (isScalar(item)) {
      const text = String(item.value).trim();
      if (text === '_self_') {
        out.push({ kind: 'self', line });
        continue;
      }
      const optional = /^optional\s+/.test(text);
      out.push({
        kind: 'config',
        name: stripPackage(text.replace(/^optional\s+/, ''), path, line),
        optional,
        line,
      });
      continue;
    }
    if (!isMap(item)) throw bad('not a name or a mapping');
    let optional = false;
    let group: { key: string; option: unknown } | undefined;
    for (const p of item.items) {
      const key = String((p.key as { value?: unknown })?.value ?? p.key).trim();
      const value = (p.value as Node | null)?.toJSON?.() ?? null;
      if (key === 'optional' && typeof value === 'boolean')
        optional = value; // Hydra 1.0: `optional: true` beside the group
      else if (group) throw bad('more than one group in one entry');
      else group = { key, option: value };
    }
    if (!group) throw bad('no group');
    if (Array.isArray(group.option)) throw bad(`${group.key}: a list of options is not supported`);
    if (group.option !== null && typeof group.option === 'object')
      throw bad(`${group.key}: the option must be a name`);
    const words = group.key.split(/\s+/);
    const name = stripPackage(words[words.length - 1], path, line);
    out.push({
      kind: 'group',
      group: name.replace(/^\//, ''),
      option: group.option === null ? null : String(group.option),
      optional: optional || words.includes('optional'),
      override: words.includes('override'),
      line,
    });
  }
  return out;
}

/** `group@package`: only the global package (DeepKE's flat namespace) is supported. */
function stripPackage(name: string, path: string, line: number | undefined): string {
  const at = name.indexOf('@');
  if (at < 0) return name;
  const pkg = name.slice(at + 1);
  if (pkg !== '_global_' && pkg !== '_here_') {
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${path}:${line}: '${name}': a package (@${pkg}) is not supported: DeepKE's conf files are merged ` +
        `into one flat namespace`,
    );
  }
  return name.slice(0, at);
}

/** One command-line override classified. */
interface FlatOverride {
  key: string;
  value: unknown;
  remove: boolean;
}

/**
 * Splits Hydra overrides: group switches (`model=lm`, a group of the defaults list or a folder of conf/), flat
 * DeepKE keys (`batch_size=16`, `+k=v`, `~k`) set on the composed config (override wins), `hydra.*` dropped,
 * and refit's own keys (`train.epochs=5`, `device=cpu`) passed on unchanged.
 */
function splitOverrides(
  overrides: readonly string[],
  ctx: {
    confDir: string;
    groups: Set<string>;
    isRefitKey: (k: string) => boolean;
    switches: State['switches'];
  },
): { flat: FlatOverride[]; rest: string[]; added: string[] } {
  const flat: FlatOverride[] = [];
  const rest: string[] = [];
  const added: string[] = [];
  for (const text of overrides) {
    const remove = text.startsWith('~');
    const body = text.replace(/^(~|\+\+|\+)/, '');
    const eq = body.indexOf('=');
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!key || (eq < 0 && !remove)) {
      throw new ConfigError(
        'E_CONFIG_OVERRIDE',
        `bad override '${text}': expected key=value (e.g. batch_size=16, model=lm, train.epochs=5)`,
      );
    }
    const raw = eq < 0 ? '' : body.slice(eq + 1);
    if (isHydraGroup(key) || key === 'hydra' || key.startsWith('hydra.')) continue;
    if (!remove && ctx.isRefitKey(key)) {
      rest.push(body);
      continue;
    }
    const isGroup = ctx.groups.has(key) || (!key.includes('.') && isDir(join(ctx.confDir, key)));
    if (isGroup) {
      const option = remove || raw === 'null' || raw === '' ? null : raw.trim();
      ctx.switches.set(key, { option, where: {} });
      if (!ctx.groups.has(key)) added.push(key);
      continue;
    }
    if (key.includes('.') && !remove) {
      rest.push(body);
      continue;
    }
    flat.push({ key, value: remove ? null : scalarOf(raw), remove });
  }
  return { flat, rest, added };
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A command-line value read as Hydra does: a YAML scalar (numbers, booleans, null), else the text. */
function scalarOf(raw: string): unknown {
  const doc = parseDocument(raw);
  if (doc.errors.length > 0) return raw;
  const v = doc.toJSON();
  return v !== null && typeof v === 'object' ? raw : v;
}

/** The composed keys as entries, interpolations resolved; an unusable value carries its problem instead. */
function flatEntries(state: State, env: Readonly<Record<string, string | undefined>>): Entry[] {
  const entries: Entry[] = [];
  const resolver = new Interpolator(state, env);
  for (const [key, { value, where }] of state.merged) {
    // DeepKE reads its paths from cwd (the project folder); a value typed on the command line is read from
    // where it was typed.
    const at: Where = where.file ? { ...where, base: state.project } : where;
    const r = resolver.value(value, [key]);
    if (!r.problem && SECTIONS.has(key) && isPlainMap(r.value)) {
      // refit's own sections written into a conf file (memory: {precision: bf16}) read as in a refit config
      for (const [child, v] of Object.entries(r.value))
        entries.push({ key: `${key}.${child}`, value: v, where: at, nested: true });
      continue;
    }
    entries.push({
      key,
      value: r.problem ? null : r.value,
      where: at,
      nested: false,
      ...(r.problem ? { problem: r.problem } : {}),
    });
  }
  return entries;
}

/** A resolved value, or why it cannot be used (a `???` or an interpolation that does not resolve). */
interface Resolved {
  value?: unknown;
  problem?: string;
}

const MISSING = '???';

/**
 * Resolves OmegaConf interpolations: `${key}`, `${a.b}`, `${hydra:runtime.cwd}`,
 * `${env:X}`/`${oc.env:X,default}`; `${now:…}` stays text.
 */
class Interpolator {
  constructor(
    private readonly state: State,
    private readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  value(v: unknown, path: string[]): Resolved {
    if (v === MISSING) return { problem: `is ${MISSING} (a mandatory value no conf file fills in)` };
    if (Array.isArray(v))
      return this.all(
        v.map((x, i) => [String(i), x]),
        path,
        (xs) => xs.map(([, x]) => x),
      );
    if (isPlainMap(v)) return this.all(Object.entries(v), path, (xs) => Object.fromEntries(xs));
    if (typeof v !== 'string' || !v.includes('${')) return { value: v };
    const whole = /^\$\{([^{}]*)\}$/.exec(v);
    if (whole) return this.one(whole[1], path, v);
    let problem: string | undefined;
    const text = v.replace(/(\\?)\$\{([^{}]*)\}/g, (m, esc: string, body: string) => {
      if (esc) return m.slice(1);
      const r = this.one(body, path, m);
      if (r.problem) problem ??= r.problem;
      return String(r.value);
    });
    return problem ? { problem } : { value: text };
  }

  private all(
    items: Array<[string, unknown]>,
    path: string[],
    build: (xs: Array<[string, unknown]>) => unknown,
  ): Resolved {
    const out: Array<[string, unknown]> = [];
    for (const [k, x] of items) {
      const r = this.value(x, [...path, k]);
      if (r.problem) return r;
      out.push([k, r.value]);
    }
    return { value: build(out) };
  }

  /** One `${body}`; `text` is what stays when the interpolation is Hydra's own (now, other hydra: values). */
  private one(body: string, path: string[], text: string): Resolved {
    const b = body.trim();
    if (b === 'hydra:runtime.cwd' || b === 'cwd') return { value: this.state.project };
    if (b.startsWith('now:') || b.startsWith('hydra:') || b.startsWith('hydra.')) return { value: text };
    const env = /^(?:oc\.)?env:([^,]+)(?:,(.*))?$/.exec(b);
    if (env) {
      const got = own(this.env, env[1].trim()) ?? env[2]?.trim();
      // read as a YAML scalar, as OmegaConf 2.0's env resolver (Hydra 1.0) does: EPOCHS=7 is the integer 7
      return got === undefined
        ? { problem: `uses \${${b}}, but ${env[1].trim()} is not set in the environment` }
        : { value: scalarOf(got) };
    }
    if (!/^[\w.-]+$/.test(b)) return { value: text }; // another resolver: left as written
    const target = b.split('.');
    if (path.join('.') === b || this.visiting.has(b))
      return { problem: `uses \${${b}}, which refers to itself` };
    let node: unknown = this.state.merged.get(target[0])?.value;
    for (const k of target.slice(1)) node = isPlainMap(node) ? own(node, k) : undefined;
    if (node === undefined) return { problem: `uses \${${b}}, but no conf file sets ${b}` };
    if (node === MISSING)
      return { problem: `uses \${${b}}, which is ${MISSING} (a mandatory value no conf file fills in)` };
    this.visiting.add(b);
    try {
      return this.value(node, target);
    } finally {
      this.visiting.delete(b);
    }
  }

  private readonly visiting = new Set<string>();
}
