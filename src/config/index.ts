// The config folder's surface: resolve a run configuration from YAML + key=value overrides (with
// DeepKE aliases) and write it back out. Other folders import from here only.
export { resolveConfig, configToYaml, verifyNumRelations } from './resolve.ts';
export { CONFIG_KEYS, KEY_SPECS, DATA_FORMATS, MODEL_PRESETS, type RunConfig, type KeySpec } from './schema.ts';
export { DEFAULTS, PRESET_LEARNING_RATES, PRETRAINED_LEARNING_RATE, defaultLearningRate } from './defaults.ts';
export { ALIASES, IGNORED_DEEPKE_KEYS } from './aliases.ts';
