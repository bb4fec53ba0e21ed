/**
 * `klinecast predict --symbol S [--run R]`: the next trading days' prices from a trained run, with an interval;
 * `--symbols all|list|@file [--top N]`: many stocks ranked by predicted next-day return, each by its best run (or all by
 * one universal --run). Thin over src/prediction's PredictionEngine; every forecast is recorded in the prediction ledger
 * (ai_predictions, source cli) unless --no-record.
 */
import { Option, type Command } from 'commander';
import { withDatabase } from '../../data/index.js';
import {
  DEFAULT_LEVEL,
  DEFAULT_SAMPLES,
  DEFAULT_SEED,
  INTERVAL_METHODS,
  PredictionEngine,
  type Forecast,
  type IntervalMethod,
  type Ranking,
} from '../../prediction/index.js';
import { predictWithOnnx } from '../../prediction/onnx.js';
import { DEFAULT_OUTPUT_DIR } from '../../runs/index.js';
import { UserError } from '../../util/errors.js';
import { ProgressLine, fmt, numberFlag, parseSymbolsFlag, printJson, printTable, wholeNumberFlag } from '../output.js';
import { isScoreTarget } from '../../features/index.js';

interface PredictFlags {
  symbol?: string;
  symbols?: string;
  top?: string;
  csv?: boolean;
  run?: string;
  days?: string;
  end?: string;
  /** the spelling shipped before `--end` (train's and batch's); kept as a hidden alias */
  endDate?: string;
  samples: string;
  interval: string;
  level: string;
  seed: string;
  best?: boolean;
  allowOtherSymbol?: boolean;
  json?: boolean;
  engine: string;
  outputDir: string;
  database?: string;
  /** commander's --no-record: false when given */
  record: boolean;
}

function intervalFlag(raw: string): IntervalMethod {
  if (!(INTERVAL_METHODS as readonly string[]).includes(raw)) throw new UserError(`--interval must be one of ${INTERVAL_METHODS.join(', ')}, not "${raw}"`);
  return raw as IntervalMethod;
}

const signedPct = (r: number) => `${r >= 0 ? '+' : ''}${((Math.exp(r) - 1) * 100).toFixed(2)}%`;

function printForecast(f: Forecast): void {
  console.log(`${f.symbol}  run ${f.run}${f.checkpoint === 'best' ? ' (best checkpoint)' : ''}`);
  console.log(`base ${f.baseDate} close ${f.baseClose}   trend ${f.trend}   horizon ${f.horizon}`);
  const interval =
    f.level === null
      ? null
      : f.interval === 'conformal'
        ? `${Math.round(f.level * 100)}% split-conformal interval (calibrated on the run's validation residuals; its test coverage is in results/eval_results.json)`
        : `${Math.round(f.level * 100)}% MC-dropout band (${f.samples} samples, seed ${f.seed}): the model's own spread, not a calibrated interval`;
  printTable(
    ['date', 'price', 'change', ...(interval ? ['lower', 'upper'] : [])],
    f.predictions.map((d) => [
      d.date,
      Number(d.price.toFixed(3)),
      signedPct(d.return),
      ...(interval ? [Number(d.lower!.toFixed(3)), Number(d.upper!.toFixed(3))] : []),
    ]),
  );
  if (interval) console.log(interval);
  for (const w of f.warnings) console.error(`warning: ${w}`);
}

function printRanking(r: Ranking, csv: boolean): void {
  const price = (v: number | null) => (v === null ? null : Number(v.toFixed(3)));
  // Ranked without --run, each stock names the run that forecast it (its best run), as the last column.
  const perStock = r.run === null;
  const runColumn = perStock ? ['run'] : [];
  const runOf = (e: Ranking['entries'][number]) => (perStock ? [e.run] : []);
  if (isScoreTarget(r.target)) {
    // A score orders the stocks of the day; it is not a return, so there is no price or interval column.
    if (csv) {
      console.log('rank,symbol,base_date,base_close,score');
      for (const e of r.entries) console.log([e.rank, e.symbol, e.baseDate, e.baseClose, e.score].join(','));
    } else {
      console.log(`run ${r.run}: ${r.ranked} of ${r.requested} stocks scored, top ${r.entries.length} by score (${r.target}: a rank, not a return)`);
      printTable(
        ['rank', 'symbol', 'base date', 'close', 'score'],
        r.entries.map((e) => [e.rank, e.symbol, e.baseDate, e.baseClose, fmt(e.score)]),
      );
    }
    for (const f of r.failures) console.error(`skipped ${f.symbol}: ${f.message}`);
    if (r.warnings.length) console.error(`${r.warnings.length} warning(s), e.g. ${r.warnings[0]}`);
    return;
  }
  if (csv) {
    console.log(['rank,symbol,base_date,base_close,predicted_return,price,lower,upper', ...runColumn].join(','));
    for (const e of r.entries) console.log([e.rank, e.symbol, e.baseDate, e.baseClose, e.return, e.price, e.lower ?? '', e.upper ?? '', ...runOf(e)].join(','));
  } else {
    console.log(
      `${perStock ? "each stock's best run" : `run ${r.run}`}: ${r.ranked} of ${r.requested} stocks forecast, top ${r.entries.length} by predicted next-day return`,
    );
    printTable(
      ['rank', 'symbol', 'base date', 'close', 'predicted return', 'price', 'lower', 'upper', ...runColumn],
      r.entries.map((e) => [
        e.rank,
        e.symbol,
        e.baseDate,
        e.baseClose,
        signedPct(e.return as number /* a return run's entries all carry one */),
        price(e.price),
        price(e.lower),
        price(e.upper),
        ...runOf(e),
      ]),
    );
  }
  for (const f of r.failures) console.error(`skipped ${f.symbol}: ${f.message}`);
  if (r.warnings.length) console.error(`${r.warnings.length} warning(s), e.g. ${r.warnings[0]}`);
}

