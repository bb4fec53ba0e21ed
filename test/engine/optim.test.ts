import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeSafetensors, encodeSafetensors } from '../../src/engine/io/index.js';
import { Adam, AdamW, clipGradNorm, createSchedule, type Optimizer, type ScheduleSpec } from '../../src/engine/optim/index.js';
import { createParameter, Engine, type Parameter } from '../../src/engine/runtime.js';
import { referenceSkip } from '../helpers/env.js';
import { maxRelativeError, seededValues, torchReference } from './optim-helpers.js';

// Sizes 35, 7 and 3 exercise the f32x4 body and the scalar tail of the fused kernel.
const SHAPES = [[5, 7], [7], [3]];
const STEPS = 24;
const MAX_NORM = 1.5;

function initialValues(): number[][] {
  return SHAPES.map((shape, i) =>
    seededValues(
      shape.reduce((a, b) => a * b, 1),
      100 + i,
    ),
  );
}

/** Per-step gradients; every third step is scaled up so clipping engages on some steps and not on others. */
function gradientSequence(): number[][][] {
  return Array.from({ length: STEPS }, (_, t) =>
    SHAPES.map((shape, i) =>
      seededValues(
        shape.reduce((a, b) => a * b, 1),
        1000 * t + i,
        t % 3 === 0 ? 2 : 0.05,
      ),
    ),
  );
}

/** Validation losses that improve, stall and improve again, to drive ReduceLROnPlateau through reductions. */
const METRICS = Array.from({ length: STEPS }, (_, t) => (t < 6 ? 1 - t * 0.1 : 0.5 + 1e-5 * ((t * 7) % 5)));

interface Setup {
  optimizer: 'Adam' | 'AdamW';
  options: { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number };
  schedule: ScheduleSpec | null;
}

const CASES: Record<string, Setup> = {
  'Adam defaults + StepLR': { optimizer: 'Adam', options: {}, schedule: { type: 'step', stepSize: 5, gamma: 0.5 } },
  'Adam L2 weight decay + cosine': {
    optimizer: 'Adam',
    options: { lr: 0.01, weightDecay: 0.05, betas: [0.8, 0.99], eps: 1e-6 },
    schedule: { type: 'cosine', tMax: 10, etaMin: 1e-4 },
  },
  'AdamW defaults + ReduceLROnPlateau': {
    optimizer: 'AdamW',
    options: {},
    schedule: { type: 'plateau', patience: 2, cooldown: 1, factor: 0.5 },
  },
  'AdamW strong decay, no schedule': { optimizer: 'AdamW', options: { lr: 0.02, weightDecay: 0.3 }, schedule: null },
};

function torchSchedule(spec: ScheduleSpec | null): Record<string, unknown> | null {
  if (!spec) return null;
  if (spec.type === 'step') return { type: 'step', step_size: spec.stepSize, gamma: spec.gamma };
  if (spec.type === 'cosine') return { type: 'cosine', T_max: spec.tMax, eta_min: spec.etaMin };
  return { type: 'plateau', patience: spec.patience, cooldown: spec.cooldown, factor: spec.factor };
}

function torchOptions(o: Setup['options']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.lr !== undefined) out.lr = o.lr;
  if (o.betas !== undefined) out.betas = o.betas;
  if (o.eps !== undefined) out.eps = o.eps;
  if (o.weightDecay !== undefined) out.weight_decay = o.weightDecay;
  return out;
}

function build(setup: Setup) {
  const engine = Engine.create();
  const params = SHAPES.map((shape, i) => createParameter(engine, `layer${i}.weight`, shape));
  initialValues().forEach((v, i) => params[i].value.set(v));
  const optimizer: Optimizer = setup.optimizer === 'Adam' ? new Adam(params, setup.options) : new AdamW(params, setup.options);
  const schedule = setup.schedule ? createSchedule(optimizer, setup.schedule) : null;
  return { engine, params, optimizer, schedule };
}

