// Loading model dims from a Hugging Face folder or its config.json (or a preset name). Reads one small
// JSON file at most; the shape rules themselves are in models.ts.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import { closestName } from '../suggest.ts';
import { knownModelDims } from './known-models.ts';
import { FIELDS, PRESETS, validateDims, withLayers } from './models.ts';
import type { ModelDims } from './types.ts';

function readConfigJson(path: string): ModelDims {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new RefitError(
      'E_MODEL_CONFIG',
      `${path}: cannot read model config (${(e as Error).message.split('\n')[0]})`,
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RefitError('E_MODEL_CONFIG', `${path}: model config must be a JSON object`);
  }
  const base = PRESETS['bert-base'];
  const dims = {} as ModelDims;
  for (const f of FIELDS) {
    // Missing optional fields take BERT defaults (as transformers' BertConfig does); hidden/heads/layers are required.
    const required = f === 'hidden_size' || f === 'num_hidden_layers' || f === 'num_attention_heads';
    if (raw[f] === undefined) {
      if (required) throw new RefitError('E_MODEL_SHAPE', `${path}: ${f} is missing`);
      dims[f] = f === 'intermediate_size' ? 4 * Number(raw.hidden_size) : base[f];
    } else {
      dims[f] = raw[f] as number;
    }
  }
  return validateDims(dims, path);
}

/**
 * Dims of a preset name, an HF model folder (its config.json), a config.json path, or a well-known HF
 * model id (KNOWN_MODELS) when no such folder exists; `vocab_size` overrides.
 */
export function loadModelDims(spec: string, opts: { vocab_size?: number } = {}): ModelDims {
  let dims: ModelDims;
  const known = knownModelDims(spec);
  if (Object.hasOwn(PRESETS, spec)) {
    dims = { ...PRESETS[spec as keyof typeof PRESETS] };
  } else if (existsSync(spec)) {
    const file = statSync(spec).isDirectory() ? join(spec, 'config.json') : spec;
    if (!existsSync(file)) throw new RefitError('E_MODEL_CONFIG', `${spec}: model folder has no config.json`);
    dims = readConfigJson(file);
  } else if (known) {
    dims = known.dims;
  } else {
    const names = Object.keys(PRESETS);
    throw new RefitError(
      'E_MODEL',
      `unknown model '${spec}': not a preset (${names.join(', ')}) nor an existing folder or config.json; ` +
        `did you mean '${closestName(spec, names, { contains: true })}'?`,
    );
  }
  if (opts.vocab_size !== undefined) dims.vocab_size = opts.vocab_size;
  return validateDims(dims, spec);
}

function vocabLines(path: string): number {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0).length;
  } catch (e) {
    throw new RefitError(
      'E_MODEL_CONFIG',
      `${path}: cannot read vocabulary (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
}

/**
 * The model a run config describes, as `refit plan -c`, `refit doctor -c` and `refit train` size it: `model` (a flag)
 * else model.pretrained / model.preset else bert-base; a preset's vocabulary from `vocab_size` else model.vocab's
 * lines; model.num_hidden_layers may cut layers.
 */
export function modelFromConfig(
  cfg: { model: { pretrained?: string; preset?: string; vocab?: string; num_hidden_layers?: number } },
  o: { model?: string; vocab_size?: number } = {},
): ModelDims {
  const m = cfg.model;
  const spec = o.model ?? m.pretrained ?? m.preset ?? 'bert-base';
  const vocab = o.vocab_size ?? (!o.model && !m.pretrained && m.vocab ? vocabLines(m.vocab) : undefined);
  return withLayers(
    loadModelDims(spec, vocab !== undefined ? { vocab_size: vocab } : {}),
    m.num_hidden_layers,
  );
}
