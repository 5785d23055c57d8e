// Shared set-up for the run tests: a tiny generated dataset (the demo generator) written to a temp folder,
// and the config that trains bert-tiny on it in a few steps on CPU. The worker runs for real.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, type RunConfig } from '../../src/config/index.ts';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../../src/demo/index.ts';

/** Writes train/valid/test CSVs, relation.csv and vocab.txt of a small demo dataset; returns the folder. */
export function tinyData(sizes = { train: 96, valid: 32, test: 48 }, seed = 7): string {
  const dir = mkdtempSync(join(tmpdir(), 'refit-run-test-'));
  const ds = generateDemoDataset({ seed, ...sizes });
  writeFileSync(join(dir, 'train.csv'), toDeepkeCsv(ds.train));
  writeFileSync(join(dir, 'valid.csv'), toDeepkeCsv(ds.valid));
  writeFileSync(join(dir, 'test.csv'), toDeepkeCsv(ds.test));
  writeFileSync(join(dir, 'relation.csv'), toRelationCsv(ds.relations));
  writeFileSync(join(dir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
  return dir;
}

/** bert-tiny, 2 epochs of 6 steps (batch 16), short window, CPU, no ONNX export (seconds saved); extra key=value overrides last. */
export function tinyConfig(data: string, overrides: string[] = []): RunConfig {
  return resolveConfig({
    overrides: [
      `data.train=${join(data, 'train.csv')}`,
      `data.valid=${join(data, 'valid.csv')}`,
      `data.test=${join(data, 'test.csv')}`,
      `data.relations=${join(data, 'relation.csv')}`,
      `model.vocab=${join(data, 'vocab.txt')}`,
      'model.preset=bert-tiny',
      'train.epochs=2',
      'train.batch_size=16',
      'train.early_stopping_patience=0',
      'memory.max_seq_len=64',
      'device=cpu',
      'export.onnx=false',
      ...overrides,
    ],
  });
}

/** The parsed lines of a run's events.jsonl. */
export function readEvents(run: string): Array<Record<string, any>> {
  return readFileSync(join(run, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** A run's metrics.json. */
export function readMetrics(run: string): Record<string, any> {
  return JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
}

/** Environment for a run: the process's, without inherited fault injection, plus `extra`. */
export function runEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env = { ...process.env };
  delete env.REFIT_INJECT_OOM;
  delete env.REFIT_INJECT_CRASH;
  delete env.REFIT_INJECT_STATE;
  return { ...env, REFIT_CACHE: join(tmpdir(), 'refit-test-cache'), ...extra };
}
