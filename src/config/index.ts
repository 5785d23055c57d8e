// The config folder's surface: resolve a run configuration from YAML + key=value overrides (with
// DeepKE aliases) and write it back out. Other folders import from here only.
export {
  resolveConfig,
  resolveConfigDetailed,
  configToYaml,
  verifyNumRelations,
  type ResolvedConfig,
  type ResolveOptions,
} from './resolve.ts';
export { composeHydra, hydraPrimary, REFUSED_GROUP_OPTIONS, type HydraComposition } from './hydra.ts';
export {
  CONFIG_KEYS,
  KEY_SPECS,
  DATA_FORMATS,
  MODEL_PRESETS,
  type RunConfig,
  type KeySpec,
  type HeadName,
  type Task,
  type RnnConfig,
} from './schema.ts';
export {
  DEFAULTS,
  PRESET_LEARNING_RATES,
  PRETRAINED_LEARNING_RATE,
  defaultLearningRate,
} from './defaults.ts';
export { ALIASES, IGNORED_DEEPKE_KEYS } from './aliases.ts';
