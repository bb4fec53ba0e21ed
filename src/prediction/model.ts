/**
 * A trained run made ready for inference: its network (weights from model/ or checkpoints/best/), the saved
 * scaler bundle, the architecture and what training recorded about its data. Everything is read from out/{run}/
 * and checked against itself, so a folder whose files disagree fails here with the file named, not later with
 * a silently wrong forecast.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readSafetensors } from '../engine/io/index.js';
import { Rng } from '../engine/rng.js';
import { Engine, Tensor } from '../engine/runtime.js';
import { Scaler, loadScalerBundle, type ScalerBundle } from '../features/index.js';
import { createNetwork, loadStateDict, predict, type ModelConfig, type Network } from '../models/index.js';
import { CHECKPOINT_FILES, RUN_FILES, fromModelConfigFile, readRun, resolveRunRef, type RunInfo } from '../training/index.js';
import { UserError } from '../util/errors.js';

/** Which weights of a run: the final model (model/model.safetensors) or the best checkpoint (checkpoints/best/). */
export type CheckpointChoice = 'final' | 'best';

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

/**
 * What inference reads from config.json: where training's history started. Recursive indicators (EMA, MACD, RSI,
 * KDJ) depend slightly on the first bar of the series, so inference loads history from the very same first day:
 * data.firstDate (the first bar training actually read), else the requested data.startDate.
 */
const RecordedDataSchema = z.object({
  data: z.object({ firstDate: isoDate.nullable().optional(), startDate: isoDate.nullable().optional() }).passthrough().optional(),
});

export interface RunModel {
  /** The run folder's name, as in the forecast's `run` field. */
  run: string;
  dir: string;
  checkpoint: CheckpointChoice;
  /** The run's symbol, or null for a model trained without one (a general model). */
  symbol: string | null;
  info: RunInfo;
  config: ModelConfig;
  bundle: ScalerBundle;
  targetScaler: Scaler;
  /** The first day of history training loaded (config.json data.firstDate or startDate); null: the symbol's first bar. */
  historyStart: string | null;
  network: Network;
  /** The Rng the network's dropout layers draw from; Monte-Carlo sampling reseeds it in place. */
  rng: Rng;
  /** mtime of the weights file when loaded, so a cache can notice a replaced model. */
  weightsMtimeMs: number;
  weightsPath: string;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${what} ${path}: ${(err as Error).message}`, 'run_not_ready');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${what} ${path} is not valid JSON: ${(err as Error).message}`, 'run_corrupt');
  }
}

/** The weights file a checkpoint choice reads. */
export function weightsPathOf(dir: string, checkpoint: CheckpointChoice): string {
  return checkpoint === 'final' ? join(dir, RUN_FILES.modelSafetensors) : join(dir, RUN_FILES.bestDir, CHECKPOINT_FILES.weights);
}

/**
 * Loads a run by name (inside `outputDir`) or by path. The scaler and architecture always come from model/: the
 * best checkpoint's weights were trained on exactly those inputs, and a run without model/ has no saved scaler
 * to build inputs with (a new scaler would change every input), so it cannot predict yet.
 */