/** One training step as the trainer runs it: zero, write gradients, clip, step, schedule. */
function trainStep(run: ReturnType<typeof build>, grads: number[][], t: number): number {
  run.optimizer.zeroGrad();
  run.params.forEach((p, i) => p.grad.set(grads[i]));
  const norm = clipGradNorm(run.params, MAX_NORM);
  run.optimizer.step();
  run.schedule?.step(METRICS[t]);
  return norm;
}

const snapshot = (params: Parameter[]) => params.map((p) => p.value.data().slice());

test('Adam/AdamW + clip_grad_norm_ + schedules follow torch for 24 steps (1e-6 relative, identical lr)', { skip: referenceSkip('torch') }, (t) => {
  const grads = gradientSequence();
  const names = Object.keys(CASES);
  const reference = torchReference<{ params: number[][][]; norms: number[]; lrs: number[] }>(
    names.map((name) => ({
      kind: 'train',
      optimizer: CASES[name].optimizer,
      options: torchOptions(CASES[name].options),
      max_norm: MAX_NORM,
      schedule: torchSchedule(CASES[name].schedule),
      metrics: METRICS,
      params: SHAPES.map((shape, i) => ({ shape, values: initialValues()[i] })),
      grads,
    })),
  );
  names.forEach((name, c) => {
    const run = build(CASES[name]);
    const ref = reference[c];
    let worstParam = 0;
    let clipped = 0;
    for (let step = 0; step < STEPS; step++) {
      const norm = trainStep(run, grads[step], step);
      if (norm > MAX_NORM) clipped++;
      assert.ok(Math.abs(norm - ref.norms[step]) <= 1e-6 * ref.norms[step], `${name} step ${step}: norm ${norm} vs torch ${ref.norms[step]}`);
      assert.equal(run.optimizer.lr, ref.lrs[step], `${name} step ${step}: lr`);
      run.params.forEach((p, i) => {
        // Relative to max(|torch|, 0.1): 1e-6 relative, 1e-7 absolute for weights near zero (a few f32 ulps of 1).
        worstParam = Math.max(worstParam, maxRelativeError(p.value.data(), ref.params[step][i], 0.1));
      });
    }
    assert.ok(worstParam <= 1e-6, `${name}: parameters differ from torch by ${worstParam} relative`);
    t.diagnostic(`${name}: worst parameter difference ${worstParam.toExponential(2)}, clipped on ${clipped} steps`);
    assert.ok(clipped >= 4 && clipped < STEPS, `${name}: clipping engaged on ${clipped} of ${STEPS} steps`);
    // The schedules did move the lr, so the comparison above covers them.
    if (CASES[name].schedule) assert.notEqual(ref.lrs.at(-1), ref.lrs[0], `${name}: lr changed`);
  });
});

test('stopping, saving (safetensors + JSON) and resuming gives bit-identical weights to never stopping', () => {
  const grads = gradientSequence();
  for (const [name, setup] of Object.entries(CASES)) {
    const straight = build(setup);
    for (let t = 0; t < STEPS; t++) trainStep(straight, grads[t], t);

    const first = build(setup);
    const half = STEPS / 2;
    for (let t = 0; t < half; t++) trainStep(first, grads[t], t);
    const weights = snapshot(first.params);
    const optimizerFile = encodeSafetensors(first.optimizer.stateDict(), first.optimizer.stateMetadata());
    const scheduleJson = JSON.stringify(first.schedule?.stateDict() ?? null);

    const resumed = build(setup);
    resumed.params.forEach((p, i) => p.value.set(weights[i]));
    const saved = decodeSafetensors(optimizerFile);
    resumed.optimizer.loadStateDict(saved.tensors, saved.metadata);
    if (resumed.schedule) resumed.schedule.loadStateDict(JSON.parse(scheduleJson) as Record<string, unknown>);
    assert.equal(resumed.optimizer.stepCount, half);
    for (let t = half; t < STEPS; t++) trainStep(resumed, grads[t], t);

    assert.equal(resumed.optimizer.lr, straight.optimizer.lr, `${name}: lr`);
    resumed.params.forEach((p, i) => assert.deepEqual(p.value.data(), straight.params[i].value.data(), `${name}: ${p.name}`));
    assert.deepEqual(resumed.optimizer.stateDict(), straight.optimizer.stateDict(), `${name}: optimizer state`);
  }
});

