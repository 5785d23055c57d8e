// Hydra's command-line overrides sorted out: group switches (`model=lm`), flat DeepKE keys (`batch_size=16`, `+k=v`,
// `~k`), `hydra.*` dropped, and refit's own keys passed on unchanged. Reads no file but conf/'s folder names.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.ts';
import type { Where } from './aliases.ts';
import { isHydraGroup } from './hydra-files.ts';

/** Group switches by group: the command line's first, then the primary config's `override` entries. */
export type Switches = Map<string, { option: string | null; where: Where }>;

/** One command-line override classified. */
export interface FlatOverride {
  key: string;
  value: unknown;
  remove: boolean;
}

/**
 * Splits Hydra overrides: group switches (`model=lm`, a group of the defaults list or a folder of conf/), flat
 * DeepKE keys (`batch_size=16`, `+k=v`, `~k`) set on the composed config (override wins), `hydra.*` dropped,
 * and refit's own keys (`train.epochs=5`, `device=cpu`) passed on unchanged.
 */
export function splitOverrides(
  overrides: readonly string[],
  ctx: {
    confDir: string;
    groups: Set<string>;
    isRefitKey: (k: string) => boolean;
    switches: Switches;
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
export function scalarOf(raw: string): unknown {
  const doc = parseDocument(raw);
  if (doc.errors.length > 0) return raw;
  const v = doc.toJSON();
  return v !== null && typeof v === 'object' ? raw : v;
}