export function loadRunModel(ref: string, options: { outputDir?: string; checkpoint?: CheckpointChoice } = {}): RunModel {
  const checkpoint = options.checkpoint ?? 'final';
  const dir = resolveRunRef(ref, options.outputDir);
  const info = readRun(dir);
  if (info.status === 'corrupt') throw new UserError(`run ${info.name} is corrupt: ${info.reason}`, 'run_corrupt');
  const modelConfigPath = join(dir, RUN_FILES.modelConfig);
  const scalerPath = join(dir, RUN_FILES.scaler);
  if (!existsSync(modelConfigPath) || !existsSync(scalerPath)) {
    throw new UserError(
      `run ${info.name} (${info.status}) has no ${RUN_FILES.modelConfig} and ${RUN_FILES.scaler} yet: they are written when training ends`,
      'run_not_ready',
    );
  }
  const weightsPath = weightsPathOf(dir, checkpoint);
  if (!existsSync(weightsPath)) {
    throw new UserError(
      `run ${info.name} has no ${checkpoint === 'final' ? RUN_FILES.modelSafetensors : `${RUN_FILES.bestDir}/${CHECKPOINT_FILES.weights}`}`,
      'run_not_ready',
    );
  }
  const { config, inputs } = fromModelConfigFile(readJsonFile(modelConfigPath, 'model config'));
  const bundle = loadScalerBundle(scalerPath);
  const mismatch: string[] = [];
  if (inputs.featureNames.join(',') !== bundle.featureNames.join(',')) mismatch.push('feature_names differ from scaler.json featureNames');
  if (inputs.seqLength !== bundle.seqLength) mismatch.push(`seq_length ${inputs.seqLength} ≠ scaler.json seqLength ${bundle.seqLength}`);
  if (inputs.horizon !== bundle.horizon) mismatch.push(`horizon ${inputs.horizon} ≠ scaler.json horizon ${bundle.horizon}`);
  if (config.inputSize !== bundle.featureNames.length) mismatch.push(`input_size ${config.inputSize} ≠ ${bundle.featureNames.length} features`);
  if (config.outputSize !== bundle.horizon) mismatch.push(`output_size ${config.outputSize} ≠ horizon ${bundle.horizon}`);
  if (inputs.target !== bundle.target.kind) mismatch.push(`target ${inputs.target} ≠ scaler.json target ${bundle.target.kind}`);
  if (mismatch.length) throw new UserError(`run ${info.name}: model/config.json and model/scaler.json disagree: ${mismatch.join('; ')}`, 'run_corrupt');

  let historyStart: string | null = null;
  const configPath = join(dir, RUN_FILES.config);
  if (existsSync(configPath)) {
    const recorded = RecordedDataSchema.safeParse(readJsonFile(configPath, 'training config'));
    if (!recorded.success) throw new UserError(`run ${info.name}: config.json data section is malformed: ${recorded.error.message}`, 'run_corrupt');
    historyStart = recorded.data.data?.firstDate ?? recorded.data.data?.startDate ?? null;
  }

  const engine = Engine.create();
  const rng = new Rng(0);
  const network = createNetwork(config, engine, rng);
  const { tensors } = readSafetensors(weightsPath);
  const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') throw new UserError(`${weightsPath}: weight ${name} is ${t.dtype}, expected F32`, 'run_corrupt');
    weights[name] = { shape: t.shape, data: t.data as Float32Array };
  }
  try {
    loadStateDict(network, weights);
  } catch (err) {
    throw new UserError(`${weightsPath}: ${(err as Error).message}`, 'run_corrupt');
  }
  return {
    run: info.name,
    dir,
    checkpoint,
    symbol: info.symbol,
    info,
    config,
    bundle,
    targetScaler: Scaler.fromJSON(bundle.targetScaler),
    historyStart,
    network,
    rng,
    weightsMtimeMs: statSync(weightsPath).mtimeMs,
    weightsPath,
  };
}

/** Windows per forward pass: bounds the engine's step arena (activations grow with batch × seqLength × hidden). */
export const FORWARD_CHUNK = 256;

/** Evaluation-mode outputs (scaled) for `count` windows [count, seqLength, F] → [count, horizon], chunked. */
export function forwardPoint(model: RunModel, x: Float32Array, count: number): Float32Array {
  const stride = x.length / count;
  const h = model.config.outputSize;
  const out = new Float32Array(count * h);
  for (let start = 0; start < count; start += FORWARD_CHUNK) {
    const n = Math.min(FORWARD_CHUNK, count - start);
    out.set(predict(model.network, x.subarray(start * stride, (start + n) * stride), n), start * h);
  }
  return out;
}

/**
 * Monte-Carlo dropout: `samples` forward passes of one window [seqLength, F] with dropout on (and nothing else
 * changed: every layer is deterministic but the dropout masks), as batches of replicas. The dropout Rng is reset
 * to `seed` first, so the samples depend only on (weights, window, samples, seed), whatever was predicted before.
 * Returns scaled outputs [samples, horizon].
 */
export function forwardDropoutSamples(model: RunModel, window: Float32Array, samples: number, seed: number): Float32Array {
  const { network, config } = model;
  const e = network.engine;
  const h = config.outputSize;
  const seqLength = window.length / config.inputSize;
  const out = new Float32Array(samples * h);
  model.rng.setState(new Rng(seed).getState());
  for (let start = 0; start < samples; start += FORWARD_CHUNK) {
    const n = Math.min(FORWARD_CHUNK, samples - start);
    e.resetArena();
    try {
      network.setTraining(true);
      const input = Tensor.scratch(e, [n, seqLength, config.inputSize]);
      const view = input.data();
      for (let r = 0; r < n; r++) view.set(window, r * window.length);
      out.set(network.forward(input).data(), start * h);
    } finally {
      network.setTraining(false);
      e.resetArena();
    }
  }
  return out;
}