test('stateDict holds step, lr and per-parameter moments under parameter names', () => {
  const run = build(CASES['Adam defaults + StepLR']);
  trainStep(run, gradientSequence()[0], 0);
  const state = run.optimizer.stateDict();
  assert.deepEqual(Object.keys(state).sort(), [
    'layer0.weight.exp_avg',
    'layer0.weight.exp_avg_sq',
    'layer1.weight.exp_avg',
    'layer1.weight.exp_avg_sq',
    'layer2.weight.exp_avg',
    'layer2.weight.exp_avg_sq',
    'lr',
    'step',
  ]);
  assert.deepEqual(state.step, { dtype: 'I64', shape: [], data: BigInt64Array.of(1n) });
  assert.deepEqual(state['layer0.weight.exp_avg'].shape, [5, 7]);
  assert.deepEqual(run.optimizer.stateMetadata(), {
    optimizer: 'Adam',
    lr: '0.001',
    betas: '0.9,0.999',
    eps: '1e-8',
    weight_decay: '0',
    step: '1',
  });
  // After one step m = (1 − β1)·g exactly as f32 arithmetic gives it.
  const g = run.params[2].grad.data();
  const m = state['layer2.weight.exp_avg'].data as Float32Array;
  for (let i = 0; i < g.length; i++) assert.equal(m[i], Math.fround(Math.fround(0 * 0.9) + Math.fround(g[i] * Math.fround(1 - 0.9))));
});

test('loadStateDict refuses state that does not fit, and changes nothing when it does', () => {
  const run = build(CASES['AdamW defaults + ReduceLROnPlateau']);
  trainStep(run, gradientSequence()[0], 0);
  const good = run.optimizer.stateDict();
  const before = JSON.stringify(run.optimizer.stateDict(), (_, v) => (typeof v === 'bigint' ? String(v) : v));
  const other = build(CASES['AdamW defaults + ReduceLROnPlateau']).optimizer;
  const { ['layer1.weight.exp_avg']: _dropped, ...missing } = good;
  assert.throws(() => other.loadStateDict(missing), /missing: layer1\.weight\.exp_avg/);
  assert.throws(() => other.loadStateDict({ ...good, extra: good.lr }), /unexpected: extra/);
  assert.throws(
    () => other.loadStateDict({ ...good, 'layer0.weight.exp_avg': { dtype: 'F32', shape: [7, 5], data: new Float32Array(35) } }),
    /"layer0\.weight\.exp_avg" is F32 \[7, 5\], expected F32 \[5, 7\]/,
  );
  assert.throws(() => other.loadStateDict(good, { optimizer: 'Adam' }), /saved with optimizer=Adam, but this optimizer has optimizer=AdamW/);
  assert.throws(() => other.loadStateDict(good, { weight_decay: '0.5' }), /weight_decay=0\.5/);
  assert.equal(other.stepCount, 0, 'a refused load leaves the optimizer untouched');
  other.loadStateDict(good, run.optimizer.stateMetadata());
  assert.equal(
    JSON.stringify(other.stateDict(), (_, v) => (typeof v === 'bigint' ? String(v) : v)),
    before,
  );
});

test('hyperparameters are checked like torch.optim', () => {
  const engine = Engine.create();
  const params = [createParameter(engine, 'w', [2])];
  assert.throws(() => new Adam(params, { lr: -1 }), /invalid learning rate: -1/);
  assert.throws(() => new Adam(params, { betas: [1, 0.999] }), /invalid beta parameter at index 0: 1/);
  assert.throws(() => new AdamW(params, { betas: [0.9, -0.1] }), /invalid beta parameter at index 1/);
  assert.throws(() => new AdamW(params, { eps: -1 }), /invalid epsilon value/);
  assert.throws(() => new Adam(params, { weightDecay: -0.1 }), /invalid weight_decay value/);
  assert.throws(() => new Adam([]), /empty parameter list/);
  assert.equal(new AdamW(params).weightDecay, 0.01);
  assert.equal(new Adam(params).weightDecay, 0);
});
