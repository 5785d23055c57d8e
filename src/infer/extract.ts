// Raw text → triples: an NER run's entities (NerPredictor), the ordered pairs of distinct entities that the RE run's
// relation list allows (relation.csv's head_type/tail_type, when it names them), and the RE run's predictor on each
// pair (the one predict path, with the run's na_threshold); a pair whose answer is not the NA label is a triple. With
// the list's types, a triple's relation is one whose types are the pair's: the best-ranked such relation of the
// answer (every relation ranked), none when the NA label ranks above it. Offsets count code points. Used by
// `refit predict --re-run` and the server's /v1/extract.
import { existsSync } from 'node:fs';
import { resolveConfig } from '../config/index.ts';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { readRelationTypes, type EntitySpan } from '../data/index.ts';
import { readModelFolder, resolveDataPaths, runPaths } from '../session/index.ts';
import { openRunPredictor, type Engine } from './engine.ts';
import { openNerPredictor } from './ner-engines.ts';
import type { PredictItem, Prediction } from './predict-item.ts';

/** One relation found in a text: both entities (text, type, code-point start) and the relation with its score. */
export interface Triple {
  head: string;
  head_type: string;
  head_offset: number;
  relation: string;
  tail: string;
  tail_type: string;
  tail_offset: number;
  score: number;
}

/** What extraction answers per text. */
export interface Extraction {
  text: string;
  entities: EntitySpan[];
  triples: Triple[];
}

/** relation → its head and tail entity types (relation.csv's columns). */
export type RelationTypes = Record<string, { head_type: string; tail_type: string }>;

/**
 * The ordered (head, tail) pairs of distinct entities of one text; with `allowed` (head_type → tail types), only the
 * pairs whose types some relation names.
 */
export function candidatePairs(
  entities: readonly EntitySpan[],
  allowed?: ReadonlyMap<string, ReadonlySet<string>>,
): Array<[EntitySpan, EntitySpan]> {
  const pairs: Array<[EntitySpan, EntitySpan]> = [];
  for (const h of entities)
    for (const t of entities) {
      if (h === t || (h.start === t.start && h.end === t.end)) continue;
      if (allowed && !allowed.get(h.type)?.has(t.type)) continue;
      pairs.push([h, t]);
    }
  return pairs;
}

/**
 * The type pairs the relations allow (NA left out), or undefined when the list names no types (every pair is a
 * candidate then).
 */
export function allowedTypePairs(
  types: RelationTypes | undefined,
  na_label: string | null,
): Map<string, Set<string>> | undefined {
  if (!types) return undefined;
  const allowed = new Map<string, Set<string>>();
  for (const [relation, { head_type, tail_type }] of Object.entries(types)) {
    if (relation === na_label) continue;
    if (!allowed.has(head_type)) allowed.set(head_type, new Set());
    allowed.get(head_type)!.add(tail_type);
  }
  return allowed.size ? allowed : undefined;
}

/** The type constraints of relation.csv's types: the pairs allowed and the types themselves (none when no pair is). */
export function typeConstraints(
  types: RelationTypes | undefined,
  na_label: string | null,
): Pick<ExtractParts, 'allowed' | 'types'> {
  const allowed = allowedTypePairs(types, na_label);
  return allowed ? { allowed, types } : {};
}

/**
 * What extraction needs of the two runs: entities of texts, and relations of items (the run's defaults applied,
 * but `top_k` when given); `types` (relation.csv's) keeps each triple's relation to the pair's types.
 */
export interface ExtractParts {
  entities(texts: readonly string[]): Promise<EntitySpan[][]>;
  predict(items: PredictItem[], opts?: { top_k?: number }): Promise<Prediction[]>;
  na_label: string | null;
  allowed?: ReadonlyMap<string, ReadonlySet<string>>;
  types?: RelationTypes;
}

/**
 * The relation of a pair typed `head_type` → `tail_type` from its answer `a`: the answer's relation without `types`;
 * with them, the best-ranked relation whose types are the pair's (the answer's own first), undefined when the answer
 * is NA, the NA label ranks first or no ranked relation fits.
 */
export function typedRelation(
  a: Prediction,
  o: { head_type: string; tail_type: string; na_label: string | null; types?: RelationTypes },
): { relation: string; score: number } | undefined {
  const { types, na_label } = o;
  if (a.error || a.relation === undefined || a.relation === na_label) return undefined;
  const fits = (r: string) => types![r]?.head_type === o.head_type && types![r]?.tail_type === o.tail_type;
  if (!types || fits(a.relation)) return { relation: a.relation, score: a.score ?? 0 };
  for (const t of a.top ?? []) {
    if (t.relation === na_label) return undefined;
    if (fits(t.relation)) return t;
  }
  return undefined;
}

