// What the server shows of the machine it runs on: names, never paths. Every absolute path in an answer
// (a run folder in an event, a data file in config.yaml, a Python file in a worker's last words) becomes its
// last component, so /v1/* bodies carry names, relations and shapes but not the layout of the disk.

// An absolute POSIX path (`/a/b`, `~/a`) or Windows path (`C:\a`), not part of a URL (`http://h/x`) or of a
// relative path (`checkpoints/step-4`): the slash must not follow a word character, a dot, a colon or a slash.
const ABSOLUTE_PATH = /(?<![\w.:/\\~-])(?:~?\/|[A-Za-z]:\\)[^\s'"`,;()[\]{}<>|*?]+/g;

/** `text` with every absolute path replaced by its last component (`/srv/runs/wwm/model` → `model`). */
export function hidePaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (p) => {
    const trimmed = p.replace(/[/\\:.]+$/, '');
    const trail = p.slice(trimmed.length);
    const last = trimmed.split(/[/\\]/).filter(Boolean).pop() ?? '';
    return (last || '.') + trail;
  });
}

/** A JSON value with hidePaths applied to every string in it (keys included). */
export function hidePathsDeep<T>(value: T): T {
  if (typeof value === 'string') return hidePaths(value) as T;
  if (Array.isArray(value)) return value.map((v) => hidePathsDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[hidePaths(k)] = hidePathsDeep(v);
    return out as T;
  }
  return value;
}
