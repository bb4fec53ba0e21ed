/** The API as the dashboard uses it: same origin, JSON, and the server's uniform error shape turned into ApiError. */

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
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, 'bad_response', `${method} ${path}: not JSON (${res.status})`);
  }
  if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? 'error', data?.error?.message ?? `${method} ${path} failed (${res.status})`);
  return data as T;
}

export interface EvalMetrics {
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  r2: number | null;
  direction_accuracy: number | null;
  ic: number | null;
  rank_ic: number | null;
  skill: number | null;
  persistence_mae: number | null;
}

export interface Run {
  name: string;
  status: string;
  reason: string | null;
  problems: string[];
  symbol: string | null;
  model_type: string | null;
  created_at: string | null;
  finished_at: string | null;
  best_val_loss: number | null;
  epochs_trained: number | null;
  eval_metrics: EvalMetrics | null;
  checkpoints: string[];
  has_best: boolean;
  has_model: boolean;
  size_bytes: number;
}

export interface PriceMetrics {
  mae: number | null;
  rmse: number | null;
  mape: number | null;
  r2: number | null;
}

export interface EvalResults {
  evaluated_at: string;
  n_samples: number;
  horizon: number;
  test_metrics: PriceMetrics & Record<string, number | null>;
  baselines: { persistence: PriceMetrics; zero_return: { return_mae: number | null; return_rmse: number | null } };
}

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

export interface PredictionRecord {
  date: string;
  step: number;
  target_date: string | null;
  last_close: number;
  actual_price: number;
  predicted_price: number;
}

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

export interface Forecast {
  symbol: string;
  run: string;
  base_date: string;
  base_close: number;
  horizon: number;
  interval_level: number | null;
  trend: string;
  predictions: Array<{ date: string; price: number; return: number; lower: number | null; upper: number | null }>;
}

export interface TrainingJob {
  id: string;
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  symbol: string | null;
  model_type: string;
  run_name: string | null;
  progress: { epoch: number; epochs: number; train_loss: number | null; val_loss: number | null } | null;
  error: string | null;
}

export const api = {
  runs: (query = '') => request<{ items: Run[]; total: number }>('GET', `api/v1/runs${query}`),
  run: (name: string) => request<RunDetails>('GET', `api/v1/runs/${encodeURIComponent(name)}`),
  metrics: (name: string) => request<{ history: MetricsRow[]; eval_results: EvalResults | null }>('GET', `api/v1/runs/${encodeURIComponent(name)}/metrics`),
  predictions: (name: string) => request<{ horizon: number; records: PredictionRecord[] }>('GET', `api/v1/runs/${encodeURIComponent(name)}/predictions?step=1`),
  stocks: () => request<{ items: Stock[]; total: number }>('GET', 'api/v1/stocks?page_size=1000'),
  stockInfo: (symbol: string) =>
    request<Stock & { data: { first_date: string; last_date: string; bars: number } | null }>('GET', `api/v1/stocks/${symbol}/info`),
  kline: (symbol: string, limit = 250) => request<{ bars: Bar[] }>('GET', `api/v1/stocks/${symbol}/kline?limit=${limit}`),
  /** Without `days`, the run's whole horizon. */
  predict: (symbol: string, days?: number, run?: string) =>
    request<Forecast>('POST', 'api/v1/predict', { symbol, ...(days ? { days } : {}), ...(run ? { run } : {}) }),
  startTraining: (body: unknown) => request<TrainingJob>('POST', 'api/v1/training', body, true),
  job: (id: string) => request<TrainingJob>('GET', `api/v1/training/${encodeURIComponent(id)}`),
  cancelJob: (id: string) => request<TrainingJob>('DELETE', `api/v1/training/${encodeURIComponent(id)}`, undefined, true),
};
