/** What only other processes can show: atomic claims across processes, SIGKILL at any instant, dead-pid detection. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { TrainingManager, listRuns, readRun, type RunMetadata } from '../../src/runs/index.js';

const root = mkdtempSync(join(tmpdir(), 'klinecast-procs-'));
after(() => rmSync(root, { recursive: true, force: true }));
const runsModule = pathToFileURL(resolve('src/runs/index.ts')).href;

function script(name: string, body: string): string {
  const path = join(root, `${name}.ts`);
  writeFileSync(path, `import { TrainingManager } from ${JSON.stringify(runsModule)};\n${body}`);
  return path;
}

function runChild(
  path: string,
  args: string[],
  onLine?: (line: string, kill: () => void) => void,
): Promise<{ code: number | null; signal: string | null; lines: string[]; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        onLine?.(line, () => child.kill('SIGKILL'));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => done({ code, signal, lines, stderr }));
  });
}

test('two processes creating runs in the same second get different folders', async () => {
  const out = join(root, 'race');
  const child = script(
    'race',
    `const [out, startAt] = process.argv.slice(2);
     while (Date.now() < Number(startAt)) {}
     const now = new Date(2024, 4, 6, 7, 8, 9);
     for (let i = 0; i < 10; i++) console.log(TrainingManager.create({ outputDir: out, symbol: '600519', modelType: 'lstm', now }).runName);`,
  );
  const startAt = String(Date.now() + 2500);
  const [a, b] = await Promise.all([runChild(child, [out, startAt]), runChild(child, [out, startAt])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const names = [...a.lines, ...b.lines];
  assert.equal(names.length, 20);
  assert.equal(new Set(names).size, 20, 'every run got its own folder');
  assert.deepEqual(names.slice().sort(), readdirSync(out).sort());
  assert.ok(names.includes('600519_lstm_20240506_070809') && names.includes('600519_lstm_20240506_070809_20'));
  for (const name of names) {
    const meta = JSON.parse(readFileSync(join(out, name, 'metadata.json'), 'utf8')) as RunMetadata;
    assert.equal(meta.run_name, name, 'each folder holds the metadata of the run that claimed it');
  }
});

const trainLoop = `
const [out] = process.argv.slice(2);
const m = TrainingManager.create({ outputDir: out, symbol: '000001', modelType: 'gru', saveTotalLimit: 2 });
m.updateStatus('training');
const w = (e) => ({ 'fc.weight': { dtype: 'F32', shape: [64, 64], data: new Float32Array(4096).fill(e) } });
for (let epoch = 1; ; epoch++) {
  m.logMetrics(epoch, { train_loss: 1 / epoch, val_loss: 2 / epoch, lr: 0.001 });
  m.updateStatus('training', { epochs_trained: epoch, note: 'x'.repeat(epoch % 50) });
  m.saveCheckpoint({ weights: w(epoch), optimizerState: w(-epoch), trainerState: { global_step: epoch, best_metric: 2 / epoch, metric_for_best_model: 'val_loss', greater_is_better: false, early_stopping: { patience: 5, best_metric: 2 / epoch, epochs_without_improvement: 0 }, scheduler: null }, rngState: { state: [String(epoch)] }, epoch, metrics: { val_loss: 2 / epoch }, isBest: epoch % 3 === 1 });
  m.heartbeat();
  if (epoch === 3) console.log('ready ' + m.runDir);
}
`;

test('SIGKILL during a tight write loop never leaves an unparseable file or a half checkpoint; the run shows as crashed and resumes', async () => {
  const child = script('loop', trainLoop);
  for (const delay of [0, 37, 120, 260]) {
    const out = join(root, `kill-${delay}`);
    let runDir = '';
    const result = await runChild(child, [out], (line, kill) => {
      if (line.startsWith('ready ')) {
        runDir = line.slice(6);
        setTimeout(kill, delay);
      }
    });
    assert.equal(result.signal, 'SIGKILL', result.stderr);
    for (const file of ['metadata.json', 'logs/metrics.json']) JSON.parse(readFileSync(join(runDir, file), 'utf8'));
    const checkpoints = readdirSync(join(runDir, 'checkpoints')).filter((n) => !n.startsWith('.'));
    assert.ok(checkpoints.length >= 2, checkpoints.join(','));
    for (const name of checkpoints) {
      for (const file of ['model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'rng_state.json']) {
        assert.ok(existsSync(join(runDir, 'checkpoints', name, file)), `${name}/${file} exists`);
      }
      JSON.parse(readFileSync(join(runDir, 'checkpoints', name, 'trainer_state.json'), 'utf8'));
    }
    const info = listRuns(out)[0];
    assert.equal(info.status, 'crashed');
    assert.match(info.reason ?? '', /process \d+ .* is gone \(was training\)/);

    const resumed = TrainingManager.open(runDir);
    const ck = resumed.latestCheckpoint();
    assert.ok(ck && ck.epoch >= 3);
    assert.equal((ck.weights['fc.weight'].data as Float32Array)[0], ck.epoch);
    assert.deepEqual(
      readdirSync(join(runDir, 'checkpoints')).filter((n) => n.startsWith('.')),
      [],
      'open() removed leftovers',
    );
    resumed.updateStatus('interrupted');
    assert.equal(readRun(runDir).status, 'interrupted');
  }
});

test('a run whose process exited without finishing shows as crashed; a stale heartbeat from another host too', async () => {
  const out = join(root, 'exit');
  const child = script(
    'exit',
    `const m = TrainingManager.create({ outputDir: process.argv[2], modelType: 'lstm' }); m.updateStatus('preparing'); console.log(m.runDir);`,
  );
  const result = await runChild(child, [out]);
  assert.equal(result.code, 0, result.stderr);
  const info = readRun(result.lines[0]);
  assert.equal(info.status, 'crashed');
  assert.match(info.reason ?? '', /was preparing/);

  const metaPath = join(result.lines[0], 'metadata.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as RunMetadata;
  const now = Date.parse('2024-01-01T12:00:00Z');
  writeFileSync(metaPath, JSON.stringify({ ...meta, host: 'worker-7', heartbeat_at: '2024-01-01T11:50:00Z' }));
  assert.equal(readRun(result.lines[0], { now }).status, 'preparing', 'another host, fresh heartbeat: alive');
  assert.equal(readRun(result.lines[0], { now, staleAfterMs: 5 * 60_000 }).status, 'crashed');
  assert.match(readRun(result.lines[0], { now, staleAfterMs: 5 * 60_000 }).reason ?? '', /no heartbeat for 10 min/);
});
