/**
 * `klinecast runs list | show | compare | best | prune | export`: the seed's tools/list_training_runs.py, grown up.
 * Thin over src/runs; this file only parses flags and chooses what to print.
 */
import type { Command } from 'commander';
import { basename, join, resolve } from 'node:path';
import type { RegistryStatus } from '../../runs/index.js';
import { UserError } from '../../util/errors.js';
import {
  BEST_METRICS,
  DEFAULT_OUTPUT_DIR,
  LEGACY_BATCH_RUNS_DIR,
  SCALE_FREE_METRICS,
  checkBestMetric,
  checkRunMetric,
  deleteRunDir,
  exportRun,
  listBacktests,
  listRuns,
  parseStatusList,
  planPrune,
  queryRuns,
  rankRuns,
  readRunDetails,
  resolveRunRef,
  runMetric,
  scanOutputDir,
  sortRuns,
  toRunSummary,
  type RunInfo,
} from '../../runs/index.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, exportOnnx } from '../../runs/onnx.js';
import { fmt, formatBytes, pct, printJson, printTable, shortDate, type Cell } from '../output.js';
import { printBacktestTable } from './backtest.js';

/** Parses an age like "30d", "12h", "90m" or "2w" (prune --older-than) into milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhdw])$/.exec(text.trim());
  if (!m) throw new UserError(`invalid age ${JSON.stringify(text)}: use a number and a unit, e.g. 90m, 12h, 30d or 2w`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

interface DirOption {
  outputDir: string;
}

function withOutputDir(cmd: Command): Command {
  return cmd.option('--output-dir <dir>', 'folder holding the runs', DEFAULT_OUTPUT_DIR);
}

const SPARK = '▁▂▃▄▅▆▇█';

/** A one-line chart of a series (nulls as gaps), averaged down to at most `width` columns. */
export function sparkline(values: Array<number | null>, width = 60): string {
  const buckets: Array<number | null> = [];
  const per = Math.max(1, Math.ceil(values.length / width));
  for (let i = 0; i < values.length; i += per) {
    const chunk = values.slice(i, i + per).filter((v): v is number => v !== null && Number.isFinite(v));
    buckets.push(chunk.length ? chunk.reduce((a, b) => a + b, 0) / chunk.length : null);
  }
  const finite = buckets.filter((v): v is number => v !== null);
  if (finite.length === 0) return '';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return buckets.map((v) => (v === null ? ' ' : SPARK[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * (SPARK.length - 1))])).join('');
}

/** A run as `--json` prints it: the API's summary, plus what only makes sense on this machine (its folder, model size). */
function runJson(run: RunInfo) {
  return { ...toRunSummary(run), dir: run.dir, model_bytes: run.modelBytes };
}

/** The symbol column: a run's stock, or for a universal run how many stocks it covers. */
function symbolCell(run: RunInfo): string | null {
  return run.symbol ?? (run.stocks !== null ? `${run.stocks} stocks` : null);
}

function printNotes(runs: RunInfo[]): void {
  for (const run of runs) {
    const notes = [run.reason, ...run.problems].filter(Boolean);
    if (notes.length) console.log(`  ${run.name}: ${notes.join('; ')}`);
  }
}

function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = Array.isArray(value) && value.length > 8 ? `[${value.length} items]` : value;
  }
  return out;
}

