// resolveConfig: YAML file + key=value overrides → aliases → defaults → schema check → RunConfig.
// configToYaml writes every key back out (the run's config.yaml). Errors are one-line ConfigErrors.
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { stringify } from 'yaml';
import { ConfigError } from '../errors.ts';
import {
  ALIASES,
  DEEPKE_NON_LM_KEYS,
  IGNORED_DEEPKE_KEYS,
  finishAliases,
  wherePrefix,
  type AliasContext,
  type Where,
} from './aliases.ts';
import { DEFAULTS, defaultLearningRate } from './defaults.ts';
import { composeHydra, hydraPrimary, type HydraComposition } from './hydra.ts';
import { readYamlEntries, parseOverride, SECTIONS, type Entry } from './entries.ts';
import { CONFIG_KEYS, KEY_SPECS, PATH_KEYS, keySpec, runConfigSchema, type RunConfig } from './schema.ts';
import { closestName } from '../suggest.ts';
import { own } from '../own.ts';

/** A set value with where it was written and the name the user wrote (an alias or the key itself). */
interface Setting {
  value: unknown;
  where: Where;
  written: string;
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validateRunConfig = ajv.compile(runConfigSchema());

/** A resolved configuration with what was written (not defaulted) and, for a DeepKE conf folder, its composition. */
export interface ResolvedConfig {
  config: RunConfig;
  /** Dotted keys set by the config file(s) or the overrides (the rest are defaults). */
  explicit: ReadonlySet<string>;
  /** The Hydra composition when the config was a DeepKE conf folder (or a config.yaml with a `defaults:` list). */
  hydra?: HydraComposition;
}

/** Options of resolveConfig: the config file or conf folder, `key=value` overrides, and where paths and warnings go. */
export interface ResolveOptions {
  file?: string;
  overrides: string[];
  warn?: (line: string) => void;
  cwd?: string;
  /** Environment for `${env:VAR}` interpolations of a Hydra conf (none by default). */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Resolves the run configuration from an optional YAML file and `key=value` overrides (applied after the
 * file, in order). DeepKE keys are accepted as aliases; DeepKE keys refit has no use for are passed to
 * `warn`; an unknown key or bad value is a ConfigError naming the key (and FILE:LINE for YAML values).
 * Relative paths become absolute: refit keys in the YAML file relative to the file's folder, DeepKE
 * aliases (`lm_file`, `data_path`, which DeepKE reads from the working directory) and overrides relative
 * to `cwd` (default: the process's), so the run's config.yaml works from anywhere.
 * A DeepKE conf folder (or a config.yaml with a `defaults:` list) is composed by Hydra's rules first
 * (hydra.ts); its DeepKE paths are read from the project folder, the parent of conf/, as DeepKE does.
 */
export function resolveConfig(opts: ResolveOptions): RunConfig {
  return resolveConfigDetailed(opts).config;
}

/** resolveConfig with what was written and the Hydra composition (for planning a DeepKE run as DeepKE runs it). */
export function resolveConfigDetailed(opts: ResolveOptions): ResolvedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const primary = opts.file ? hydraPrimary(opts.file) : undefined;
  const hydra = primary
    ? composeHydra({
        file: primary,
        overrides: opts.overrides,
        env: opts.env,
        isRefitKey: (k) => keySpec(k) !== undefined,
      })
    : undefined;
  const entries: Entry[] = hydra
    ? [...hydra.entries, ...hydra.rest.map(parseOverride)]
    : [...(opts.file ? readYamlEntries(opts.file) : []), ...opts.overrides.map(parseOverride)];
  const settings = new Map<string, Setting>();
  const ctx: AliasContext = {
    set: (key, value, written, where) => setValue(settings, key, value, written, where),
    gpu: {},
  };
  // A composed conf sets every key of DeepKE's six models: the ones only its other models read are not
  // warned about, the rest get one warning per reason.
  const ignored = new Map<string, string[]>();
  const warn = hydra
    ? (_line: string, key?: string, reason?: string) => {
        if (key && reason && !DEEPKE_NON_LM_KEYS.has(key))
          ignored.set(reason, [...(ignored.get(reason) ?? []), key]);
      }
    : (line: string) => opts.warn?.(line);
  for (const entry of entries) applyEntry(entry, ctx, warn);
  if (hydra)
    for (const [reason, keys] of ignored)
      opts.warn?.(
        `${hydra.conf_dir}: ignoring DeepKE key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}: ${reason}`,
      );
  finishAliases(ctx, (key) => settings.has(key));
  const explicit = new Set(settings.keys());
  checkCombinations(settings);
  absolutePaths(settings, cwd);
  applyDefaults(settings);
  return { config: validate(settings), explicit, hydra };
}

/** Routes one written entry: a refit key, a DeepKE alias, an ignored DeepKE key, or an error. */
function applyEntry(
  entry: Entry,
  ctx: AliasContext,
  warn: (line: string, key?: string, reason?: string) => void,
): void {
  const { key, value, where } = entry;
  // Own-property lookups only: `constructor`, `toString`, `__proto__` … are unknown keys, not Object.prototype's.
  const reason = !entry.nested && !key.includes('.') ? own(IGNORED_DEEPKE_KEYS, key) : undefined;
  if (reason !== undefined) {
    warn(`${wherePrefix(where)}ignoring DeepKE key '${key}' (${reason})`, key, reason);
    return;
  }
  if (entry.problem !== undefined) {
    throw new ConfigError(
      'E_CONFIG_MISSING',
      `${wherePrefix(where)}${key} ${entry.problem}: set it in ${where.file ?? 'the conf'} or on the ` +
        `command line (${key}=VALUE)`,
    );
  }
  if (keySpec(key)) return ctx.set(key, value, key, where);
  if (!entry.nested && !key.includes('.')) {
    const alias = own(ALIASES, key);
    if (alias) return alias(value, ctx, key, where);
    if (SECTIONS.has(key)) {
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(where)}'${key}' must be a mapping of ${key}.* keys ` +
          `(e.g. ${CONFIG_KEYS.find((k) => k.startsWith(`${key}.`))})`,
      );
    }
  }
  if (!entry.nested && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const section = closestName(key, [...SECTIONS], { leaf: true });
    throw new ConfigError(
      'E_CONFIG_KEY',
      `${wherePrefix(where)}unknown config section '${key}' (did you mean '${section}'?)`,
    );
  }
  const guess = closestName(key, [...CONFIG_KEYS, ...Object.keys(ALIASES)], { leaf: true });
  throw new ConfigError(
    'E_CONFIG_KEY',
    `${wherePrefix(where)}unknown config key '${key}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
  );
}

/** Stores a value; null unsets an optional key; a number/boolean given to a string key becomes its text. */
function setValue(
  settings: Map<string, Setting>,
  key: string,
  value: unknown,
  written: string,
  where: Where,
): void {
  if (value === null || value === undefined) {
    settings.delete(key);
    return;
  }
  const type = keySpec(key)?.schema.type;
  const coerced =
    type === 'string' && (typeof value === 'number' || typeof value === 'boolean') ? String(value) : value;
  settings.set(key, { value: coerced, where, written });
}

/** Makes path values absolute (see resolveConfig); a bare command name for engine.python stays as is. */
function absolutePaths(settings: Map<string, Setting>, cwd: string): void {
  for (const [key, s] of settings) {
    if (!PATH_KEYS.has(key) || typeof s.value !== 'string' || isAbsolute(s.value)) continue;
    if (key === 'engine.python' && !s.value.includes('/')) continue;
    const fromFile = s.where.file !== undefined && s.written === key;
    s.value = resolvePath(fromFile ? dirname(s.where.file!) : (s.where.base ?? cwd), s.value);
  }
}

/** Cross-key rules the per-key schema cannot express. */
function checkCombinations(settings: Map<string, Setting>): void {
  const pretrained = settings.get('model.pretrained');
  const preset = settings.get('model.preset');
  if (pretrained && preset) {
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `${wherePrefix(preset.where)}give either model.pretrained (${String(pretrained.value)}) or ` +
        `model.preset (${String(preset.value)}), not both`,
    );
  }
  const rnnSize = settings.get('model.rnn.hidden_size');
  const bidi = settings.get('model.rnn.bidirectional')?.value ?? DEFAULTS['model.rnn.bidirectional'];
  if (rnnSize && bidi === true && typeof rnnSize.value === 'number' && rnnSize.value % 2 !== 0) {
    // DeepKE splits hidden_size over the two directions (hidden_size // 2 each): an odd total cannot be split.
    const name =
      rnnSize.written === 'model.rnn.hidden_size'
        ? rnnSize.written
        : `${rnnSize.written} (model.rnn.hidden_size)`;
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `${wherePrefix(rnnSize.where)}${name} must be even with a bidirectional RNN (half per direction), ` +
        `got ${rnnSize.value}`,
    );
  }
  const lastHn = settings.get('model.rnn.last_layer_hn');
  const layers = settings.get('model.rnn.num_layers');
  if (lastHn?.value === false && typeof layers?.value === 'number' && layers.value > 1) {
    // DeepKE's RNN then returns every layer's final state; its LM's fc gives [batch, layers, relations], which
    // CrossEntropyLoss rejects. With one layer both settings are the same tensor.
    const name =
      lastHn.written === 'model.rnn.last_layer_hn'
        ? lastHn.written
        : `${lastHn.written} (model.rnn.last_layer_hn)`;
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `${wherePrefix(lastHn.where)}${name} false with ${layers.written} ${layers.value}: DeepKE's LM then ` +
        `outputs one prediction per RNN layer and cannot train (a CrossEntropy shape error in DeepKE); set it to true`,
    );
  }
  const micro = settings.get('memory.micro_batch_size');
  const accum = settings.get('memory.grad_accumulation');
  const batch = settings.get('train.batch_size');
  if (micro && accum && typeof micro.value === 'number' && typeof accum.value === 'number') {
    const effective =
      typeof batch?.value === 'number' ? batch.value : (DEFAULTS['train.batch_size'] as number);
    // the micro-batch is per rank: with several ranks (a number of them in the config) they multiply the split
    const nproc = settings.get('distributed.nproc_per_node')?.value;
    const nnodes = settings.get('distributed.nnodes')?.value;
    const world = (typeof nproc === 'number' ? nproc : 1) * (typeof nnodes === 'number' ? nnodes : 1);
    if (micro.value * accum.value * world !== effective) {
      const ranks = world > 1 ? ` × ${world} ranks` : '';
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(accum.where)}memory.micro_batch_size × memory.grad_accumulation${ranks ? ' × ranks' : ''} = ` +
          `${micro.value} × ${accum.value}${ranks} must equal train.batch_size (${effective}), the effective batch`,
      );
    }
  }
}

/** Fills every missing default; the learning rate depends on the model (preset vs pretrained). */
function applyDefaults(settings: Map<string, Setting>): void {
  for (const [key, value] of Object.entries(DEFAULTS)) {
    if (!settings.has(key)) settings.set(key, { value, where: {}, written: key });
  }
  if (!settings.has('train.learning_rate')) {
    const lr = defaultLearningRate({
      preset: settings.get('model.preset')?.value,
      pretrained: settings.get('model.pretrained')?.value,
    });
    settings.set('train.learning_rate', { value: lr, where: {}, written: 'train.learning_rate' });
  }
}

/** Builds the nested RunConfig and checks it against the schema; the first bad value is the error. */
function validate(settings: Map<string, Setting>): RunConfig {
  const config: Record<string, any> = {};
  for (const spec of KEY_SPECS) {
    const s = settings.get(spec.key);
    const parts = spec.key.split('.');
    let node = config;
    for (const part of parts.slice(0, -1)) node = node[part] ??= {};
    if (s) node[parts[parts.length - 1]] = s.value;
  }
  if (!validateRunConfig(config)) {
    throw valueError(validateRunConfig.errors?.[0], settings);
  }
  return config as RunConfig;
}

/** The one-line error for an ajv failure: `FILE:LINE: KEY must be EXPECTED, got VALUE`. */
function valueError(err: ErrorObject | undefined, settings: Map<string, Setting>): ConfigError {
  const path = (err?.instancePath ?? '').split('/').filter(Boolean);
  // an item of a list value (memory.allow.0) is reported as its key's value
  const at = path.findIndex((_, i) => keySpec(path.slice(0, i + 1).join('.')) !== undefined);
  const key = (at >= 0 ? path.slice(0, at + 1) : path).join('.');
  const spec = keySpec(key);
  const s = settings.get(key);
  if (!spec || !s)
    return new ConfigError(
      'E_CONFIG_VALUE',
      `invalid config at '${key || '/'}': ${err?.message ?? 'unknown error'}`,
    );
  const name = s.written === key ? key : `${s.written} (${key})`;
  const scalars = Array.isArray(s.value) && s.value.every((v) => v === null || typeof v !== 'object');
  const got = scalars
    ? `[${(s.value as unknown[]).join(', ')}]`
    : typeof s.value === 'object'
      ? Array.isArray(s.value)
        ? 'a list'
        : 'a mapping'
      : JSON.stringify(s.value);
  return new ConfigError(
    'E_CONFIG_VALUE',
    `${wherePrefix(s.where)}${name} must be ${spec.expected}, got ${got}`,
  );
}

/**
 * Checks DeepKE's `num_relations` (data.num_relations), when given, against the relation set the run
 * uses; a mismatch is the E_CONFIG_VALUE line DeepKE never printed (its issues #212, #449, #453).
 */
export function verifyNumRelations(
  config: RunConfig,
  relations: { names: readonly string[] },
  source?: string,
): void {
  const want = config.data.num_relations;
  if (want === undefined || want === relations.names.length) return;
  throw new ConfigError(
    'E_CONFIG_VALUE',
    `num_relations is ${want} but the relation set${source ? ` (${source})` : ''} ` +
      `has ${relations.names.length} relations; fix num_relations or remove it`,
  );
}

/** The YAML text of a resolved config with every key written out (unset optional keys as null). */
export function configToYaml(config: RunConfig): string {
  const out: Record<string, any> = {};
  for (const spec of KEY_SPECS) {
    const parts = spec.key.split('.');
    let src: any = config;
    let dst = out;
    for (const part of parts.slice(0, -1)) {
      src = src?.[part];
      dst = dst[part] ??= {};
    }
    const leaf = parts[parts.length - 1];
    dst[leaf] = src?.[leaf] ?? null;
  }
  return (
    '# refit run configuration: every key written out (null = not set); `refit train -c` reads it back.\n' +
    stringify(out)
  );
}