/**
 * --engine onnx: the same forecast with the network evaluated by onnxruntime-web (src/prediction/onnx.ts). A cross-check
 * of the runtime, not a forecast of its own: it is not recorded (its klinecast twin, without an interval, would replace
 * the recorded forecast's interval).
 */
async function onnxForecastCommand(symbol: string, request: Parameters<typeof predictWithOnnx>[2], opts: PredictFlags): Promise<void> {
  if (opts.engine !== 'onnx') throw new UserError(`--engine must be klinecast or onnx, not "${opts.engine}"`);
  const forecast = await withDatabase(opts.database, (database) =>
    predictWithOnnx(new PredictionEngine({ database, outputDir: opts.outputDir }), symbol, request),
  );
  if (opts.json) return printJson(forecast);
  printForecast(forecast);
  console.log(
    `network run by onnxruntime-web ${forecast.runtimeVersion}; max |return − klinecast engine's| = ${forecast.maxReturnDifference.toExponential(1)}`,
  );
}

/** --end, as train and batch spell it; --end-date is the spelling predict shipped with, still read. */
function endFlag(opts: PredictFlags): string | undefined {
  if (opts.end !== undefined && opts.endDate !== undefined && opts.end !== opts.endDate)
    throw new UserError('--end and --end-date (its old spelling) disagree: give --end');
  return opts.end ?? opts.endDate;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description("forecast a stock's next trading days, or rank many by the next day, with a trained run (default: each symbol's best run, docs/PREDICTION.md)")
    .option('--symbol <code>', 'stock code: 600519, 600519.SH or sh600519')
    .option('--symbols <list>', 'rank many stocks by predicted next-day return, each by its best run or all by a universal --run: all | CODE,CODE | @file')
    .option('--top <n>', 'with --symbols: show the best n (default: all)')
    .option('--csv', 'with --symbols: print the ranking as CSV')
    .option('--run <name>', 'run name inside --output-dir, or a path to a run folder')
    .option('--days <n>', "trading days to forecast, up to the run's horizon (default: the horizon)")
    .option('--end <date>', 'forecast from the last bar on or before this date (default: the latest bar)')
    .addOption(new Option('--end-date <date>', 'the old spelling of --end').hideHelp())
    .option('--interval <method>', 'conformal (default: calibrated on validation residuals) | mc-dropout (not calibrated) | none', 'conformal')
    .option('--samples <n>', 'with --interval mc-dropout: Monte-Carlo dropout samples', String(DEFAULT_SAMPLES))
    .option('--level <p>', 'interval coverage, e.g. 0.9', String(DEFAULT_LEVEL))
    .option('--seed <n>', 'seed of the dropout samples', String(DEFAULT_SEED))
    .option('--best', "use the run's best checkpoint (checkpoints/best/) instead of the final model")
    .option('--allow-other-symbol', 'apply a run trained on another stock (prints a warning)')
    .option('--json', 'print the forecast as JSON')
    .option('--engine <name>', 'klinecast | onnx: run the network in onnxruntime-web on its ONNX export (point forecast, no interval)', 'klinecast')
    .option('--output-dir <dir>', 'folder holding the runs', DEFAULT_OUTPUT_DIR)
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .option('--no-record', "don't record the forecast in the prediction ledger (ai_predictions; see klinecast predictions)")
    .action(async (opts: PredictFlags) => {
      const record = opts.record ? ('cli' as const) : false;
      const request = {
        run: opts.run,
        days: opts.days === undefined ? undefined : wholeNumberFlag('days', opts.days),
        endDate: endFlag(opts),
        interval: intervalFlag(opts.interval),
        samples: wholeNumberFlag('samples', opts.samples),
        level: numberFlag('level', opts.level),
        seed: wholeNumberFlag('seed', opts.seed),
        checkpoint: opts.best ? ('best' as const) : ('final' as const),
        allowOtherSymbol: Boolean(opts.allowOtherSymbol),
      };
      if ((opts.symbol === undefined) === (opts.symbols === undefined)) throw new UserError('give --symbol (one stock) or --symbols (a ranking of many)');
      if (opts.symbols !== undefined) {
        if (opts.engine !== 'klinecast') throw new UserError('--engine onnx forecasts one --symbol; rankings (--symbols) use the klinecast engine');
        if (opts.days !== undefined) throw new UserError('--symbols ranks by the next trading day: --days is for one --symbol');
        const { run, days: _days, ...options } = request;
        const symbols = parseSymbolsFlag(opts.symbols);
        const top = opts.top === undefined ? undefined : wholeNumberFlag('top', opts.top);
        // A bar for people watching a terminal; none in --json output or in logs (as train, batch and import do).
        let bar: ProgressLine | null = null;
        const onProgress =
          !opts.json && process.stderr.isTTY ? (done: number, total: number) => (bar ??= new ProgressLine('predict', total)).update(done) : undefined;
        const ranking = await withDatabase(opts.database, (database) =>
          new PredictionEngine({ database, outputDir: opts.outputDir, record }).rank(run, symbols, { ...options, top, onProgress }),
        );
        (bar as ProgressLine | null)?.finish();
        if (opts.json) printJson(ranking);
        else printRanking(ranking, Boolean(opts.csv));
        return;
      }
      const symbol = opts.symbol as string;
      if (opts.engine !== 'klinecast') return onnxForecastCommand(symbol, request, opts);
      const forecast = await withDatabase(opts.database, (database) =>
        new PredictionEngine({ database, outputDir: opts.outputDir, record }).predict(symbol, request),
      );
      if (opts.json) printJson(forecast);
      else printForecast(forecast);
    });
}
