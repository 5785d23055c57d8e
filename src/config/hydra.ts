// Hydra composition of a DeepKE conf folder (conf/config.yaml + its `defaults:` list), without Python:
// the config files merged in Hydra's order into DeepKE's one flat namespace, command-line overrides and
// group switches applied, interpolations resolved. Reads YAML files only; maps no keys (resolve.ts does).
// Here: the composition order. Reading a conf file: hydra-files.ts; the command line: hydra-overrides.ts;
// interpolations: hydra-interpolate.ts.
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
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Where } from './aliases.ts';
import { own, setOwn } from '../own.ts';
import { checkConfigSize, type Entry } from './entries.ts';
import {
  confPath,
  isHydraGroup,
  optionsOf,
  readConfFile,
  type ConfFile,
  type DefaultEntry,
} from './hydra-files.ts';
import { flatEntries, isPlainMap, type ComposedKeys } from './hydra-interpolate.ts';
import { splitOverrides, type Switches } from './hydra-overrides.ts';

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

/** What composing keeps track of. */
interface State {
  confDir: string;
  project: string;
  /** group switches: command line first, then `override` entries */
  switches: Switches;
  choices: Record<string, string | null>;
  merged: ComposedKeys;
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

/** Sets a (possibly dotted) key, merging mappings as OmegaConf does; the last writer is where the value comes from. */
function setPath(merged: ComposedKeys, key: string, value: unknown, where: Where): void {
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

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = own(out, k);
    // own data property, even for `__proto__`
    setOwn(out, k, isPlainMap(prev) && isPlainMap(v) ? deepMerge(prev, v) : v);
  }
  return out;
}