function cellOf(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

interface ListOptions extends DirOption {
  symbol?: string;
  model?: string;
  status?: string;
  sort: string;
  asc?: boolean;
  desc?: boolean;
  limit?: string;
  json?: boolean;
  registry?: boolean;
  database?: string;
}

const REGISTRY_STATUSES: readonly RegistryStatus[] = ['completed', 'failed'];

/** `runs list --registry`: the database's model registry, where batch and worker runs from every machine are recorded. */
async function listRegistryCommand(opts: ListOptions): Promise<void> {
  const status = opts.status?.split(',').map((s) => s.trim());
  const unknown = status?.filter((s) => !REGISTRY_STATUSES.includes(s as RegistryStatus));
  if (unknown?.length) throw new UserError(`the registry holds only ${REGISTRY_STATUSES.join(' and ')} runs; unknown status ${unknown.join(', ')}`);
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new UserError(`--limit must be a positive integer, got ${opts.limit}`);
  // Loaded here, not at the top: the database drivers and the batch module would slow every other `runs` command.
  const [{ listRegistry }, { withDatabase }] = await Promise.all([import('../../runs/registry.js'), import('../../data/index.js')]);
  await withDatabase(opts.database, async (handle) => {
    const entries = await listRegistry(handle.db, { symbol: opts.symbol, modelType: opts.model, status: status as RegistryStatus[] | undefined, limit });
    if (opts.json) return printJson(entries);
    if (entries.length === 0) return console.log(`no registered runs in ${handle.url}`);
    printTable(
      ['name', 'symbol', 'model', 'status', 'best val loss', 'MAE', 'skill', 'host', 'finished', 'path'],
      entries.map((e) => [
        e.runName,
        e.symbol ?? 'universal',
        e.modelType,
        e.status,
        fmt(e.metrics?.best_val_loss, 6),
        fmt(e.metrics?.mae),
        fmt(e.metrics?.skill),
        e.host,
        e.finishedAt,
        e.path,
      ]),
    );
  });
}

function listCommand(opts: ListOptions): void {
  const metric = checkRunMetric(opts.sort);
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new UserError(`--limit must be a positive integer, got ${opts.limit}`);
  const scan = scanOutputDir(opts.outputDir);
  const { items: runs } = queryRuns(scan.runs, {
    symbol: opts.symbol,
    model: opts.model,
    statuses: opts.status ? parseStatusList(opts.status) : null,
    sort: metric,
    descending: opts.asc ? false : opts.desc ? true : undefined,
    limit,
  });
  if (opts.json) return printJson(runs.map(runJson));
  if (runs.length === 0) console.log(`no runs in ${resolve(opts.outputDir)}`);
  else {
    printTable(
      ['name', 'symbol', 'model', 'status', 'best val loss', 'MAE', 'skill', 'created', 'size'],
      runs.map((r) => [
        r.legacyBatch === null ? r.name : `${r.name} (old ${r.legacyBatch}/)`,
        symbolCell(r),
        r.modelType,
        r.status,
        fmt(r.bestValLoss, 6),
        fmt(r.evalMetrics?.mae),
        fmt(r.evalMetrics?.skill),
        shortDate(r.createdAt),
        formatBytes(r.sizeBytes),
      ]),
    );
    printNotes(runs);
  }
  printLayoutNotes(opts.outputDir, scan.runs, scan.ignored);
  printBacktests(opts);
}

/**
 * The backtests of out/backtests/, under the runs and apart from them: a backtest is no run (it has no model to predict
 * with), but it is the other thing training leaves in the output folder. --symbol and --model filter them too; a
 * universal backtest stays in for any symbol, as it may cover it. --json keeps its array of runs (scripts read it), and
 * `backtest list --json` gives the backtests.
 */
function printBacktests(opts: ListOptions): void {
  const items = listBacktests(opts.outputDir).filter(
    (b) => (!opts.symbol || b.symbol === null || b.symbol === opts.symbol) && (!opts.model || b.modelType === opts.model),
  );
  if (items.length === 0) return;
  console.log(
    `\nBacktests in ${join(resolve(opts.outputDir), 'backtests')}/ (not runs: see klinecast backtest list; trade one with klinecast simulate --forecasts NAME):`,
  );
  printBacktestTable(items);
}

/** Quiet lines under a listing: the folders that are not runs, and how to move runs of the old batch layout. */
function printLayoutNotes(outputDir: string, runs: RunInfo[], ignored: string[]): void {
  if (ignored.length) console.log(`(not runs, left alone: ${ignored.map((n) => `${n}/`).join(', ')})`);
  const legacy = [...new Set(runs.map((r) => r.legacyBatch).filter((b): b is string => b !== null))];
  for (const batch of legacy) {
    const from = join(outputDir, batch, LEGACY_BATCH_RUNS_DIR);
    console.log(`(runs in ${from}/ are in the old batch layout: listed and usable, never pruned; to move them: mv ${from}/* ${outputDir}/)`);
  }
}

function showCommand(ref: string, opts: DirOption & { json?: boolean }): void {
  const details = readRunDetails(resolveRunRef(ref, opts.outputDir));
  const { info } = details;
  if (opts.json)
    return printJson({
      ...runJson(info),
      metadata: info.metadata,
      config: details.config,
      model_config: details.modelConfig,
      training_args: details.trainingArgs,
      eval_results: details.evalResults,
      metrics: details.history,
      files: details.files,
    });
  console.log(`run      ${info.name}`);
  console.log(`folder   ${info.dir}`);
  console.log(`status   ${info.status}${info.reason ? ` (${info.reason})` : ''}`);
  for (const p of info.problems) console.log(`problem  ${p}`);
  if (info.metadata) {
    const m = info.metadata;
    console.log(`symbol   ${symbolCell(info) ?? '-'}    model ${m.model_type}    data ${m.data_source ?? '-'}`);
    console.log(`created  ${m.created_at}    started ${m.started_at ?? '-'}    finished ${m.finished_at ?? '-'}`);
    console.log(`process  ${m.pid} on ${m.host}, heartbeat ${m.heartbeat_at}, klinecast ${m.klinecast_version}`);
    if (m.error) console.log(`error    ${m.error}`);
  }
  if (details.config) {
    console.log('\nconfig');
    printTable(
      ['key', 'value'],
      Object.entries(flatten(details.config)).map(([k, v]) => [k, cellOf(v)]),
    );
  }
  if (details.history.length) {
    const epochs = [...new Set(details.history.map((r) => r.epoch))].sort((a, b) => a - b);
    const keys = [...new Set(details.history.flatMap((r) => Object.keys(r)))].filter(
      (k) => !['epoch', 'phase', 'timestamp'].includes(k) && details.history.some((r) => typeof r[k] === 'number'),
    );
    console.log(`\nmetrics over ${epochs.length} epochs (${epochs[0]}…${epochs.at(-1)})`);
    const series = (key: string) =>
      epochs.map((e) => {
        const row = details.history.find((r) => r.epoch === e && typeof r[key] === 'number');
        return row ? (row[key] as number) : null;
      });
    const width = Math.max(...keys.map((k) => k.length));
    for (const key of keys) {
      const values = series(key);
      const finite = values.filter((v): v is number => v !== null);
      console.log(`  ${key.padEnd(width)}  ${sparkline(values)}  first ${fmt(finite[0], 6)} min ${fmt(Math.min(...finite), 6)} last ${fmt(finite.at(-1), 6)}`);
    }
  }
  const evalResults = details.evalResults as {
    test_metrics?: Record<string, number | null>;
    baselines?: { persistence?: Record<string, number | null>; zero_return?: Record<string, number | null> };
    per_horizon?: Array<{ step: number; test_metrics: Record<string, number | null>; baselines: { persistence: Record<string, number | null> } }> | null;
    evaluated_at?: string;
    n_samples?: number;
  } | null;
  if (evalResults?.test_metrics) {
    const t = evalResults.test_metrics;
    const p = evalResults.baselines?.persistence ?? {};
    const z = evalResults.baselines?.zero_return ?? {};
    console.log(`\nevaluation on ${evalResults.n_samples ?? '?'} test days (${evalResults.evaluated_at ?? '?'})`);
    printTable(
      ['metric', 'model', 'persistence', 'zero return'],
      [
        ['MAE', fmt(t.mae), fmt(p.mae), null],
        ['RMSE', fmt(t.rmse), fmt(p.rmse), null],
        ['MAPE %', fmt(t.mape), fmt(p.mape), null],
        ['R²', fmt(t.r2), fmt(p.r2), null],
        ['return MAE', fmt(t.return_mae, 6), null, fmt(z.return_mae, 6)],
        ['return RMSE', fmt(t.return_rmse, 6), null, fmt(z.return_rmse, 6)],
        ['direction accuracy', pct(t.direction_accuracy), null, null],
        ['IC', fmt(t.ic), null, null],
        ['Rank IC', fmt(t.rank_ic), null, null],
        ['skill vs persistence', fmt(t.skill), null, null],
      ],
    );
    if (evalResults.per_horizon?.length) {
      console.log('\nper horizon');
      printTable(
        ['step', 'MAE', 'persistence MAE', 'skill', 'direction', 'IC'],
        evalResults.per_horizon.map((h) => [
          h.step,
          fmt(h.test_metrics.mae),
          fmt(h.baselines.persistence.mae),
          fmt(h.test_metrics.skill),
          pct(h.test_metrics.direction_accuracy),
          fmt(h.test_metrics.ic),
        ]),
      );
    }
  }
  console.log('\nfiles');
  const grouped = new Map<string, { bytes: number; count: number }>();
  for (const f of details.files) {
    const key = f.path.startsWith('checkpoints/') ? `${f.path.split('/').slice(0, 2).join('/')}/` : f.path;
    const g = grouped.get(key) ?? { bytes: 0, count: 0 };
    g.bytes += f.bytes;
    g.count++;
    grouped.set(key, g);
  }
  printTable(
    ['path', 'size'],
    [...grouped].map(([path, g]) => [g.count > 1 ? `${path} (${g.count} files)` : path, formatBytes(g.bytes)]),
  );
  console.log(`total ${formatBytes(info.sizeBytes)} on disk`);
}

const COMPARE_METRICS: Array<[string, string]> = [
  ['best val loss', 'best_val_loss'],
  ['MAE', 'mae'],
  ['RMSE', 'rmse'],
  ['MAPE %', 'mape'],
  ['R²', 'r2'],
  ['direction accuracy', 'direction_accuracy'],
  ['IC', 'ic'],
  ['Rank IC', 'rank_ic'],
  ['skill', 'skill'],
  ['persistence MAE', 'persistence_mae'],
  ['epochs', 'epochs'],
];

function compareCommand(refs: string[], opts: DirOption & { json?: boolean }): void {
  if (refs.length < 2) throw new UserError('compare needs at least two runs');
  const all = refs.map((ref) => readRunDetails(resolveRunRef(ref, opts.outputDir)));
  const configs = all.map((d) => flatten(d.config ?? {}));
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))].sort();
  const differing = keys.filter((k) => new Set(configs.map((c) => JSON.stringify(c[k]))).size > 1);
  if (opts.json) {
    return printJson(all.map((d, i) => ({ ...runJson(d.info), config_differences: Object.fromEntries(differing.map((k) => [k, configs[i][k] ?? null])) })));
  }
  const rows: Cell[][] = [
    ['symbol', ...all.map((d) => symbolCell(d.info))],
    ['model', ...all.map((d) => d.info.modelType)],
    ['status', ...all.map((d) => d.info.status)],
    ['created', ...all.map((d) => shortDate(d.info.createdAt))],
  ];
  const infos = all.map((d) => d.info);
  // Price-unit figures of different stocks (or test segments) are not comparable: only the one rule marks a best.
  const symbols = [...new Set(infos.map((r) => r.symbol).filter((x): x is string => x !== null))];
  const symbol = symbols.length === 1 ? symbols[0] : undefined;
  for (const [label, key] of COMPARE_METRICS) {
    const values = all.map((d) => runMetric(d.info, key));
    // Mark a run only when it alone is best, and only by a scale-free figure; MAE and the like are the rule's row.
    const ranked = SCALE_FREE_METRICS.has(key) ? sortRuns(infos, key) : [];
    const top = ranked.length >= 2 ? runMetric(ranked[0], key) : null;
    const best = top !== null && runMetric(ranked[1], key) !== top ? ranked[0] : null;
    rows.push([
      label,
      ...all.map((d, i) => {
        const v = values[i];
        if (v === null) return null;
        const text = key === 'direction_accuracy' ? (pct(v) as string) : String(fmt(v, 6));
        return best === d.info ? `${text} *` : text;
      }),
    ]);
  }
  let rule: string;
  if (symbol !== undefined) {
    const ranking = rankRuns(infos, 'mae', { symbol });
    const winner = ranking.runs.find((r) => r.value !== null)?.run ?? null;
    rows.push([
      `best rule (${ranking.rankedBy}${ranking.basis === 'shared_days' ? `, ${ranking.sharedDays} shared days` : ''})`,
      ...infos.map((info) => {
        const entry = ranking.runs.find((r) => r.run === info);
        if (!entry || entry.value === null) return null;
        return `${fmt(entry.value, 6)}${entry.run === winner ? ' *' : ''}`;
      }),
    ]);
    rule = `* best of the compared runs; the best-run rule: ${ranking.explanation}`;
  } else {
    rule = '* best of the compared runs, by scale-free figures only (they are runs of different stocks)';
  }
  rows.push(['size', ...all.map((d) => formatBytes(d.info.sizeBytes))]);
  for (const k of differing) rows.push([`config.${k}`, ...configs.map((c) => cellOf(c[k]))]);
  printTable(
    ['', ...all.map((d) => d.info.name)],
    rows.map((r) => r.map((c) => (typeof c === 'number' ? String(c) : c))),
  );
  console.log(rule);
}

