// Bundles the CLI into dist/refit.mjs (one file: fast start, and easy to carry to a GPU machine).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/refit.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});

// The web pages (/, /runs, /plan) served by `refit serve`: Vite builds web/ into dist/web. Vite is a dev
// dependency: without it (npm install --omit=dev) the CLI still builds and `refit serve` says the pages are missing.
const vite = await import('vite').catch((e) => {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
  console.warn('build: vite is not installed; web pages (dist/web) not built');
  return null;
});
if (vite) await vite.build({ configFile: 'web/vite.config.ts', logLevel: 'warn' });
