// The data files a run's config names, a data folder expanded: training reads them, export checks model.onnx on the
// test split they name. Resolves paths only; reading the files is data/.
import { existsSync, statSync } from 'node:fs';
import { resolveDataFolder } from '../data/index.ts';
import type { RunConfig } from '../config/index.ts';

/** The data files a config names, with a data folder (data.folder or data.train given as a folder) expanded. */
export async function resolveDataPaths(
  config: RunConfig,
): Promise<{ train?: string; valid?: string; test?: string; relations?: string }> {
  const d = config.data;
  const folder =
    d.folder ?? (d.train && existsSync(d.train) && statSync(d.train).isDirectory() ? d.train : undefined);
  const found = folder ? await resolveDataFolder(folder) : {};
  const train = d.train && d.train !== folder ? d.train : found.train;
  return {
    train,
    valid: d.valid ?? found.valid,
    test: d.test ?? found.test,
    relations: d.relations ?? found.relations,
  };
}
