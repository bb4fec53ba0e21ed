/**
 * The one loader of a trained model: a model folder (MODEL_FILES, as writeModelFolder writes it) or a run's model/
 * with the final or the best checkpoint's weights. Everything is checked against itself (dtypes, architecture against
 * the scaler), so a folder whose files disagree fails here with the file named, not later with a silently wrong forecast.
 * prediction, `klinecast eval` and Forecaster.load all load through it.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { decodeSafetensors } from '../engine/io/index.js';
import { Rng } from '../engine/rng.js';
import { Engine } from '../engine/runtime.js';
import { Scaler, parseScalerBundle, type ScalerBundle } from '../features/index.js';
import { createNetwork, loadStateDict, type ModelConfig, type Network } from '../models/index.js';
import { parseConformalCalibration, type ConformalCalibration } from '../evaluation/conformal.js';
import { UserError } from '../util/errors.js';
import { FileOutsideError, readFileWithin, readJson } from '../util/json.js';
import { CHECKPOINT_FILES, MODEL_FILES, RUN_FILES, fromModelConfigFile, type ModelInputs } from './files.js';
import { resolveRunRef } from './names.js';
import { readRun, type RunInfo } from './store.js';

/** Which weights of a run: the final model (model/model.safetensors) or the best checkpoint (checkpoints/best/). */
export type CheckpointChoice = 'final' | 'best';

export interface LoadedModel {
  config: ModelConfig;
  inputs: ModelInputs;
  bundle: ScalerBundle;
  targetScaler: Scaler;
  network: Network;
  /** The Rng the network's dropout layers draw from; Monte-Carlo sampling reseeds it in place. */
  rng: Rng;
  weightsPath: string;
  /** mtime of the weights file when loaded, so a cache can notice a replaced model. */
  weightsMtimeMs: number;
  /** The split-conformal calibration of model/intervals.json; null for a model saved without one. */
  intervals: ConformalCalibration | null;
}

export interface RunModel extends LoadedModel {
  /** The run folder's name, as in the forecast's `run` field. */
  run: string;
  dir: string;
  checkpoint: CheckpointChoice;
  /** The run's symbol, or null for a model trained without one (a general model). */
  symbol: string | null;
  info: RunInfo;
}

function readModelJson(path: string, what: string, root: string): unknown {
  const read = readJson(path, { within: root });
  if (!read.ok) throw new UserError(`${what}: ${read.reason}`, read.missing ? 'run_not_ready' : 'run_corrupt');
  return read.value;
}

/** The weights file a checkpoint choice reads. */
export function weightsPathOf(dir: string, checkpoint: CheckpointChoice): string {
  return checkpoint === 'final' ? join(dir, RUN_FILES.modelSafetensors) : join(dir, RUN_FILES.bestDir, CHECKPOINT_FILES.weights);
}

/** A weights file's name for messages: relative to the folder it belongs to, never an absolute server path. */
function shownPath(root: string, path: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') ? rel.split(sep).join('/') : basename(path);
}

/**
 * Reads and decodes safetensors weights inside `root`, checking every value is finite: a model with NaN or
 * infinite weights forecasts nothing (price null, trend flat), so it is corrupt, not a forecast.
 */