interface BestOptions extends DirOption {
  symbol?: string;
  model?: string;
  metric?: string;
  json?: boolean;
}

function bestCommand(opts: BestOptions): void {
  // One rule (src/runs/select.ts rankRuns): per symbol by MAE on the shared test days; across symbols only scale-free.
  const metric = checkBestMetric(opts.metric ?? (opts.symbol ? 'mae' : 'skill'), opts.symbol);
  const ranking = rankRuns(listRuns(opts.outputDir), metric, { symbol: opts.symbol, model: opts.model });
  const best = ranking.runs.find((r) => r.value !== null);
  if (!best) {
    const what = [opts.symbol && `symbol ${opts.symbol}`, opts.model && `model ${opts.model}`].filter(Boolean).join(' and ');
    throw new UserError(`no completed run${what ? ` for ${what}` : ''} has ${metric} in ${resolve(opts.outputDir)}`, 'run_not_found');
  }
  if (opts.json) {
    return printJson({
      ...runJson(best.run),
      metric,
      ranked_by: ranking.rankedBy,
      basis: ranking.basis,
      value: best.value,
      days: best.days,
      shared_days: ranking.sharedDays,
      rule: ranking.explanation,
      ranking: ranking.runs.map((r) => ({ name: r.run.name, value: r.value, days: r.days })),
    });
  }
  console.log(`${best.run.name}  ${ranking.rankedBy} ${fmt(best.value, 6)}${best.days !== null ? ` on ${best.days} test days` : ''}`);
  console.log(`  ${best.run.dir}`);
  console.log(`  rule: ${ranking.explanation}`);
  for (const other of ranking.runs.slice(1, 6)) console.log(`  then ${other.run.name}  ${ranking.rankedBy} ${fmt(other.value, 6) ?? '-'}`);
}

