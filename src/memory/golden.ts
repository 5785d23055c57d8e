// Reads the H200 measurements (../shared/golden/memory) into samples for calibration, tests and the bench.
// I/O lives here, not in the profiles.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GoldenRow, Sample } from './calibrate.ts';
import { loadModelDims } from './model-files.ts';

/** Rows of the golden file: the training grid as samples (with dims), and every other row verbatim. */
export interface Golden {
  samples: Sample[];
  other: Array<Record<string, unknown>>;
}

/** Loads `dir`/h200-hf-bert-public.jsonl and the model configs next to it. */
export function loadGolden(dir: string): Golden {
  const lines = readFileSync(join(dir, 'h200-hf-bert-public.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const samples: Sample[] = [];
  const other: Array<Record<string, unknown>> = [];
  for (const line of lines) {
    const row = JSON.parse(line) as GoldenRow & Record<string, unknown>;
    if (row.kind !== 'train') {
      other.push(row);
      continue;
    }
    if (!row.ok) continue;
    const cfg = join(dir, 'configs', `${row.model}.json`);
    if (!existsSync(cfg)) continue;
    samples.push({ row, model: loadModelDims(cfg) });
  }
  return { samples, other };
}
