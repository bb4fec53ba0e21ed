/**
 * Backtests: the list of walk-forward backtests, and one backtest's page: its folds (train and forecast windows,
 * skill, DM p, coverage), the coverage of its interval per fold for split-conformal and ACI against the nominal level,
 * and for a chosen stock the forecasts against the actual price with the interval band and, in return space, what
 * trading the forecast's sign would have earned against holding. Its saved simulations are listed below.
 */
import { api, type BacktestDetails, type BacktestFold, type BacktestForecast } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { badge, h, message, num, pct, section, shortTime, table } from '../dom.js';
import { simulationsSection } from './simulation.js';

const pValue = (p: number | null | undefined) => (p === null || p === undefined ? '–' : p < 0.001 ? p.toExponential(1) : p.toFixed(3));

export async function backtestsPage(root: HTMLElement): Promise<void> {
  const { items } = await api.backtests();
  root.append(h('h1', {}, 'Backtests'));
  if (items.length === 0) {
    root.append(message('No backtests yet. Start one with `klinecast backtest --symbol CODE` (docs/BACKTESTING.md).'));
    return;
  }
  root.append(
    table(
      ['backtest', 'status', 'stock(s)', 'model', 'created', 'period', 'folds', 'skill', 'DM p', 'split-conformal cover', 'ACI cover'],
      items.map((b) => [
        h('a', { href: `#/backtest/${encodeURIComponent(b.name)}` }, b.name),
        badge(b.status),
        b.symbol ? h('a', { href: `#/stock/${b.symbol}` }, b.symbol) : b.stocks !== null ? `${b.stocks} stocks` : '–',
        b.model_type ?? '–',
        shortTime(b.created_at),
        b.start && b.end ? `${b.start} … ${b.end}` : '–',
        `${b.folds_done}/${b.folds_total ?? '?'}`,
        pct(b.skill),
        pValue(b.dm_p),
        pct(b.coverage_split_conformal),
        pct(b.coverage_aci),
      ]),
      { id: 'backtests-table' },
    ),
  );
}

/** Each fold's coverage of the interval, by method, against the level it claims. */
export function coverageChartOption(folds: BacktestFold[], level: number) {
  const labels = folds.map((f) => `${f.fold}: ${f.forecast_start}`);
  const series: Array<Record<string, unknown>> = [
    { name: 'split-conformal', type: 'line', data: folds.map((f) => f.intervals.split_conformal?.coverage ?? '-'), color: PALETTE[0] },
  ];
  if (folds.some((f) => f.intervals.aci))
    series.push({ name: 'ACI', type: 'line', data: folds.map((f) => f.intervals.aci?.coverage ?? '-'), color: PALETTE[2] });
  series.push({
    name: `nominal ${Math.round(level * 100)}%`,
    type: 'line',
    data: folds.map(() => level),
    color: PALETTE[1],
    lineStyle: { type: 'dashed' },
    showSymbol: false,
  });
  return {
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => pct(v) },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 36, bottom: 40 },
    xAxis: { type: 'category', data: labels, name: 'fold' },
    yAxis: { type: 'value', name: 'coverage', min: 0, max: 1, axisLabel: { formatter: (v: number) => pct(v) } },
    series,
  };
}

/** Next-day forecasts of one stock against the actual close, with the interval band (stacked: lower, then the width). */
export function forecastChartOption(records: BacktestForecast[], interval: { method: string; level: number }) {
  const dates = records.map((r) => r.target_date ?? r.date);
  const series: Array<Record<string, unknown>> = [
    { name: 'actual', type: 'line', data: records.map((r) => r.actual_price), color: PALETTE[0], showSymbol: false },
    { name: 'predicted', type: 'line', data: records.map((r) => r.predicted_price), color: PALETTE[3], showSymbol: false },
  ];
  if (interval.method !== 'none' && records.every((r) => typeof r.lower === 'number' && typeof r.upper === 'number')) {
    series.push(
      { name: 'interval low', type: 'line', stack: 'band', data: records.map((r) => r.lower), lineStyle: { opacity: 0 }, showSymbol: false, color: PALETTE[3] },
      {
        name: `${Math.round(interval.level * 100)}% ${interval.method === 'aci' ? 'ACI' : 'split-conformal'} interval`,
        type: 'line',
        stack: 'band',
        data: records.map((r) => (r.upper as number) - (r.lower as number)),
        lineStyle: { opacity: 0 },
        areaStyle: { color: 'rgba(147, 51, 234, 0.2)' },
        showSymbol: false,
        color: PALETTE[3],
      },
    );
  }
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: series.map((s) => s.name as string).filter((n) => n !== 'interval low') },
    grid: { left: 60, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: dates },
    yAxis: { type: 'value', scale: true, name: 'price' },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series,
  };
}