interface PruneOptions extends DirOption {
  status?: string;
  olderThan?: string;
  keepBestBy: string;
  yes?: boolean;
  json?: boolean;
}

function pruneCommand(opts: PruneOptions): void {
  if (!opts.status && !opts.olderThan) throw new UserError('prune needs --status and/or --older-than (e.g. --status failed,crashed --older-than 30d)');
  const plan = planPrune(listRuns(opts.outputDir), {
    statuses: opts.status ? parseStatusList(opts.status) : undefined,
    olderThanMs: opts.olderThan ? parseAge(opts.olderThan) : undefined,
    keepBestBy: checkBestMetric(opts.keepBestBy, 'any'),
  });
  const bytes = plan.remove.reduce((s, r) => s + r.run.sizeBytes, 0);
  if (opts.yes) for (const { run } of plan.remove) deleteRunDir(run.dir);
  if (opts.json) {
    return printJson({
      dry_run: !opts.yes,
      removed: plan.remove.map((r) => ({ name: r.run.name, status: r.run.status, why: r.why, size_bytes: r.run.sizeBytes })),
      kept: plan.keep.map((r) => ({ name: r.run.name, why: r.why })),
    });
  }
  if (plan.remove.length === 0) {
    console.log('nothing to prune');
    return;
  }
  printTable(
    ['name', 'symbol', 'status', 'why', 'size'],
    plan.remove.map((r) => [r.run.name, symbolCell(r.run), r.run.status, r.why, formatBytes(r.run.sizeBytes)]),
  );
  const protectedRuns = plan.keep.filter((k) => k.why.startsWith('best run') || k.why === 'still running');
  for (const k of protectedRuns) console.log(`  kept ${k.run.name}: ${k.why}`);
  console.log(
    opts.yes
      ? `deleted ${plan.remove.length} runs, freed ${formatBytes(bytes)}`
      : `dry run: would delete ${plan.remove.length} runs (${formatBytes(bytes)}); add --yes to delete`,
  );
}

