/**
 * ONNX export of a trained run (issue 18): the whole network (LSTM, GRU or Transformer, then the MLP head) as one
 * ONNX graph, scaled inputs [batch, seq_length, n_features] → scaled log returns [batch, horizon], with a dynamic
 * batch axis, and everything another runtime needs to reproduce `predict` in the metadata_props.
 *
 * The file is encoded with protobufjs and the official onnx.proto schema: `onnx-proto` (npm) ships protobufjs code
 * generated from onnx/onnx.proto3 of ONNX v1.10.2 (IR version 8); package.json overrides its protobufjs to ours
 * (8.x), so no unmaintained protobufjs 6 is installed. Nothing here hand-encodes protobuf bytes.
 *
 * Mapping from the engine (PyTorch state_dict layouts, docs/ENGINE.md) to ONNX operators:
 * - nn.LSTM / nn.GRU, batch_first: Transpose to [T, B, F], one ONNX LSTM / GRU node per layer, gate blocks reordered
 *   (PyTorch LSTM i,f,g,o → ONNX i,o,f,c; PyTorch GRU r,z,n → ONNX z,r,h with linear_before_reset = 1, which is
 *   PyTorch's n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))), B = [bias_ih, bias_hh]; Y_h of the last layer is the
 *   last step's hidden state. Dropout between layers is the identity at inference, so it has no node.
 * - the Transformer: input projection, · √d_model, + the sinusoidal table (the engine's own PositionalEncoding
 *   table, float32), then per encoder layer (post-norm, ReLU) self-attention from the packed in_proj split into
 *   q, k, v, scores · 1/√head_dim, Softmax, out_proj, x + attn → LayerNorm, feed-forward, h + ff → LayerNorm; the
 *   last position (Gather on the time axis) goes to the head.
 * - the head: Gemm → Relu → Gemm (its Dropout is the identity at inference).
 *
 * - a stock embedding (universal runs with model.stockEmbeddingDim > 0): a second input `stock`, int64 [batch], the
 *   embedding row of each window's stock (model/config.json `stocks`: row i + 1 is stocks[i], row 0 the unknown
 *   stock); Gather from stock_embedding.weight → Unsqueeze → Expand over the seq_length steps → Concat after the
 *   features, which is what the engine's StockEmbeddingForecaster computes. Without an embedding the graph has one input.
 */
import { join, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type OnnxProto from 'onnx-proto';
import { PositionalEncoding } from '../engine/layers/positional.js';
import { Rng } from '../engine/rng.js';
import { stateDict, type StateTensor } from '../models/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { readJson } from '../util/json.js';
import { KLINECAST_VERSION } from '../util/version.js';
import { RUN_FILES } from './files.js';
import { loadRunModel, type CheckpointChoice, type LoadedModel } from './model.js';

type NodeProto = OnnxProto.onnx.INodeProto;
type TensorProto = OnnxProto.onnx.ITensorProto;
type AttributeProto = OnnxProto.onnx.IAttributeProto;
type OnnxSchema = typeof OnnxProto.onnx;

let schema: OnnxSchema | undefined;
/** The generated schema code (onnx-proto, 324 KB) is loaded on first use: CLI commands that never export skip it. */
function onnxSchema(): OnnxSchema {
  schema ??= (createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto).onnx;
  return schema;
}

/** model/model.onnx: where `runs export --format onnx` writes by default. */
export const ONNX_FILE = 'model.onnx';
export const RUN_ONNX_PATH = `${RUN_FILES.modelDir}/${ONNX_FILE}`;

/** The graph's one input and one output (documented in docs/TRAINING_OUTPUT_STANDARD.md, "model/model.onnx"). */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';
/** The second input of a model with a stock embedding: each window's embedding row. */
export const ONNX_STOCK_INPUT = 'stock';

export const DEFAULT_OPSET = 17;
/** 13: Squeeze/Softmax in their current form; below 17 LayerNormalization is built from ReduceMean etc. */
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

/** The lowest IR version that may carry an ai.onnx opset (onnx/helper.py VERSION_TABLE). */
function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export function checkOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new UserError(`--opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET} (default ${DEFAULT_OPSET}), got ${opset}`);
  }
  return opset;
}

