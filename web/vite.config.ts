// Vite build of the web pages (/, /runs, /plan) into dist/web; scripts/build.mjs runs it after the CLI bundle.
// The planner page imports the CLI's own planner (src/memory) so there is one implementation.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
    rollupOptions: { input: { index: here('index.html'), runs: here('runs.html'), plan: here('plan.html') } },
  },
});