type ExportOptions = DirOption & { to?: string; modelOnly?: boolean; json?: boolean; format?: string; checkpoint?: string; opset?: string; out?: string };

function exportCommand(ref: string, opts: ExportOptions): void {
  if (opts.format !== undefined && opts.format !== 'onnx') {
    throw new UserError(`--format must be onnx (without it, the run is packed as a .tar or copied to a folder, by --to), got ${opts.format}`);
  }
  if (opts.format === 'onnx') return exportOnnxCommand(ref, opts);
  if (opts.checkpoint !== undefined || opts.opset !== undefined || opts.out !== undefined)
    throw new UserError('--checkpoint, --opset and --out apply to --format onnx');
  const dir = resolveRunRef(ref, opts.outputDir);
  const result = exportRun(dir, opts.to ?? `${basename(dir)}.tar`, { modelOnly: opts.modelOnly });
  if (opts.json) return printJson(result);
  console.log(`exported ${result.files} files (${formatBytes(result.bytes)}) to ${result.to}`);
}

function exportOnnxCommand(ref: string, opts: ExportOptions): void {
  const checkpoint = opts.checkpoint ?? 'final';
  if (checkpoint !== 'final' && checkpoint !== 'best') throw new UserError(`--checkpoint must be final or best, got ${checkpoint}`);
  const opset = opts.opset === undefined ? DEFAULT_OPSET : Number(opts.opset);
  const result = exportOnnx(ref, { outputDir: opts.outputDir, checkpoint, opset, out: opts.out ?? opts.to });
  if (opts.json) return printJson(result);
  console.log(`exported run ${result.run} (${result.checkpoint} weights) as ONNX opset ${result.opset}, ${formatBytes(result.bytes)}, to ${result.path}`);
  console.log(`  input  ${result.input.name} float32 [${result.input.shape.join(', ')}] (scaled features)`);
  console.log(`  output ${result.output.name} float32 [${result.output.shape.join(', ')}] (scaled log returns)`);
}