function readWeights(root: string, path: string, name: string): ReturnType<typeof decodeSafetensors>['tensors'] {
  const shown = shownPath(root, path);
  let bytes: Buffer;
  try {
    bytes = readFileWithin(root, path);
  } catch (err) {
    if (err instanceof FileOutsideError) throw new UserError(`${name}: ${err.message}`, 'run_corrupt');
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${name}: cannot read ${shown}: ${code ?? 'unreadable'}`, code === 'ENOENT' ? 'run_not_ready' : 'run_corrupt');
  }
  let tensors;
  try {
    tensors = decodeSafetensors(bytes, shown).tensors;
  } catch (err) {
    // The decoder's reason names the file as given (shown) and the format problem; a JSON header error is cut at its
    // first quote, so no piece of the file reaches the message.
    throw new UserError(`${name}: weights: ${(err as Error).message.split('"')[0].trim()}`, 'run_corrupt');
  }
  for (const [tensor, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32') throw new UserError(`${name}: weight ${tensor} is ${t.dtype}, expected F32`, 'run_corrupt');
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new UserError(
          `${name}: weights: ${shown} holds ${Number.isNaN(data[i]) ? 'NaN' : 'an infinite value'} in ${tensor} (a corrupt or diverged model)`,
          'run_corrupt',
        );
      }
    }
  }
  return tensors;
}

/**
 * Loads a model folder: config.json and scaler.json from `dir`, the weights from `weightsPath` (default: the folder's
 * model.safetensors). `name` is how errors refer to the folder (a run name; never a server path). Every file must
 * resolve inside `root` (default `dir`; a run's folder for its best checkpoint): links out of it are refused.
 * Every failure is a UserError: run_not_ready for a missing file, run_corrupt for anything unusable.
 */
export function loadModelFolder(dir: string, options: { weightsPath?: string; name?: string; root?: string } = {}): LoadedModel {
  const name = options.name ?? 'model folder';
  const root = options.root ?? dir;
  let config: ModelConfig;
  let inputs: ModelInputs;
  try {
    ({ config, inputs } = fromModelConfigFile(readModelJson(join(dir, MODEL_FILES.config), `${name}: ${MODEL_FILES.config}`, root)));
  } catch (err) {
    if (err instanceof UserError && (err.code === 'run_not_ready' || err.code === 'run_corrupt')) throw err;
    throw new UserError(`${name}: ${MODEL_FILES.config}: ${err instanceof UserError ? err.message : 'unusable'}`, 'run_corrupt');
  }
  let bundle: ScalerBundle;
  try {
    bundle = parseScalerBundle(readModelJson(join(dir, MODEL_FILES.scaler), `${name}: ${MODEL_FILES.scaler}`, root));
  } catch (err) {
    if (err instanceof UserError && (err.code === 'run_not_ready' || err.code === 'run_corrupt')) throw err;
    // A garbage scaler.json (right JSON, wrong shape) is corrupt, never a server fault.
    throw new UserError(`${name}: ${MODEL_FILES.scaler}: ${err instanceof UserError ? err.message : 'not a scaler bundle'}`, 'run_corrupt');
  }
  const mismatch: string[] = [];
  if (inputs.featureNames.join(',') !== bundle.featureNames.join(',')) mismatch.push('feature_names differ from scaler.json featureNames');
  if (inputs.seqLength !== bundle.seqLength) mismatch.push(`seq_length ${inputs.seqLength} ≠ scaler.json seqLength ${bundle.seqLength}`);
  if (inputs.horizon !== bundle.horizon) mismatch.push(`horizon ${inputs.horizon} ≠ scaler.json horizon ${bundle.horizon}`);
  if (config.inputSize !== bundle.featureNames.length) mismatch.push(`input_size ${config.inputSize} ≠ ${bundle.featureNames.length} features`);
  if (config.outputSize !== bundle.horizon) mismatch.push(`output_size ${config.outputSize} ≠ horizon ${bundle.horizon}`);
  if (inputs.target !== bundle.target.kind) mismatch.push(`target ${inputs.target} ≠ scaler.json target ${bundle.target.kind}`);
  if (mismatch.length) throw new UserError(`${name}: config.json and scaler.json disagree: ${mismatch.join('; ')}`, 'run_corrupt');

  const weightsPath = options.weightsPath ?? join(dir, MODEL_FILES.weights);
  const rng = new Rng(0);
  const network = createNetwork(config, Engine.create(), rng);
  const tensors = readWeights(root, weightsPath, name);
  const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [tensor, t] of Object.entries(tensors)) weights[tensor] = { shape: t.shape, data: t.data as Float32Array };
  try {
    loadStateDict(network, weights);
  } catch (err) {
    throw new UserError(`${name}: weights: ${(err as Error).message}`, 'run_corrupt');
  }
  let targetScaler: Scaler;
  try {
    targetScaler = Scaler.fromJSON(bundle.targetScaler);
  } catch (err) {
    throw new UserError(`${name}: ${MODEL_FILES.scaler}: target scaler: ${err instanceof UserError ? err.message : 'unusable'}`, 'run_corrupt');
  }
  return {
    config,
    inputs,
    bundle,
    targetScaler,
    network,
    rng,
    weightsPath,
    weightsMtimeMs: statSync(weightsPath).mtimeMs,
    intervals: readIntervals(dir, name, root, bundle.horizon),
  };
}

/** model/intervals.json when the model has one (older runs and runs without a validation segment do not). */
function readIntervals(dir: string, name: string, root: string, horizon: number): ConformalCalibration | null {
  const path = join(dir, MODEL_FILES.intervals);
  if (!existsSync(path)) return null;
  try {
    const calibration = parseConformalCalibration(readModelJson(path, `${name}: ${MODEL_FILES.intervals}`, root));
    if (calibration.absResiduals.length !== horizon) throw new Error(`${calibration.absResiduals.length} steps for horizon ${horizon}`);
    return calibration;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${name}: ${MODEL_FILES.intervals}: ${(err as Error).message}`, 'run_corrupt');
  }
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
  if (!existsSync(join(dir, RUN_FILES.modelConfig)) || !existsSync(join(dir, RUN_FILES.scaler))) {
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
  const loaded = loadModelFolder(join(dir, RUN_FILES.modelDir), { weightsPath, name: `run ${info.name}: ${RUN_FILES.modelDir}`, root: dir });
  return { ...loaded, run: info.name, dir, checkpoint, symbol: info.symbol, info };
}
