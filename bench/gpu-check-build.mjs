// Bundles bench/gpu-check.ts with every dependency inlined into dist/gpu-check.mjs, so bench/gpu-check runs on a
// machine that has Node but no node_modules (a GPU box). Run where `npm ci` was done: node bench/gpu-check-build.mjs
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(root, 'bench', 'gpu-check.ts')],
  outfile: join(root, 'dist', 'gpu-check.mjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // CommonJS dependencies inside an ESM bundle call require() for node built-ins.
  banner: {
    js: "import { createRequire as __gpuCheckRequire } from 'node:module'; const require = __gpuCheckRequire(import.meta.url);",
  },
  // onnxruntime-node is a native addon loaded on first use by the ONNX engine, which a GPU check never uses.
  external: ['onnxruntime-node'],
  logLevel: 'warning',
});
console.log('built dist/gpu-check.mjs');
