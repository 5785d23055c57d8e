// How the server notices a replaced model folder and checks it before letting go of the model it serves: the
// folder's identity (its files' inodes, sizes and times) and the check a load makes (readModelFolder: manifest.json).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import { clip } from '../log.ts';
import { readModelFolder } from '../session/index.ts';
import { hidePaths } from './redact.ts';

/** Files of the model folder whose replacement (in place too) is a new model to check and open. */
const KEY_FILES = [
  'manifest.json',
  'config.json',
  'vocab.txt',
  'model.safetensors',
  'model.onnx',
  'model.int8.onnx',
];

/**
 * Identity of the model folder now on disk, or undefined when it has no refit.json. The folder is replaced by rename
 * (refit.json's inode changes); a file replaced in place changes its own entry.
 */
export function modelFolderKey(run_dir: string | undefined): string | undefined {
  if (!run_dir) return undefined;
  const dir = join(run_dir, 'model');
  try {
    const st = statSync(join(dir, 'refit.json'));
    const files = KEY_FILES.map((f) => {
      const s = statSync(join(dir, f), { throwIfNoEntry: false });
      return s ? `${s.ino}:${s.size}:${s.mtimeMs}` : '-';
    });
    return [`${st.ino}:${st.mtimeMs}`, ...files].join('/');
  } catch {
    return undefined;
  }
}

/** Why the run's model folder would be refused at load (one line, no paths), or null when it passes. */
export function refusedFolder(run_dir: string, warn: (line: string) => void): string | null {
  try {
    readModelFolder(run_dir, { warn: (l) => warn(hidePaths(l)) });
    return null;
  } catch (e) {
    if (!(e instanceof RefitError)) return null; // not a verdict on the folder: the open says what it is
    return clip(hidePaths(e.message.split('\n')[0]), 300);
  }
}

/** The reason of a server whose model folder was refused at its start (it is opened again when it changes). */
export function refusedDown(why: string): string {
  return `model folder refused: ${why}; put the run's own files back (the server opens the folder when it changes)`;
}

/**
 * A replaced model folder checked before the model being served is let go: one that fails is refused once per
 * identity (said once, its reason kept for health), and the server keeps the model it had.
 */
export class FolderGuard {
  private key: string | undefined;
  /** Why the replaced folder now on disk was refused, or null. */
  refused: string | null = null;

  /** True when the folder with identity `key` fails its check, so the model being served stays. */
  keeps(key: string, run_dir: string, say: (line: string) => void): boolean {
    if (key === this.key) return true;
    const why = refusedFolder(run_dir, say);
    if (!why) {
      this.clear();
      return false;
    }
    this.key = key;
    this.refused = `the replaced model folder was refused (${why}); still serving the model loaded before`;
    say(this.refused);
    return true;
  }

  clear(): void {
    this.key = undefined;
    this.refused = null;
  }
}
