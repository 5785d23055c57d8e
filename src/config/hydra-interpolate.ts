// The composed keys of a Hydra conf as refit's entries, with OmegaConf's interpolations resolved (`${key}`,
// `${env:X}`, `${hydra:runtime.cwd}`): a value that cannot be used carries its problem instead. Reads no file.
import type { Where } from './aliases.ts';
import { own } from '../own.ts';
import { SECTIONS, type Entry } from './entries.ts';
import { scalarOf } from './hydra-overrides.ts';

/** Every composed key with its value and where the last writer set it, in first-written order. */
export type ComposedKeys = Map<string, { value: unknown; where: Where }>;

/** True for a mapping (not null, not a list). */
export function isPlainMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The composed keys as entries, interpolations resolved; an unusable value carries its problem instead. */
export function flatEntries(
  state: { merged: ComposedKeys; project: string },
  env: Readonly<Record<string, string | undefined>>,
): Entry[] {
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
/** How many interpolations one value may go through (`${a}` → `${b}` → …) before it is refused. */
export const MAX_INTERPOLATION_DEPTH = 100;

/**
 * Resolves OmegaConf interpolations: `${key}`, `${a.b}`, `${hydra:runtime.cwd}`,
 * `${env:X}`/`${oc.env:X,default}`; `${now:…}` stays text.
 */
class Interpolator {
  constructor(
    private readonly state: { merged: ComposedKeys; project: string },
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
    // A chain this deep is no conf anyone writes; following it further would only exhaust the stack.
    if (this.visiting.size >= MAX_INTERPOLATION_DEPTH)
      return {
        problem:
          `uses \${${b}} after ${MAX_INTERPOLATION_DEPTH} interpolations in a row ` +
          `(at most ${MAX_INTERPOLATION_DEPTH} are followed)`,
      };
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
