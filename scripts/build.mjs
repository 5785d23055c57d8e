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

// The web pages (/, /runs, /plan) served by `refit serve`: Vite builds web/ into dist/web.
const { build: viteBuild } = await import('vite');
await viteBuild({ configFile: 'web/vite.config.ts', logLevel: 'warn' });
