import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cosCorrectlyRounded } from '../../src/engine/optim/cos.js';
import { createSchedule, ReduceLROnPlateau, StepLR, type LrSchedule, type ScheduleSpec } from '../../src/engine/optim/index.js';
import { REFERENCE_PYTHON, referenceSkip } from '../helpers/env.js';
import { seededValues, torchReference } from './optim-helpers.js';

/** A validation curve that improves, plateaus with noise, improves again and plateaus: enough to trigger reductions. */
const METRICS = Array.from({ length: 60 }, (_, t) => {
  const noise = seededValues(1, 7 + t, 1e-5)[0];
  if (t < 8) return 1 - 0.05 * t + noise;
  if (t < 30) return 0.65 + noise;
  if (t < 35) return 0.65 - 0.02 * (t - 29);
  return 0.55 + noise;
});

interface Case {
  spec: ScheduleSpec;
  torch: Record<string, unknown>;
  lr: number;
  steps: number;
  metrics?: number[];
}

const CASES: Record<string, Case> = {
  'StepLR default gamma': { spec: { type: 'step', stepSize: 3 }, torch: { type: 'step', step_size: 3 }, lr: 0.01, steps: 30 },
  'StepLR gamma 0.7': { spec: { type: 'step', stepSize: 1, gamma: 0.7 }, torch: { type: 'step', step_size: 1, gamma: 0.7 }, lr: 3e-4, steps: 40 },
  // Beyond T_max the lr climbs back: the restart branch of torch's recursion.
  'cosine T_max 7 past the end': { spec: { type: 'cosine', tMax: 7 }, torch: { type: 'cosine', T_max: 7 }, lr: 0.001, steps: 30 },
  'cosine T_max 50, eta_min': {
    spec: { type: 'cosine', tMax: 50, etaMin: 1e-5 },
    torch: { type: 'cosine', T_max: 50, eta_min: 1e-5 },
    lr: 0.003,
    steps: 50,
  },
  'plateau defaults': { spec: { type: 'plateau' }, torch: { type: 'plateau' }, lr: 0.001, steps: 60, metrics: METRICS },
  'plateau cooldown, min_lr, abs threshold': {
    spec: { type: 'plateau', patience: 2, cooldown: 3, minLr: 2e-5, thresholdMode: 'abs', threshold: 1e-3, factor: 0.5 },
    torch: { type: 'plateau', patience: 2, cooldown: 3, min_lr: 2e-5, threshold_mode: 'abs', threshold: 1e-3, factor: 0.5 },
    lr: 0.001,
    steps: 60,
    metrics: METRICS,
  },
  'plateau mode max, rel': {
    spec: { type: 'plateau', mode: 'max', patience: 1 },
    torch: { type: 'plateau', mode: 'max', patience: 1 },
    lr: 0.01,
    steps: 60,
    metrics: METRICS.map((m) => 2 - m),
  },
};

function run(c: Case, from = 0, schedule?: LrSchedule, target = { lr: c.lr }): { lrs: number[]; schedule: LrSchedule; target: { lr: number } } {
  const s = schedule ?? createSchedule(target, c.spec);
  const lrs: number[] = [];
  for (let t = from; t < c.steps; t++) {
    s.step(c.metrics?.[t]);
    lrs.push(target.lr);
  }
  return { lrs, schedule: s, target };
}

test('learning-rate sequences are identical to torch.optim.lr_scheduler', { skip: referenceSkip('torch') }, () => {
  const names = Object.keys(CASES);
  const reference = torchReference<{ lrs: number[] }>(
    names.map((n) => ({ kind: 'schedule', schedule: CASES[n].torch, lr: CASES[n].lr, steps: CASES[n].steps, metrics: CASES[n].metrics ?? null })),
  );
  names.forEach((name, i) => {
    const ours = run(CASES[name]).lrs;
    assert.deepEqual(ours, reference[i].lrs, name);
    assert.ok(new Set(ours).size >= 3, `${name}: the schedule moved the lr (${new Set(ours).size} distinct values)`);
  });
});

test('a schedule saved through JSON mid-run continues exactly as one that never stopped', () => {
  for (const [name, c] of Object.entries(CASES)) {
    const straight = run(c).lrs;
    const half = Math.floor(c.steps / 2);
    const first = run({ ...c, steps: half });
    const saved = JSON.parse(JSON.stringify(first.schedule.stateDict())) as Record<string, unknown>;
    // The optimizer's lr is restored from the optimizer's own state, as in torch.
    const target = { lr: c.lr };
    const resumed = createSchedule(target, c.spec);
    target.lr = first.target.lr;
    resumed.loadStateDict(saved);
    assert.deepEqual([...first.lrs, ...run(c, half, resumed, target).lrs], straight, name);
  }
});