const attrType = () => onnxSchema().AttributeProto.AttributeType;
const attrInt = (name: string, i: number): AttributeProto => ({ name, type: attrType().INT, i });
const attrInts = (name: string, ints: number[]): AttributeProto => ({ name, type: attrType().INTS, ints });
const attrFloat = (name: string, f: number): AttributeProto => ({ name, type: attrType().FLOAT, f });

/** Little-endian bytes of a typed array, copied (engine tensors are views into WebAssembly memory). */
function rawBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const copy = data.slice();
  return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
}

/** Nodes and initializers of one graph, with unique value names. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  unique(name: string): string {
    let n = name;
    for (let i = 1; this.used.has(n); i++) n = `${name}_${i}`;
    this.used.add(n);
    return n;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`onnx: ${name} holds ${data.length} values for [${dims}]`);
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims, dataType: onnxSchema().TensorProto.DataType.FLOAT, rawData: rawBytes(data) });
    return unique;
  }

  int64s(name: string, dims: number[], values: number[]): string {
    const unique = this.unique(name);
    this.initializers.push({
      name: unique,
      dims,
      dataType: onnxSchema().TensorProto.DataType.INT64,
      rawData: rawBytes(BigInt64Array.from(values.map(BigInt))),
    });
    return unique;
  }

  /** One node; returns its output names (as many as `outputs`, each made unique under the node's name). */
  node(opType: string, name: string, inputs: string[], outputs = 1, attribute: AttributeProto[] = []): string[] {
    const nodeName = this.unique(name);
    const out = Array.from({ length: outputs }, (_, i) => this.unique(outputs === 1 ? `${nodeName}_output` : `${nodeName}_output_${i}`));
    this.nodes.push({ opType, name: nodeName, input: inputs, output: out, attribute });
    return out;
  }

  one(opType: string, name: string, inputs: string[], attribute: AttributeProto[] = []): string {
    return this.node(opType, name, inputs, 1, attribute)[0];
  }
}

function tensorOf(weights: Record<string, StateTensor>, name: string): StateTensor {
  const t = weights[name];
  if (!t) throw new Error(`onnx: the model has no ${name}`);
  return t;
}

/** [rows, cols] row-major → [cols, rows]: MatMul computes x · Wᵀ as x · (Wᵀ stored). */
function transpose2d(t: StateTensor): { dims: number[]; data: Float32Array } {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return { dims: [cols, rows], data: out };
}

/** Rows [from, from + count) of a [rows, cols] tensor (or elements of a vector). */
function rowBlock(t: StateTensor, from: number, count: number): StateTensor {
  const cols = t.shape.length === 2 ? t.shape[1] : 1;
  return { shape: t.shape.length === 2 ? [count, cols] : [count], data: t.data.slice(from * cols, (from + count) * cols) };
}

/** Reorders equal gate blocks along the first axis: out block j = in block order[j]. */
function reorderGates(data: Float32Array, gates: number, order: number[]): Float32Array {
  const block = data.length / gates;
  const out = new Float32Array(data.length);
  order.forEach((from, j) => out.set(data.subarray(from * block, (from + 1) * block), j * block));
  return out;
}

/** x · Wᵀ + b for a PyTorch Linear (weight [out, in]) applied to the last axis of any-rank x. */
function linear(g: GraphBuilder, x: string, weights: Record<string, StateTensor>, prefix: string): string {
  const w = transpose2d(tensorOf(weights, `${prefix}.weight`));
  const b = tensorOf(weights, `${prefix}.bias`);
  const wName = g.floats(`${prefix}.weight_T`, w.dims, w.data);
  const bName = g.floats(`${prefix}.bias`, [...b.shape], b.data);
  const mm = g.one('MatMul', `/${prefix}/MatMul`, [x, wName]);
  return g.one('Add', `/${prefix}/Add`, [mm, bName]);
}

