// The shared page header: links to the three pages, the current one highlighted.
const PAGES: Array<[string, string]> = [
  ['/', 'Predict'],
  ['/runs', 'Run'],
  ['/plan', 'Memory planner'],
];

/** Inserts the navigation bar at the top of the page. */
export function renderNav(current: string): void {
  const nav = document.createElement('nav');
  nav.innerHTML =
    `<span class="brand">refit</span>` +
    PAGES.map(([href, text]) => `<a href="${href}"${href === current ? ' class="on"' : ''}>${text}</a>`).join(
      '',
    );
  document.body.prepend(nav);
}

/** Fetches JSON; a non-2xx answer throws its `{error}` line. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error((body as { error?: string }).error ?? `HTTP ${r.status}`);
  return body as T;
}