/**
 * Return space, where a price chart hides nothing: the cumulative next-day log return of holding the stock when the
 * forecast says up and shorting it when it says down (the sign strategy, before costs, shorting allowed only here),
 * against holding it throughout.
 */
export function returnsChartOption(records: BacktestForecast[]) {
  let strategy = 0;
  let hold = 0;
  return {
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => num(v, 4) },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: records.map((r) => r.target_date ?? r.date) },
    yAxis: { type: 'value', scale: true, name: 'cumulative log return' },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [
      {
        name: 'sign of the forecast',
        type: 'line',
        data: records.map((r) => (strategy += Math.sign(r.predicted_return) * r.actual_return)),
        color: PALETTE[3],
        showSymbol: false,
      },
      { name: 'hold', type: 'line', data: records.map((r) => (hold += r.actual_return)), color: PALETTE[0], showSymbol: false },
    ],
  };
}

function foldsTable(details: NonNullable<BacktestDetails['results']>): HTMLElement {
  const aci = details.folds.some((f) => f.intervals.aci);
  const headers = ['fold', 'train window', 'forecast window', 'forecasts', 'epochs', 'skill', 'DM p', 'direction', 'split-conformal cover'];
  if (aci) headers.push('ACI cover');
  return table(
    headers,
    details.folds.map((f) => {
      const row = [
        String(f.fold),
        `${f.train_start} … ${f.train_end}`,
        `${f.forecast_start} … ${f.forecast_end}`,
        String(f.n_samples),
        String(f.epochs_trained),
        pct(f.metrics.skill),
        pValue(f.significance?.vs_persistence.p_value),
        pct(f.metrics.direction_accuracy),
        pct(f.intervals.split_conformal?.coverage),
      ];
      if (aci) row.push(pct(f.intervals.aci?.coverage));
      return row;
    }),
    { id: 'folds-table' },
  );
}

export async function backtestPage(root: HTMLElement, name: string): Promise<void> {
  const details = await api.backtest(name);
  const b = details.backtest;
  root.append(
    h('h1', {}, b.name, ' ', badge(b.status)),
    h(
      'p',
      { class: 'muted' },
      [
        b.symbol ? `stock ${b.symbol}` : b.stocks !== null ? `universal model over ${b.stocks} stocks` : null,
        b.model_type,
        b.start && b.end ? `forecasts ${b.start} … ${b.end}` : null,
        b.retrain ? `retrained ${b.retrain}` : null,
        `${b.folds_done} of ${b.folds_total ?? '?'} folds`,
        `created ${shortTime(b.created_at)}`,
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  );
  if (b.reason) root.append(message(b.reason, b.status === 'completed' ? 'info' : 'error'));
  const results = details.results;
  if (!results) {
    root.append(message('No results yet: results.json is written when the last fold is done (klinecast backtest --resume continues it).'));
    return;
  }
  root.append(h('p', { id: 'backtest-summary' }, results.summary));
  root.append(section('Folds', foldsTable(results)));
  const coverageBox = h('div', { id: 'chart-coverage', class: 'chart' });
  root.append(section(`Coverage of the ${Math.round(results.interval.level * 100)}% interval per fold`, coverageBox));
  renderChart(coverageBox, coverageChartOption(results.folds, results.interval.level));

  const symbols = details.symbols;
  if (symbols.length) {
    const picker = h('select', { id: 'backtest-symbol' }, ...symbols.map((s) => h('option', { value: s }, s)));
    const forecastBox = h('div', { id: 'chart-forecasts', class: 'chart' });
    const returnsBox = h('div', { id: 'chart-returns', class: 'chart' });
    const note = h('p', { class: 'muted' });
    root.append(
      section('Next-day forecasts against the actual close', h('label', {}, 'stock ', picker), note, forecastBox),
      section('Return space: trading the forecast’s sign against holding (before costs)', returnsBox),
    );
    const draw = async (symbol: string) => {
      const file = await api.backtestForecasts(name, symbol, 1);
      note.textContent = `${file.records.length} next-day forecasts of ${symbol}; interval: ${file.interval.method === 'none' ? 'none' : `${file.interval.method} at ${Math.round(file.interval.level * 100)}%`}.`;
      renderChart(forecastBox, forecastChartOption(file.records, file.interval));
      renderChart(returnsBox, returnsChartOption(file.records));
    };
    picker.addEventListener('change', () => void draw(picker.value));
    await draw(symbols[0]);
  }
  const simulations = await simulationsSection('backtests', name);
  if (simulations) root.append(simulations);
}