/** The MLP head fc = Sequential(Linear, ReLU, Dropout, Linear) on [B, hidden] → [B, horizon], into `output`. */
function head(g: GraphBuilder, x: string, weights: Record<string, StateTensor>): void {
  const gemm = (input: string, prefix: string, output?: string): string => {
    const w = tensorOf(weights, `${prefix}.weight`);
    const b = tensorOf(weights, `${prefix}.bias`);
    const inputs = [input, g.floats(`${prefix}.weight`, [...w.shape], w.data), g.floats(`${prefix}.bias`, [...b.shape], b.data)];
    const attrs = [attrInt('transB', 1)];
    if (!output) return g.one('Gemm', `/${prefix}/Gemm`, inputs, attrs);
    g.nodes.push({ opType: 'Gemm', name: g.unique(`/${prefix}/Gemm`), input: inputs, output: [output], attribute: attrs });
    return output;
  };
  const hidden = g.one('Relu', '/fc.1/Relu', [gemm(x, 'fc.0')]);
  gemm(hidden, 'fc.3', ONNX_OUTPUT);
}

/** nn.LSTM / nn.GRU, batch_first, stacked: [B, T, F] → the last layer's last hidden state [B, H]. */
function recurrent(g: GraphBuilder, input: string, kind: 'lstm' | 'gru', weights: Record<string, StateTensor>, layers: number, hidden: number): string {
  const gates = kind === 'lstm' ? 4 : 3;
  // PyTorch LSTM i,f,g,o → ONNX i,o,f,c; PyTorch GRU r,z,n → ONNX z,r,h
  const order = kind === 'lstm' ? [0, 3, 1, 2] : [1, 0, 2];
  const op = kind === 'lstm' ? 'LSTM' : 'GRU';
  let x = g.one('Transpose', '/rnn/Transpose', [input], [attrInts('perm', [1, 0, 2])]); // [T, B, F]
  let lastHidden = '';
  for (let k = 0; k < layers; k++) {
    const wIh = tensorOf(weights, `rnn.weight_ih_l${k}`);
    const wHh = tensorOf(weights, `rnn.weight_hh_l${k}`);
    const bIh = tensorOf(weights, `rnn.bias_ih_l${k}`);
    const bHh = tensorOf(weights, `rnn.bias_hh_l${k}`);
    const W = g.floats(`rnn.W_l${k}`, [1, ...wIh.shape], reorderGates(wIh.data, gates, order));
    const R = g.floats(`rnn.R_l${k}`, [1, ...wHh.shape], reorderGates(wHh.data, gates, order));
    const bias = new Float32Array(2 * gates * hidden);
    bias.set(reorderGates(bIh.data, gates, order), 0);
    bias.set(reorderGates(bHh.data, gates, order), gates * hidden);
    const B = g.floats(`rnn.B_l${k}`, [1, 2 * gates * hidden], bias);
    const attrs = [attrInt('hidden_size', hidden)];
    if (kind === 'gru') attrs.push(attrInt('linear_before_reset', 1));
    const [y, yH] = g.node(op, `/rnn/${op}_l${k}`, [x, W, R, B], 2, attrs); // Y [T, 1, B, H], Y_h [1, B, H]
    x = g.one('Squeeze', `/rnn/Squeeze_l${k}`, [y, g.int64s(`/rnn/axes_l${k}`, [1], [1])]); // [T, B, H]
    lastHidden = yH;
  }
  return g.one('Squeeze', '/rnn/Squeeze_h', [lastHidden, g.int64s('/rnn/axes_h', [1], [0])]); // [B, H]
}

/** LayerNorm over the last axis, eps 1e-5: LayerNormalization from opset 17, else its definition. */
function layerNorm(g: GraphBuilder, x: string, weights: Record<string, StateTensor>, prefix: string, opset: number): string {
  const w = tensorOf(weights, `${prefix}.weight`);
  const b = tensorOf(weights, `${prefix}.bias`);
  const scale = g.floats(`${prefix}.weight`, [...w.shape], w.data);
  const bias = g.floats(`${prefix}.bias`, [...b.shape], b.data);
  if (opset >= 17) return g.one('LayerNormalization', `/${prefix}/LayerNormalization`, [x, scale, bias], [attrInt('axis', -1), attrFloat('epsilon', 1e-5)]);
  const reduce = (input: string, what: string): string =>
    g.one('ReduceMean', `/${prefix}/ReduceMean_${what}`, [input], [attrInts('axes', [-1]), attrInt('keepdims', 1)]);
  const centred = g.one('Sub', `/${prefix}/Sub`, [x, reduce(x, 'mean')]);
  const variance = reduce(g.one('Mul', `/${prefix}/Square`, [centred, centred]), 'var');
  const eps = g.floats(`/${prefix}/eps`, [], new Float32Array([1e-5]));
  const std = g.one('Sqrt', `/${prefix}/Sqrt`, [g.one('Add', `/${prefix}/AddEps`, [variance, eps])]);
  const normed = g.one('Div', `/${prefix}/Div`, [centred, std]);
  return g.one('Add', `/${prefix}/AddBias`, [g.one('Mul', `/${prefix}/MulScale`, [normed, scale]), bias]);
}

