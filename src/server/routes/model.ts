/**
 * GET /api/v1/runs/:name/model?format=onnx|safetensors|pytorch: a run's weights as a download (issue 18). Read-only:
 * the ONNX model is built in memory from the chosen weights (nothing is written to the run), the other formats are
 * the run's own files. The name is validated and resolved inside the output folder with realpath (existingRunDir),
 * every file is read through readFileWithin (its realpath inside the run, a regular file, no hard link from
 * elsewhere), and errors name the run and the file relative to it, never a server path.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CHECKPOINT_FILES, RUN_FILES, readRun, type CheckpointChoice } from '../../runs/index.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, onnxOfRun } from '../../runs/onnx.js';
import { FileOutsideError, readFileWithin } from '../../util/json.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { queryInt, routeSchema } from '../schema.js';
import { RunParams, existingRunDir } from './runs.js';

export const MODEL_FORMATS = ['onnx', 'safetensors', 'pytorch'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

const ModelQuery = z
  .object({
    format: z.enum(MODEL_FORMATS).default('safetensors'),
    checkpoint: z.enum(['final', 'best']).default('final'),
    /** onnx only: the ai.onnx opset. */
    opset: queryInt(MIN_OPSET, MAX_OPSET).optional(),
  })
  .strict();

const EXTENSION: Record<ModelFormat, string> = { onnx: 'onnx', safetensors: 'safetensors', pytorch: 'bin' };

/** The run-relative file a stored format is served from. */
function storedFile(format: Exclude<ModelFormat, 'onnx'>, checkpoint: CheckpointChoice): string {
  if (format === 'pytorch') return RUN_FILES.modelTorch;
  return checkpoint === 'final' ? RUN_FILES.modelSafetensors : `${RUN_FILES.bestDir}/${CHECKPOINT_FILES.weights}`;
}

/**
 * checkpoints/best/ shares its files with checkpoint-N by hard link; any other link may come from outside the run.
 * A file is served when each of its links is accounted for inside checkpoints/.
 */
function linksInsideCheckpoints(dir: string, file: string): boolean {
  const st = statSync(file);
  if (st.nlink <= 1) return true;
  let found = 0;
  const checkpoints = join(dir, RUN_FILES.checkpointsDir);
  for (const entry of readdirSync(checkpoints)) {
    try {
      const other = statSync(join(checkpoints, entry, CHECKPOINT_FILES.weights));
      if (other.ino === st.ino && other.dev === st.dev) found++;
    } catch {
      // not a checkpoint with weights
    }
  }
  return found >= st.nlink;
}

function readStored(dir: string, name: string, rel: string): Buffer {
  const path = join(dir, rel);
  let bytes: Buffer;
  try {
    bytes = readFileWithin(dir, path);
  } catch (err) {
    if (err instanceof FileOutsideError) throw new HttpError(409, 'run_files_unreadable', `run ${name}: ${rel}: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new HttpError(404, 'model_not_found', `run ${name} has no ${rel} (the model is written when training ends)`);
    throw new HttpError(409, 'run_files_unreadable', `run ${name}: cannot read ${rel}: ${code ?? 'unreadable'}`);
  }
  const singleOrCheckpoint = rel.startsWith(`${RUN_FILES.bestDir}/`) ? linksInsideCheckpoints(dir, path) : statSync(path).nlink <= 1;
  if (!singleOrCheckpoint)
    throw new HttpError(409, 'run_files_unreadable', `run ${name}: ${rel} has other hard links (not served: it may be a file from elsewhere)`);
  return bytes;
}

export async function modelRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/runs/:name/model',
    {
      schema: routeSchema({
        params: RunParams,
        querystring: ModelQuery,
        summary: "Download a run's weights: onnx (built from the weights, docs/TRAINING_OUTPUT_STANDARD.md), safetensors or pytorch",
        tags: ['runs'],
      }),
    },
    async (request, reply) => {
      const { name } = request.params as z.output<typeof RunParams>;
      const q = request.query as z.output<typeof ModelQuery>;
      if (q.opset !== undefined && q.format !== 'onnx') throw new HttpError(400, 'bad_request', 'opset applies to format=onnx only');
      if (q.format === 'pytorch' && q.checkpoint === 'best') {
        throw new HttpError(400, 'bad_request', 'pytorch_model.bin holds the final weights only; use format=safetensors or onnx for checkpoint=best');
      }
      const dir = existingRunDir(ctx, name);
      const info = readRun(dir);
      if (info.status === 'corrupt') throw new HttpError(409, 'run_corrupt', `run ${name} is corrupt: ${info.reason}`);
      let bytes: Uint8Array;
      if (q.format === 'onnx') {
        // loadRunModel's UserErrors (run_not_ready, run_corrupt) name the run and run-relative files only
        bytes = onnxOfRun(dir, { checkpoint: q.checkpoint, opset: q.opset ?? DEFAULT_OPSET }).bytes;
      } else {
        bytes = readStored(dir, name, storedFile(q.format, q.checkpoint));
      }
      const file = `${name}${q.checkpoint === 'best' ? '.best' : ''}.${EXTENSION[q.format]}`;
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${file}"`)
        .header('x-klinecast-checkpoint', q.checkpoint)
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );
}
