/**
 * Saved trading simulations (docs/TRADING.md): those of a run (out/{run}/results/simulations/) and of a backtest
 * (out/backtests/{name}/simulations/). Folders are found by the run and backtest routes' lookups (existingRunDir,
 * existingBacktestDir: a validated name, a real folder whose realpath is inside the output folder), so no path from
 * the network leads outside it.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listSimulations, readSimulation, type SimulationsLocation } from '../../runs/simulations.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { routeSchema, runNameField } from '../schema.js';
import { existingBacktestDir } from './backtests.js';
import { existingRunDir } from './runs.js';

const SourceParams = z.object({ name: runNameField }).strict();
const SimulationParams = z.object({ name: runNameField, simulation: runNameField }).strict();
/** positions=false leaves out the daily positions, the largest array (one row per stock held per day). */
const SimulationQuery = z.object({ positions: z.enum(['true', 'false']).default('true') }).strict();

type Kind = 'run' | 'backtest';

function simulationsOf(ctx: ServerContext, kind: Kind, name: string): SimulationsLocation {
  if (kind === 'run') {
    const root = existingRunDir(ctx, name);
    return { root, simulationsDir: join(root, 'results', 'simulations') };
  }
  const root = existingBacktestDir(ctx, name);
  return { root, simulationsDir: join(root, 'simulations') };
}

export async function simulationRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  for (const [kind, prefix] of [
    ['run', '/api/v1/runs'],
    ['backtest', `/api/v1/backtests`],
  ] as const) {
    app.get(
      `${prefix}/:name/simulations`,
      {
        schema: routeSchema({
          params: SourceParams,
          summary: `The ${kind}'s saved trading simulations, newest first, with their headline figures`,
          tags: ['simulations'],
        }),
      },
      async (request) => {
        const { name } = request.params as z.output<typeof SourceParams>;
        const items = listSimulations(simulationsOf(ctx, kind, name));
        return { [kind]: name, items, total: items.length };
      },
    );
    app.get(
      `${prefix}/:name/simulations/:simulation`,
      {
        schema: routeSchema({
          params: SimulationParams,
          querystring: SimulationQuery,
          summary: `One saved simulation of a ${kind} (simulation.json: settings, summary, equity curve, trades, positions, rejected orders)`,
          tags: ['simulations'],
        }),
      },
      async (request) => {
        const { name, simulation } = request.params as z.output<typeof SimulationParams>;
        const { positions } = request.query as z.output<typeof SimulationQuery>;
        const read = readSimulation(simulationsOf(ctx, kind, name), simulation);
        if (!read.ok) {
          if (read.reason.startsWith('no simulation'))
            throw new HttpError(404, 'simulation_not_found', `${kind} ${name} has no simulation named ${simulation}`);
          throw new HttpError(409, 'simulation_unreadable', `${kind} ${name}, simulation ${simulation}: ${read.reason}`);
        }
        if (positions === 'false') {
          const { positions: _left, ...rest } = read.file;
          return { [kind]: name, ...rest };
        }
        return { [kind]: name, ...read.file };
      },
    );
  }
}