/** One nn.TransformerEncoderLayer (post-norm, ReLU, batch_first) on [B, T, d]. */
function encoderLayer(g: GraphBuilder, x: string, weights: Record<string, StateTensor>, prefix: string, d: number, heads: number, opset: number): string {
  const hd = d / heads;
  const inW = tensorOf(weights, `${prefix}.self_attn.in_proj_weight`);
  const inB = tensorOf(weights, `${prefix}.self_attn.in_proj_bias`);
  const split = ['q', 'k', 'v'].map((part, i) => {
    const w = transpose2d(rowBlock(inW, i * d, d));
    const b = rowBlock(inB, i * d, d);
    const mm = g.one('MatMul', `/${prefix}/self_attn/${part}/MatMul`, [x, g.floats(`${prefix}.self_attn.${part}_proj_weight_T`, w.dims, w.data)]);
    const y = g.one('Add', `/${prefix}/self_attn/${part}/Add`, [mm, g.floats(`${prefix}.self_attn.${part}_proj_bias`, [d], b.data)]);
    return g.one('Reshape', `/${prefix}/self_attn/${part}/Reshape`, [y, g.int64s(`/${prefix}/self_attn/heads_shape_${part}`, [4], [0, 0, heads, hd])]); // [B, T, H, hd]
  });
  const q = g.one('Transpose', `/${prefix}/self_attn/q/Transpose`, [split[0]], [attrInts('perm', [0, 2, 1, 3])]); // [B, H, T, hd]
  const kT = g.one('Transpose', `/${prefix}/self_attn/k/Transpose`, [split[1]], [attrInts('perm', [0, 2, 3, 1])]); // [B, H, hd, T]
  const v = g.one('Transpose', `/${prefix}/self_attn/v/Transpose`, [split[2]], [attrInts('perm', [0, 2, 1, 3])]); // [B, H, T, hd]
  const scale = g.floats(`/${prefix}/self_attn/scale`, [], new Float32Array([1 / Math.sqrt(hd)]));
  const scores = g.one('Mul', `/${prefix}/self_attn/Scale`, [g.one('MatMul', `/${prefix}/self_attn/QK`, [q, kT]), scale]);
  const probs = g.one('Softmax', `/${prefix}/self_attn/Softmax`, [scores], [attrInt('axis', -1)]);
  const ctx = g.one(
    'Transpose',
    `/${prefix}/self_attn/ctx/Transpose`,
    [g.one('MatMul', `/${prefix}/self_attn/PV`, [probs, v])],
    [attrInts('perm', [0, 2, 1, 3])],
  );
  const merged = g.one('Reshape', `/${prefix}/self_attn/ctx/Reshape`, [ctx, g.int64s(`/${prefix}/self_attn/model_shape`, [3], [0, 0, d])]); // [B, T, d]
  const attended = linear(g, merged, weights, `${prefix}.self_attn.out_proj`);
  const h = layerNorm(g, g.one('Add', `/${prefix}/Residual1`, [x, attended]), weights, `${prefix}.norm1`, opset);
  const ff = linear(g, g.one('Relu', `/${prefix}/Relu`, [linear(g, h, weights, `${prefix}.linear1`)]), weights, `${prefix}.linear2`);
  return layerNorm(g, g.one('Add', `/${prefix}/Residual2`, [h, ff]), weights, `${prefix}.norm2`, opset);
}