export function register(program: Command): void {
  const runs = program.command('runs').description('list, inspect, compare, prune and export training runs (out/{run}/)');
  withOutputDir(runs.command('list'))
    .description('a table of runs: status (crashed and corrupt detected), best val loss, MAE, skill, size')
    .option('--symbol <symbol>', 'only runs of this stock')
    .option('--model <type>', 'only this model type (lstm, gru, transformer)')
    .option('--status <list>', 'only these statuses, comma-separated (e.g. completed,crashed)')
    .option(
      '--sort <metric>',
      'sort by a metric: created, name, size, epochs, val_loss, mae, rmse, mape, r2, direction_accuracy, ic, rank_ic, skill',
      'created',
    )
    .option('--asc', 'ascending order')
    .option('--desc', 'descending order')
    .option('--limit <n>', 'show at most n runs')
    .option('--json', 'machine-readable output')
    .option('--registry', 'list the database model registry (runs from every batch machine) instead of the output folder')
    .option('--database <url>', 'with --registry: the database (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .action((opts: ListOptions) => (opts.registry ? listRegistryCommand(opts) : listCommand(opts)));
  withOutputDir(runs.command('show <run>'))
    .description('config, metadata, metrics history chart, evaluation against the baselines, files and sizes')
    .option('--json', 'machine-readable output')
    .action((ref: string, opts: DirOption & { json?: boolean }) => showCommand(ref, opts));
  withOutputDir(runs.command('compare <runs...>'))
    .description('runs side by side: metrics (best marked) and the config keys that differ')
    .option('--json', 'machine-readable output')
    .action((refs: string[], opts: DirOption & { json?: boolean }) => compareCommand(refs, opts));
  withOutputDir(runs.command('best'))
    .description('the best completed run, by the one rule of docs/PREDICTION.md ("Best run") that predict and the dashboard use')
    .option('--symbol <symbol>', 'only runs of this stock')
    .option('--model <type>', 'only this model type')
    .option(
      '--metric <metric>',
      `${BEST_METRICS.join(', ')} (default: mae with --symbol, re-scored on the test days the runs share; skill without). Without --symbol only ${[...SCALE_FREE_METRICS].join(', ')}`,
    )
    .option('--json', 'machine-readable output')
    .action((opts: BestOptions) => bestCommand(opts));
  withOutputDir(runs.command('prune'))
    .description('delete runs by status and/or age, always keeping the best run of each symbol; a dry run unless --yes')
    .option('--status <list>', 'statuses to delete, comma-separated (failed, crashed, interrupted, corrupt, completed...)')
    .option('--older-than <age>', 'only runs older than this: 90m, 12h, 30d, 2w')
    .option('--keep-best-by <metric>', `the metric of the best-run rule that picks the run kept per symbol (${BEST_METRICS.join(', ')})`, 'mae')
    .option('--yes', 'really delete')
    .option('--json', 'machine-readable output')
    .action((opts: PruneOptions) => pruneCommand(opts));
  withOutputDir(runs.command('export <run>'))
    .description('pack a run as a .tar (default ./{run}.tar) or copy it to a new folder; --format onnx writes model/model.onnx')
    .option('--to <path>', 'destination: a path ending in .tar for an archive, anything else for a folder')
    .option('--model-only', 'leave out checkpoints/ (only needed to resume training)')
    .option('--format <format>', 'onnx: the network as an ONNX model (docs/TRAINING_OUTPUT_STANDARD.md) instead of the whole run')
    .option('--checkpoint <which>', 'with --format onnx: final (model/, the default) or best (checkpoints/best/) weights')
    .option('--opset <n>', `with --format onnx: the ai.onnx opset, ${MIN_OPSET}–${MAX_OPSET} (default ${DEFAULT_OPSET})`)
    .option('--out <path>', "with --format onnx: the file to write (default: the run's model/model.onnx)")
    .option('--json', 'machine-readable output')
    .action((ref: string, opts: ExportOptions) => exportCommand(ref, opts));
}
