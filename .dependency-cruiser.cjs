// The source layers of DESIGN.md, each importing only from those before it:
//   data → features → engine → models → evaluation → runs → training → prediction → batch → server / web → cli
// util/ (small helpers) and wire/ (the API's JSON types) sit under all of them. `npm test` runs this (npm run lint:deps).
const LAYERS = ['data', 'features', 'engine', 'models', 'evaluation', 'runs', 'training', 'prediction', 'batch', 'server', 'web', 'cli'];

const above = (i) => LAYERS.slice(i + 1).filter((l) => !(LAYERS[i] === 'server' && l === 'web') && !(LAYERS[i] === 'web' && l === 'server'));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No module may reach itself through its imports.',
      from: {},
      to: { circular: true },
    },
    ...LAYERS.map((layer, i) => ({
      name: `layer-${layer}`,
      severity: 'error',
      comment: `src/${layer} imports only from the layers before it (${LAYERS.slice(0, i).join(', ') || 'none'}), util and wire.`,
      from: { path: `^src/${layer}/` },
      to: { path: above(i).length ? `^src/(${above(i).join('|')})/` : '^$' },
    })),
    {
      name: 'util-is-a-leaf',
      severity: 'error',
      comment: 'src/util holds small helpers that import nothing else of klinecast.',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'wire-is-types-only',
      severity: 'error',
      comment: "src/wire declares the API's JSON; it may import only the result-file types beside it (evaluation/results.ts).",
      from: { path: '^src/wire/' },
      to: { path: '^src/', pathNot: '^src/(wire/|evaluation/results\\.ts$)' },
    },
    {
      name: 'src-does-not-import-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|examples)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
