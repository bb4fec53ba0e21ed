/** The API as the dashboard uses it: same origin, JSON, and the server's uniform error shape turned into ApiError. */
import type {
  LedgerRow,
  BatchDetails,
  BatchItem,
  BestRunAnswer,
  EvalResultsFile,
  Forecast,
  LedgerScore,
  PredictionRecord,
  Ranking,
  RunSummary,
  SimulationListItem,
  TrainingDefaults,
  TrainingJob,
} from '../../wire/index.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const API_KEY_STORAGE = 'klinecast.apiKey';

export function savedApiKey(): string {
  return localStorage.getItem(API_KEY_STORAGE) ?? '';
}

export function saveApiKey(key: string): void {
  localStorage.setItem(API_KEY_STORAGE, key);
}

/** `path` is relative to the page, so the dashboard also works when served under a prefix. */
async function request<T>(method: string, path: string, body?: unknown, auth = false): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && savedApiKey()) headers.authorization = `Bearer ${savedApiKey()}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data: { error?: { code?: string; message?: string } } | null = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'bad_response', `${method} ${path}: not JSON (${res.status})`);
  }
  if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? 'error', data?.error?.message ?? `${method} ${path} failed (${res.status})`);
  return data as T;
}

export type { EvalMetricsSummary as EvalMetrics, PriceMetrics } from '../../wire/index.js';
export type Run = RunSummary;
export type EvalResults = EvalResultsFile;

export interface RunDetails {
  run: Run;
  metadata: Record<string, unknown> | null;
  config: unknown;
  model_config: Record<string, unknown> | null;
  training_args: Record<string, unknown> | null;
  eval_results: EvalResults | null;
  files: Array<{ path: string; bytes: number }>;
}

export type MetricsRow = { epoch: number; phase: string; timestamp: string } & Record<string, number | string | null>;

export type { PredictionRecord } from '../../wire/index.js';

export interface Stock {
  symbol: string;
  name: string;
  stock_type: string | null;
  industry: string | null;
}

export interface Bar {
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  vol: number;
}

export type {
  BatchDetails,
  BatchItem,
  BestRunAnswer,
  CrossSectionDay,
  CrossSectionResults,
  Forecast,
  LedgerScore,
  Ranking,
  SimulationListItem,
  TrainingDefaults,
  TrainingJob,
} from '../../wire/index.js';

/** A saved trading simulation as the dashboard reads it (docs/TRADING.md has every field of simulation.json). */
export interface ReturnFigures {
  total_return: number | null;
  annualised_return: number | null;
  volatility: number | null;
  max_drawdown: number | null;
}

export interface ExcessFigures {
  annualised: number | null;
  information_ratio: number | null;
  max_drawdown: number | null;
}

export interface Simulation {
  name: string;
  created_at: string;
  source: { kind: string; name: string };
  settings: { strategy: Record<string, unknown> & { kind: string }; deal_price: string; cash: number; benchmark: string };
  summary: {
    start: string;
    end: string;
    trading_days: number;
    final_equity: number;
    portfolio: ReturnFigures;
    portfolio_without_costs: ReturnFigures;
    benchmark: ReturnFigures & { name: string };
    excess: ExcessFigures;
    excess_without_costs: ExcessFigures;
    turnover_daily: number | null;
    costs: { commission: number; stamp_duty: number; transfer_fee: number; total: number };
    trades: { buys: number; sells: number };
    rejected: Record<string, number>;
  };
  equity: Array<{ date: string; equity: number; benchmark_equity: number; drawdown: number }>;
  trades: Array<{ date: string; symbol: string; side: string; shares: number; price: number; value: number; cost: number }>;
  rejected: Array<{ date: string; symbol: string; side: string; reason: string; price: number | null }>;
}

/** A backtest as GET /api/v1/backtests lists it. */
export interface BacktestItem {
  name: string;
  status: string;
  reason: string | null;
  created_at: string | null;
  symbol: string | null;
  stocks: number | null;
  model_type: string | null;
  start: string | null;
  end: string | null;
  retrain: string | null;
  folds_done: number;
  folds_total: number | null;
  skill: number | null;
  dm_p: number | null;
  coverage: number | null;
  coverage_split_conformal: number | null;
  coverage_aci: number | null;
  summary: string | null;
}

export interface BacktestIntervalFigures {
  coverage: number;
  mean_relative_width: number;
  samples: number;
}

export interface BacktestFold {
  fold: number;
  train_start: string;
  train_end: string;
  forecast_start: string;
  forecast_end: string;
  n_samples: number;
  epochs_trained: number;
  metrics: { skill: number | null; direction_accuracy: number | null; mae: number | null };
  significance: { vs_persistence: { p_value: number | null }; summary: string } | null;
  intervals: { split_conformal: BacktestIntervalFigures | null; aci: BacktestIntervalFigures | null };
}

/** GET /api/v1/backtests/:name: results is results.json (null until the last fold is done). */
export interface BacktestDetails {
  backtest: BacktestItem;
  /** Its stocks: the one of a single-stock backtest, the universe of a universal one. */
  symbols: string[];
  config: { settings: Record<string, unknown> | null } | null;
  results: {
    interval: { method: string; level: number; aci_gamma: number | null };
    folds: BacktestFold[];
    overall: { n_samples: number; intervals: BacktestFold['intervals'] };
    summary: string;
  } | null;
}

export interface BacktestForecast {
  symbol: string;
  fold: number;
  date: string;
  step: number;
  target_date?: string | null;
  actual_price: number;
  predicted_price: number;
  actual_return: number;
  predicted_return: number;
  lower?: number | null;
  upper?: number | null;
}

/** runs or backtests: where a simulation's forecasts came from. */
export type SimulationSourceKind = 'runs' | 'backtests';

export const api = {
  runs: (query = '') => request<{ items: Run[]; total: number }>('GET', `api/v1/runs${query}`),
  run: (name: string) => request<RunDetails>('GET', `api/v1/runs/${encodeURIComponent(name)}`),
  metrics: (name: string) => request<{ history: MetricsRow[]; eval_results: EvalResults | null }>('GET', `api/v1/runs/${encodeURIComponent(name)}/metrics`),
  ranking: (name: string, top = 20) => request<Ranking>('GET', `api/v1/runs/${encodeURIComponent(name)}/ranking?top=${top}`),
  predictions: (name: string) => request<{ horizon: number; records: PredictionRecord[] }>('GET', `api/v1/runs/${encodeURIComponent(name)}/predictions?step=1`),
  simulations: (kind: SimulationSourceKind, name: string) =>
    request<{ items: SimulationListItem[]; total: number }>('GET', `api/v1/${kind}/${encodeURIComponent(name)}/simulations`),
  simulation: (kind: SimulationSourceKind, name: string, simulation: string) =>
    request<Simulation>('GET', `api/v1/${kind}/${encodeURIComponent(name)}/simulations/${encodeURIComponent(simulation)}?positions=false`),
  backtests: () => request<{ items: BacktestItem[]; total: number }>('GET', 'api/v1/backtests'),
  backtest: (name: string) => request<BacktestDetails>('GET', `api/v1/backtests/${encodeURIComponent(name)}`),
  backtestForecasts: (name: string, symbol: string, step = 1) =>
    request<{ interval: { method: string; level: number }; records: BacktestForecast[] }>(
      'GET',
      `api/v1/backtests/${encodeURIComponent(name)}/forecasts?symbol=${encodeURIComponent(symbol)}&step=${step}`,
    ),
  ledger: (symbol: string) => request<{ items: LedgerRow[]; limit: number }>('GET', `api/v1/predictions?symbol=${encodeURIComponent(symbol)}&limit=10000`),
  ledgerScore: (name: string) => request<LedgerScore>('GET', `api/v1/predictions/score?run=${encodeURIComponent(name)}`),
  stocks: () => request<{ items: Stock[]; total: number }>('GET', 'api/v1/stocks?page_size=1000'),
  stockInfo: (symbol: string) =>
    request<Stock & { data: { first_date: string; last_date: string; bars: number } | null }>('GET', `api/v1/stocks/${symbol}/info`),
  kline: (symbol: string, limit = 250) => request<{ bars: Bar[] }>('GET', `api/v1/stocks/${symbol}/kline?limit=${limit}`),
  /** Without `days`, the run's whole horizon. */
  predict: (symbol: string, days?: number, run?: string) =>
    request<Forecast>('POST', 'api/v1/predict', { symbol, ...(days ? { days } : {}), ...(run ? { run } : {}) }),
  /** The run the best-run rule chooses (predict's default); 404 when none. */
  bestRun: (symbol: string) => request<BestRunAnswer>('GET', `api/v1/best-run?symbol=${encodeURIComponent(symbol)}`),
  batches: () => request<{ items: BatchItem[]; total: number }>('GET', 'api/v1/batches'),
  batch: (name: string) => request<BatchDetails>('GET', `api/v1/batches/${encodeURIComponent(name)}`),
  trainingDefaults: () => request<TrainingDefaults>('GET', 'api/v1/training/defaults'),
  startTraining: (body: unknown) => request<TrainingJob>('POST', 'api/v1/training', body, true),
  job: (id: string) => request<TrainingJob>('GET', `api/v1/training/${encodeURIComponent(id)}`),
  cancelJob: (id: string) => request<TrainingJob>('DELETE', `api/v1/training/${encodeURIComponent(id)}`, undefined, true),
};
