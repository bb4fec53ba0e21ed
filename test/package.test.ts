/**
 * klinecast is importable as a package: `npm pack` makes the tarball a user installs, it is unpacked into a fresh
 * project's node_modules (what `npm install klinecast-x.tgz` does for the package itself), and the seed's example
 * flow runs from it with nothing but `import … from 'klinecast'`: data → TrainingManager run → PredictionEngine.
 * The project sits inside this checkout, so the package's own dependencies resolve from the checkout's node_modules
 * instead of being downloaded and compiled again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
const project = mkdtempSync(join(ROOT, 'test-artifacts', 'package-'));
after(() => rmSync(project, { recursive: true, force: true }));

const FLOW = `
import { DEMO_DEFAULTS, PredictionEngine, TrainingManager, generateDemoMarket, migrate, openDatabase, resolveTrainConfig, runTraining, writeDemoMarket } from 'klinecast';

const handle = await openDatabase('sqlite:' + process.argv[2], { createDatabase: true });
await migrate(handle);
await writeDemoMarket(handle, generateDemoMarket({ ...DEMO_DEFAULTS, stocks: 2 }));
const symbol = (await handle.db.selectFrom('stock_basic_info').select('symbol').orderBy('symbol').executeTakeFirstOrThrow()).symbol;
const config = resolveTrainConfig({
  overrides: {
    data: { symbol },
    dataset: { seqLength: 20 },
    model: { modelType: 'gru', hiddenSize: 16, numLayers: 1 },
    training: { epochs: 2 },
    output: { outputDir: process.argv[3] },
  },
});
const report = await runTraining({ config, databaseUrl: 'sqlite:' + process.argv[2] });
const runs = TrainingManager.listRuns(process.argv[3]);
const engine = new PredictionEngine({ database: handle, outputDir: process.argv[3] });
const forecast = await engine.predict(symbol, { run: report.runName, samples: 0 });
await handle.close();
console.log(JSON.stringify({ status: report.status, runs: runs.map((r) => [r.name, r.status]), forecast: forecast.predictions.length, symbol: forecast.symbol }));
`;

test('npm pack → a fresh project imports klinecast and runs the seed example flow', { timeout: 240_000 }, () => {
  const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', project], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(packed.status, 0, packed.stderr);
  const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack wrote no tarball: ${packed.stdout}`);

  const installed = join(project, 'node_modules', 'klinecast');
  mkdirSync(installed, { recursive: true });
  const untar = spawnSync('tar', ['-xzf', join(project, tarball), '-C', installed, '--strip-components', '1'], { encoding: 'utf8' });
  assert.equal(untar.status, 0, untar.stderr);
  const files = readdirSync(installed);
  assert.ok(files.includes('dist') && files.includes('build') && files.includes('package.json'), `tarball holds ${files.join(', ')}`);
  assert.ok(!files.includes('src') && !files.includes('test'), `tarball should hold the build only, has ${files.join(', ')}`);

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-klinecast', private: true, type: 'module' }));
  writeFileSync(join(project, 'flow.mjs'), FLOW);
  const run = spawnSync(process.execPath, ['flow.mjs', join(project, 'demo.db'), join(project, 'out')], { cwd: project, encoding: 'utf8' });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1) as string);
  assert.equal(result.status, 'completed');
  assert.equal(result.runs.length, 1);
  assert.equal(result.runs[0][1], 'completed');
  assert.equal(result.forecast, 1);

  const types = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import('klinecast/package.json', { with: { type: 'json' } }).then((m) => console.log(m.default.types))"],
    {
      cwd: project,
      encoding: 'utf8',
    },
  );
  assert.equal(types.stdout.trim(), './dist/index.d.ts', types.stderr);
});