/** Texts → entities → candidate pairs → one predict call for all pairs → triples (see the file's header). */
export async function extractTriples(parts: ExtractParts, texts: readonly string[]): Promise<Extraction[]> {
  const entities = texts.length ? await parts.entities(texts) : [];
  const pairs = entities.map((e) => candidatePairs(e, parts.allowed));
  const items: PredictItem[] = pairs.flatMap((ps, i) =>
    ps.map(([h, t]) => ({
      text: texts[i],
      head: h.text,
      head_offset: h.start,
      head_type: h.type,
      tail: t.text,
      tail_offset: t.start,
      tail_type: t.type,
    })),
  );
  // with types, every relation is ranked, so that a pair's best-fitting one is among the answer's
  const top_k = parts.types ? Object.keys(parts.types).length : undefined;
  const answers = items.length ? await parts.predict(items, top_k ? { top_k } : undefined) : [];
  let k = 0;
  return texts.map((text, i) => {
    const triples: Triple[] = [];
    for (const [h, t] of pairs[i]) {
      const a = answers[k++];
      const r = typedRelation(a, {
        head_type: h.type,
        tail_type: t.type,
        na_label: parts.na_label,
        types: parts.types,
      });
      if (!r) continue;
      triples.push({
        head: h.text,
        head_type: h.type,
        head_offset: h.start,
        relation: r.relation,
        tail: t.text,
        tail_type: t.type,
        tail_offset: t.start,
        score: r.score,
      });
    }
    return { text, entities: entities[i], triples };
  });
}

/** relation.csv's head/tail types of a run, from the relation list its config.yaml names (when still there). */
export async function runRelationTypes(run_dir: string): Promise<RelationTypes | undefined> {
  const file = runPaths(run_dir).config;
  if (!existsSync(file)) return undefined;
  const { relations } = await resolveDataPaths(resolveConfig({ file, overrides: [] }));
  return relations && existsSync(relations) ? readRelationTypes(relations) : undefined;
}

/** Checks that `ner_run` is an NER run and `re_run` a relation run (one line each, exit 2, otherwise). */
export function checkExtractRuns(ner_run: string, re_run: string): void {
  if (readModelFolder(ner_run).refit.task !== 'ner')
    throw new RefitError('E_CLI_OPTION', `--run ${ner_run}: not an NER run (train it with task=ner)`);
  if (readModelFolder(re_run).refit.task === 'ner')
    throw new RefitError('E_CLI_OPTION', `--re-run ${re_run}: an NER run; --re-run takes a relation run`);
}

/** Both runs' predictors opened as one extractor; `close` stops both. */
export interface Extractor {
  extract(texts: readonly string[]): Promise<Extraction[]>;
  engines: { ner: Engine; re: Engine };
  /** The RE run's predictor, for a caller that queues its calls (the server's batcher). */
  re: Awaited<ReturnType<typeof openRunPredictor>>;
  ner: Awaited<ReturnType<typeof openNerPredictor>>;
  allowed?: ReadonlyMap<string, ReadonlySet<string>>;
  /** relation.csv's types of the RE run's relations, when it names them (what keeps a triple to its pair's types). */
  types?: RelationTypes;
  close(): Promise<void>;
}

/** Opens the NER run's and the RE run's predictors on `engine` (each run's default when left out). */
export async function openExtractor(opts: {
  ner_run: string;
  re_run: string;
  engine?: Engine;
  env: Record<string, string | undefined>;
  log: RunLog;
  num_threads?: number;
}): Promise<Extractor> {
  checkExtractRuns(opts.ner_run, opts.re_run);
  const common = { engine: opts.engine, env: opts.env, log: opts.log, num_threads: opts.num_threads };
  const ner = await openNerPredictor({ ...common, run_dir: opts.ner_run });
  let re;
  try {
    re = await openRunPredictor({ ...common, run_dir: opts.re_run });
  } catch (e) {
    await ner.close();
    throw e;
  }
  const parts: ExtractParts = {
    entities: (t) => ner.entities(t),
    predict: (items, o) => re.predict(items, o),
    na_label: re.na_label,
    ...typeConstraints(await runRelationTypes(opts.re_run), re.na_label),
  };
  return {
    extract: (texts) => extractTriples(parts, texts),
    engines: { ner: ner.engine, re: re.engine },
    re,
    ner,
    allowed: parts.allowed,
    types: parts.types,
    close: async () => {
      await Promise.all([ner.close(), re.close()]);
    },
  };
}