/** The seed's TransformerModel up to the head: [B, T, F] → the last position [B, d]. */
function transformer(g: GraphBuilder, input: string, loaded: LoadedModel, weights: Record<string, StateTensor>, seqLength: number, opset: number): string {
  const { config } = loaded;
  const d = config.hiddenSize;
  const projected = linear(g, input, weights, 'input_projection');
  const scaled = g.one('Mul', '/input_projection/Scale', [projected, g.floats('/input_projection/sqrt_d_model', [], new Float32Array([Math.sqrt(d)]))]);
  // The engine's own table (float32 steps as torch), so both sides add the same values.
  const pe = new PositionalEncoding(loaded.network.engine, d, 0, new Rng(0)).table(seqLength);
  let x = g.one('Add', '/pos_encoder/Add', [scaled, g.floats('pos_encoder.pe', [seqLength, d], Float32Array.from(pe))]);
  for (let i = 0; i < config.numLayers; i++) x = encoderLayer(g, x, weights, `transformer_encoder.layers.${i}`, d, config.numHeads, opset);
  return g.one('Gather', '/transformer_encoder/Last', [x, g.int64s('/transformer_encoder/last_index', [], [seqLength - 1])], [attrInt('axis', 1)]); // [B, d]
}

/** The stock embedding's row of each window after every step's features: [B, T, F] and stock [B] → [B, T, F + D]. */
function stockEmbedding(g: GraphBuilder, weights: Record<string, StateTensor>, seqLength: number): string {
  const table = tensorOf(weights, 'stock_embedding.weight');
  const rows = g.one(
    'Gather',
    '/stock_embedding/Gather',
    [g.floats('stock_embedding.weight', [...table.shape], table.data), ONNX_STOCK_INPUT],
    [attrInt('axis', 0)],
  ); // [B, D]
  const unsqueezed = g.one('Unsqueeze', '/stock_embedding/Unsqueeze', [rows, g.int64s('/stock_embedding/axes', [1], [1])]); // [B, 1, D]
  // Broadcasting [B, 1, D] against [1, T, 1] repeats the row over the T steps.
  const expanded = g.one('Expand', '/stock_embedding/Expand', [unsqueezed, g.int64s('/stock_embedding/steps', [3], [1, seqLength, 1])]); // [B, T, D]
  return g.one('Concat', '/stock_embedding/Concat', [ONNX_INPUT, expanded], [attrInt('axis', 2)]);
}

export interface OnnxModelInfo {
  /** The run's name, recorded in the metadata. */
  run: string;
  checkpoint: CheckpointChoice;
  /** model/scaler.json as stored, embedded verbatim in the metadata. */
  scalerJson?: unknown;
  /** model/config.json as stored. */
  modelConfigJson?: unknown;
}

/** ONNX metadata_props: what another runtime needs to build the inputs and read the outputs. */
export function onnxMetadata(loaded: LoadedModel, info: OnnxModelInfo): Record<string, string> {
  const { inputs, config } = loaded;
  return {
    klinecast_version: KLINECAST_VERSION,
    run_name: info.run,
    checkpoint: info.checkpoint,
    model_type: config.modelType,
    feature_names: JSON.stringify(inputs.featureNames),
    seq_length: String(inputs.seqLength),
    horizon: String(inputs.horizon),
    target: inputs.target,
    input: `${ONNX_INPUT}: float32 [batch, ${inputs.seqLength}, ${inputs.featureNames.length}], the features scaled with scaler.json, oldest day first`,
    output: `${ONNX_OUTPUT}: float32 [batch, ${inputs.horizon}], scaled log returns of days t+1…t+${inputs.horizon}; invert with scaler.json's target scaler`,
    stock_input:
      config.stockEmbeddingDim > 0
        ? `${ONNX_STOCK_INPUT}: int64 [batch], the stock embedding row of each window: 1 + the stock's index in model_config.stocks, 0 for a stock not trained on`
        : 'none: the model has no stock embedding',
    scaler_file: RUN_FILES.scaler,
    ...(info.scalerJson === undefined ? {} : { scaler: JSON.stringify(info.scalerJson) }),
    ...(info.modelConfigJson === undefined ? {} : { model_config: JSON.stringify(info.modelConfigJson) }),
  };
}

