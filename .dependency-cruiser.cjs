// `npm run lint`'s import check (dependency-cruiser): no import circles anywhere in src/, and the layers run/ and
// infer/ over session/ (neither imports the other; session/ imports neither).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: a layer that two others need belongs below both (docs/architecture.md).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'session-below-run-and-infer',
      severity: 'error',
      comment: 'session/ is the layer training (run/) and inference (infer/) share: it imports neither.',
      from: { path: '^src/session/' },
      to: { path: '^src/(run|infer)/' },
    },
    {
      name: 'infer-not-run',
      severity: 'error',
      comment: 'Inference never imports training; what both need is session/.',
      from: { path: '^src/infer/' },
      to: { path: '^src/run/' },
    },
    {
      name: 'run-not-infer',
      severity: 'error',
      comment: 'Training never imports inference (the command exports model.onnx after training); see session/.',
      from: { path: '^src/run/' },
      to: { path: '^src/infer/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
