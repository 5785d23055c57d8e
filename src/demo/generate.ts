// Generates the demo relation dataset from templates.ts and lexicon.ts: deterministic for a seed, exact
// head/tail character spans, balanced over relations. Pure: no I/O.
import type { Example, Mention, RelationSet } from '../data/types.ts';
import {
  CAPITALS,
  CITIES,
  COMPANIES,
  COUNTS,
  FIRST_NAMES,
  JOBS,
  LAST_NAMES,
  TEAMS,
  YEARS,
} from './lexicon.ts';
import { seededRandom } from '../rng.ts';
import { DEMO_NA_LABEL, DEMO_RELATIONS, TEMPLATES, type Template } from './templates.ts';

/** Share of examples per relation: NA a quarter, the five relations the rest equally. */
const NA_SHARE = 0.25;

/** FNV-1a hash of a string, for per-split seeds that do not depend on the other splits' sizes. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)];

/** Entity type of each entity slot (filler slots Y, N, JOB, TEAM have none). */
const SLOT_TYPES: Readonly<Record<string, string>> = {
  P: 'PER',
  P2: 'PER',
  C: 'ORG',
  CITY: 'CITY',
  CITY2: 'CITY',
  CAP: 'CITY',
  CAPOF: 'COUNTRY',
  CTRY: 'COUNTRY',
};

/** Fills every slot of a template; slots of the same kind get distinct values. */
function fillSlots(rand: () => number, slots: readonly string[]): Record<string, string> {
  const person = () => `${pick(rand, FIRST_NAMES)} ${pick(rand, LAST_NAMES)}`;
  const capital = pick(rand, CAPITALS);
  const values: Record<string, string> = {};
  const distinct = (make: () => string): string => {
    let v = make();
    while (Object.values(values).includes(v)) v = make();
    return v;
  };
  for (const slot of slots) {
    const fillers: Record<string, () => string> = {
      P: () => distinct(person),
      P2: () => distinct(person),
      C: () => pick(rand, COMPANIES),
      CITY: () => distinct(() => pick(rand, CITIES)),
      CITY2: () => distinct(() => pick(rand, CITIES)),
      CAP: () => capital[0],
      CAPOF: () => capital[1],
      CTRY: () =>
        distinct(
          () =>
            pick(
              rand,
              CAPITALS.filter((c) => c[1] !== capital[1]),
            )[1],
        ),
      Y: () => pick(rand, YEARS),
      N: () => pick(rand, COUNTS),
      JOB: () => pick(rand, JOBS),
      TEAM: () => pick(rand, TEAMS),
    };
    values[slot] = fillers[slot]();
  }
  return values;
}

/** Renders a template: the text and the character span of each entity slot. */
export function renderTemplate(
  template: Template,
  values: Record<string, string>,
): { text: string; spans: Record<string, Mention> } {
  let text = '';
  const spans: Record<string, Mention> = {};
  for (const piece of template.text.split(/(\{[A-Z0-9]+\})/)) {
    const slot = /^\{([A-Z0-9]+)\}$/.exec(piece)?.[1];
    if (!slot) {
      text += piece;
      continue;
    }
    const value = values[slot];
    if (SLOT_TYPES[slot])
      spans[slot] = {
        text: value,
        start: text.length,
        end: text.length + value.length,
        type: SLOT_TYPES[slot],
      };
    text += value;
  }
  return { text, spans };
}

/** Slot names used in a template, in order of first use. */
function slotsOf(template: Template): string[] {
  return [...new Set([...template.text.matchAll(/\{([A-Z0-9]+)\}/g)].map((m) => m[1]))];
}

/** Draws the relation of the next example: NA with NA_SHARE, else one of the others uniformly. */
function drawRelation(rand: () => number): string {
  if (rand() < NA_SHARE) return DEMO_NA_LABEL;
  return DEMO_RELATIONS[1 + Math.floor(rand() * (DEMO_RELATIONS.length - 1))];
}

/** `n` examples of one split, from a generator seeded by (seed, split name). */
export function generateSplit(opts: { seed: number; split: string; n: number }): Example[] {
  const rand = seededRandom(hash(`${opts.seed}:${opts.split}`));
  const examples: Example[] = [];
  for (let i = 0; i < opts.n; i++) {
    const relation = drawRelation(rand);
    const template = pick(
      rand,
      TEMPLATES.filter((t) => t.facts.some((f) => f[2] === relation)),
    );
    const [head, tail] = pick(
      rand,
      template.facts.filter((f) => f[2] === relation),
    );
    const { text, spans } = renderTemplate(template, fillSlots(rand, slotsOf(template)));
    examples.push({
      text,
      head: spans[head],
      tail: spans[tail],
      relation,
      file: `demo:${opts.split}`,
      line: i + 1,
    });
  }
  return examples;
}

/** The demo's relation set (NA first). */
export function demoRelations(): RelationSet {
  return { names: [...DEMO_RELATIONS], na_label: DEMO_NA_LABEL };
}