/** Encodes a loaded model as an ONNX ModelProto. */
export function buildOnnxModel(loaded: LoadedModel, info: OnnxModelInfo, opset = DEFAULT_OPSET): Uint8Array {
  checkOpset(opset);
  const onnx = onnxSchema();
  const { config, inputs } = loaded;
  const weights = stateDict(loaded.network);
  const g = new GraphBuilder();
  g.unique(ONNX_INPUT);
  g.unique(ONNX_OUTPUT);
  const embedded = config.stockEmbeddingDim > 0;
  if (embedded) g.unique(ONNX_STOCK_INPUT);
  const input = embedded ? stockEmbedding(g, weights, inputs.seqLength) : ONNX_INPUT;
  const last =
    config.modelType === 'transformer'
      ? transformer(g, input, loaded, weights, inputs.seqLength, opset)
      : recurrent(g, input, config.modelType, weights, config.numLayers, config.hiddenSize);
  head(g, last, weights);
  const tensorType = (dims: Array<number | string>, elemType: number = onnx.TensorProto.DataType.FLOAT) => ({
    tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } },
  });
  const model = onnx.ModelProto.create({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'klinecast',
    producerVersion: KLINECAST_VERSION,
    docString: `klinecast ${config.modelType} forecaster of run ${info.run} (${info.checkpoint} weights): scaled features → scaled log returns`,
    graph: {
      name: `klinecast_${config.modelType}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [
        { name: ONNX_INPUT, type: tensorType(['batch', inputs.seqLength, inputs.featureNames.length]) },
        ...(embedded ? [{ name: ONNX_STOCK_INPUT, type: tensorType(['batch'], onnx.TensorProto.DataType.INT64) }] : []),
      ],
      output: [{ name: ONNX_OUTPUT, type: tensorType(['batch', inputs.horizon]) }],
    },
    metadataProps: Object.entries(onnxMetadata(loaded, info)).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface OnnxExportOptions {
  outputDir?: string;
  checkpoint?: CheckpointChoice;
  opset?: number;
  /** Destination file; default the run's model/model.onnx. */
  out?: string;
}

export interface OnnxExportResult {
  run: string;
  checkpoint: CheckpointChoice;
  opset: number;
  path: string;
  bytes: number;
  input: { name: string; shape: Array<number | string> };
  /** The stock-index input of a model with a stock embedding (int64 [batch]); null without one. */
  stockInput: { name: string; shape: Array<number | string> } | null;
  output: { name: string; shape: Array<number | string> };
}

/** A run as ONNX bytes, built in memory (nothing is written): the run's name or folder path. */
export function onnxOfRun(
  ref: string,
  options: { outputDir?: string; checkpoint?: CheckpointChoice; opset?: number } = {},
): {
  bytes: Uint8Array;
  loaded: ReturnType<typeof loadRunModel>;
  opset: number;
} {
  const opset = checkOpset(options.opset ?? DEFAULT_OPSET);
  const loaded = loadRunModel(ref, { outputDir: options.outputDir, checkpoint: options.checkpoint ?? 'final' });
  const stored = (file: string): unknown => {
    const read = readJson(join(loaded.dir, file), { within: loaded.dir });
    if (!read.ok) throw new UserError(`run ${loaded.run}: ${read.reason}`, read.missing ? 'run_not_ready' : 'run_corrupt');
    return read.value;
  };
  const info = { run: loaded.run, checkpoint: loaded.checkpoint, scalerJson: stored(RUN_FILES.scaler), modelConfigJson: stored(RUN_FILES.modelConfig) };
  return { bytes: buildOnnxModel(loaded, info, opset), loaded, opset };
}

/**
 * `klinecast runs export <run> --format onnx`: writes the ONNX model atomically (temp file, fsync, rename), so the
 * destination holds the old file, the new one, or nothing, never a torn one. Every problem of the run (missing,
 * not finished, corrupt) is a UserError raised before anything is written.
 */
export function exportOnnx(ref: string, options: OnnxExportOptions = {}): OnnxExportResult {
  const { bytes, loaded, opset } = onnxOfRun(ref, options);
  const path = options.out === undefined ? join(loaded.dir, RUN_ONNX_PATH) : resolve(options.out);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`--out ${options.out ?? path} is a folder; give a file path such as model.onnx`);
  writeFileAtomic(path, bytes);
  return {
    run: loaded.run,
    checkpoint: loaded.checkpoint,
    opset,
    path,
    bytes: bytes.length,
    input: { name: ONNX_INPUT, shape: ['batch', loaded.inputs.seqLength, loaded.inputs.featureNames.length] },
    stockInput: loaded.config.stockEmbeddingDim > 0 ? { name: ONNX_STOCK_INPUT, shape: ['batch'] } : null,
    output: { name: ONNX_OUTPUT, shape: ['batch', loaded.inputs.horizon] },
  };
}