test('torch defaults and state contents', () => {
  const target = { lr: 0.1 };
  const plateau = new ReduceLROnPlateau(target);
  assert.deepEqual(plateau.stateDict(), {
    type: 'plateau',
    last_epoch: 0,
    best: null,
    num_bad_epochs: 0,
    cooldown_counter: 0,
    last_lr: 0.1,
    mode: 'min',
    factor: 0.1,
    patience: 10,
    threshold: 1e-4,
    threshold_mode: 'rel',
    cooldown: 0,
    min_lr: 0,
    eps: 1e-8,
  });
  // Hand-computed: 1 best, then 11 epochs without a 1e-4 relative improvement: the 11th exceeds patience 10.
  plateau.step(1);
  for (let i = 0; i < 10; i++) plateau.step(0.99995);
  assert.equal(target.lr, 0.1);
  plateau.step(0.99995);
  assert.equal(target.lr, 0.1 * 0.1);
  const step = new StepLR({ lr: 1 }, { stepSize: 2 });
  assert.equal(step.gamma, 0.1);
  step.step();
  step.step();
  assert.equal(step.lastLr, 0.1);
  assert.deepEqual(step.stateDict(), { type: 'step', last_epoch: 2, base_lr: 1, last_lr: 0.1, step_size: 2, gamma: 0.1 });
});

test('bad options and mismatched state are refused with a reason', () => {
  assert.throws(() => createSchedule({ lr: 1 }, { type: 'step', stepSize: 0 }), /step_size must be a positive integer/);
  assert.throws(() => createSchedule({ lr: 1 }, { type: 'cosine', tMax: 2.5 }), /T_max must be a positive integer/);
  assert.throws(() => createSchedule({ lr: 1 }, { type: 'plateau', factor: 1 }), /factor should be < 1\.0/);
  assert.throws(() => new ReduceLROnPlateau({ lr: 1 }).step(), /needs the epoch's metric/);
  const cosine = createSchedule({ lr: 1 }, { type: 'cosine', tMax: 10 });
  assert.throws(() => cosine.loadStateDict(new StepLR({ lr: 1 }, { stepSize: 3 }).stateDict()), /state is for "step", not "cosine"/);
  assert.throws(() => cosine.loadStateDict({ ...cosine.stateDict(), T_max: 20 }), /saved with T_max=20, but this run has 10/);
  const plateau = new ReduceLROnPlateau({ lr: 1 });
  assert.throws(() => plateau.loadStateDict({ ...plateau.stateDict(), patience: 3 }), /saved with patience=3/);
  assert.throws(() => plateau.loadStateDict({ ...plateau.stateDict(), num_bad_epochs: -1 }), /invalid num_bad_epochs/);
});

const mpmathSkip =
  spawnSync(REFERENCE_PYTHON, ['-c', 'import mpmath'], { stdio: 'ignore' }).status === 0 ? false : `SKIPPED: ${REFERENCE_PYTHON} has no mpmath`;

test("the cosine schedule's cos is correctly rounded (checked against 200-bit mpmath)", { skip: mpmathSkip }, () => {
  const xs: number[] = [];
  for (let T = 1; T <= 60; T++) for (let e = 0; e <= 2 * T + 1; e++) xs.push((Math.PI * e) / T);
  xs.push(...seededValues(2000, 11, 400), 0, -0, 1e-300, Math.PI / 2, 1e5 + 0.5);
  const script = [
    'import json, sys, mpmath',
    'mpmath.mp.prec = 200',
    'print(json.dumps([float(mpmath.cos(mpmath.mpf(x))) for x in json.load(sys.stdin)]))',
  ].join('\n');
  const r = spawnSync(REFERENCE_PYTHON, ['-c', script], { input: JSON.stringify(xs), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const exact = JSON.parse(r.stdout) as number[];
  const wrong = xs.filter((x, i) => cosCorrectlyRounded(x) !== exact[i]);
  assert.deepEqual(wrong, [], `not correctly rounded at ${wrong.slice(0, 5).join(', ')}`);
  assert.ok(Number.isNaN(cosCorrectlyRounded(Infinity)));
});
