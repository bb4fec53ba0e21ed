/**
 * Stock: a K-line candlestick with volume, the latest forecast with its interval band, past next-day forecasts (the
 * prediction ledger's and a backtest's) over the candles, and a picker of runs for the stock.
 */
import { ApiError, api, type Bar, type Forecast } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { h, message, num } from '../dom.js';

const UP = '#dc2626'; // A-share convention: red rises, green falls
const DOWN = '#16a34a';

/** Past next-day forecasts to draw over the candles: a price per target day. */
export interface PastForecasts {
  name: string;
  points: Array<{ date: string; price: number }>;
}

/** The next-day forecasts the prediction ledger recorded for the stock; of several for one day, the last recorded. */
export function ledgerForecasts(rows: Array<{ step: number; target_date: string; predicted_price: number; created_at: string }>): PastForecasts {
  const byDay = new Map<string, { price: number; at: string }>();
  for (const r of rows) {
    if (r.step !== 1) continue;
    const seen = byDay.get(r.target_date);
    if (!seen || seen.at <= r.created_at) byDay.set(r.target_date, { price: r.predicted_price, at: r.created_at });
  }
  return { name: 'recorded forecasts (ledger)', points: [...byDay.entries()].map(([date, v]) => ({ date, price: v.price })) };
}

export function klineOption(bars: Bar[], forecast: Forecast | null, past: PastForecasts[] = []) {
  const future = forecast ? forecast.predictions.map((p) => p.date) : [];
  const dates = [...bars.map((b) => b.date), ...future];
  const pad = future.map(() => '-');
  const index = new Map(dates.map((d, i) => [d, i]));
  const series: Array<Record<string, unknown>> = [
    {
      name: 'K-line',
      type: 'candlestick',
      data: [...bars.map((b) => [b.open, b.close, b.low, b.high]), ...pad],
      itemStyle: { color: UP, color0: DOWN, borderColor: UP, borderColor0: DOWN },
    },
    {
      name: 'volume',
      type: 'bar',
      xAxisIndex: 1,
      yAxisIndex: 1,
      data: [...bars.map((b) => ({ value: b.vol, itemStyle: { color: b.close >= b.open ? UP : DOWN } })), ...pad],
    },
  ];
  past.forEach((p, i) => {
    // Aligned to the category axis: a forecast of a day outside the chart (before its first bar, or still ahead) is left out.
    const data: Array<number | '-'> = dates.map(() => '-');
    for (const point of p.points) {
      const at = index.get(point.date);
      if (at !== undefined) data[at] = point.price;
    }
    series.push({ name: p.name, type: 'scatter', data, color: PALETTE[[4, 5, 6][i % 3]], symbol: i === 0 ? 'circle' : 'triangle', symbolSize: 6 });
  });
  if (forecast) {
    // The forecast line starts at the base close so it joins the candles.
    const lead = bars.map((b, i) => (i === bars.length - 1 ? forecast.base_close : '-'));
    const hasBand = forecast.predictions.every((p) => p.lower !== null && p.upper !== null);
    series.push({
      name: 'forecast',
      type: 'line',
      data: [...lead, ...forecast.predictions.map((p) => p.price)],
      color: PALETTE[3],
      lineStyle: { width: 2 },
      symbolSize: 5,
    });
    if (hasBand) {
      const level = forecast.interval_level ? `${Math.round(forecast.interval_level * 100)}% ` : '';
      // The band names its method: a conformal interval is calibrated, an MC-dropout band is not.
      const method = forecast.interval_method === 'mc-dropout' ? 'MC-dropout band' : 'conformal interval';
      // A stacked pair (the lower edge, then the width) fills the band; its edges are drawn too, so a narrow band still shows.
      const edge = { color: PALETTE[3], width: 1, type: 'dashed', opacity: 0.8 };
      series.push(
        {
          name: 'interval low',
          type: 'line',
          stack: 'band',
          data: [...bars.map(() => '-'), ...forecast.predictions.map((p) => p.lower)],
          lineStyle: edge,
          showSymbol: false,
          color: PALETTE[3],
        },
        {
          name: `${level}${method}`,
          type: 'line',
          stack: 'band',
          data: [...bars.map(() => '-'), ...forecast.predictions.map((p) => (p.upper as number) - (p.lower as number))],
          lineStyle: edge,
          areaStyle: { color: 'rgba(147, 51, 234, 0.35)' },
          showSymbol: false,
          color: PALETTE[3],
        },
      );
    }
  }
  const start = Math.max(0, 100 - (120 / Math.max(1, dates.length)) * 100);
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'cross' } },
    legend: { top: 0, data: series.map((s) => s.name as string).filter((n) => n !== 'interval low' && n !== 'volume') },
    axisPointer: { link: [{ xAxisIndex: 'all' }] },
    grid: [
      { left: 60, right: 20, top: 36, height: '58%' },
      { left: 60, right: 20, top: '74%', height: '16%' },
    ],
    xAxis: [
      { type: 'category', data: dates, boundaryGap: true, axisLabel: { show: false } },
      { type: 'category', data: dates, gridIndex: 1, boundaryGap: true },
    ],
    yAxis: [
      { type: 'value', scale: true, name: 'price' },
      { type: 'value', gridIndex: 1, name: 'vol', axisLabel: { show: false }, splitLine: { show: false } },
    ],
    dataZoom: [
      { type: 'inside', xAxisIndex: [0, 1], start, end: 100 },
      { type: 'slider', xAxisIndex: [0, 1], start, end: 100, bottom: 4 },
    ],
    series,
  };
}

/**
 * The stock's past forecasts: the ledger's, and those of the newest completed backtest that covers the stock. Either
 * source failing leaves the chart without it rather than without a chart.
 */
async function pastForecasts(symbol: string): Promise<PastForecasts[]> {
  const past: PastForecasts[] = [];
  const ledger = await api.ledger(symbol).catch(() => null);
  if (ledger?.items.length) past.push(ledgerForecasts(ledger.items));
  const backtests = await api.backtests().catch(() => null);
  for (const b of backtests?.items.filter((x) => x.status === 'completed') ?? []) {
    const file = await api.backtestForecasts(b.name, symbol, 1).catch(() => null);
    if (!file?.records.length) continue;
    // A record without its target day (an older file) cannot be placed on the candles: `date` is the base day.
    const points = file.records.flatMap((r) => (r.target_date ? [{ date: r.target_date, price: r.predicted_price }] : []));
    past.push({ name: `backtest ${b.name}`, points });
    break;
  }
  return past;
}

export async function stockPage(root: HTMLElement, symbol: string | null): Promise<void> {
  const { items: stocks } = await api.stocks();
  const picker = h(
    'select',
    { id: 'stock-picker' },
    h('option', { value: '' }, 'choose a stock'),
    ...stocks.map((s) => h('option', { value: s.symbol }, `${s.symbol} ${s.name}`)),
  );
  picker.value = symbol ?? '';
  picker.addEventListener('change', () => {
    location.hash = `#/stock/${picker.value}`;
  });
  root.append(h('h1', {}, 'Stock'), h('div', { class: 'toolbar' }, picker));
  if (!symbol) {
    root.append(
      message(stocks.length ? 'Pick a stock to see its K-line and forecast.' : 'The database has no stocks yet: import data or run `klinecast data demo`.'),
    );
    return;
  }
  const [info, { bars }, { items: runs }, best] = await Promise.all([
    api.stockInfo(symbol),
    api.kline(symbol, 250),
    api.runs(`?symbol=${symbol}&sort=mae`),
    // The run predict uses without one named: the best-run rule's choice (a universal run can be it).
    api.bestRun(symbol).catch(() => null),
  ]);
  const usable = runs.filter((r) => r.status === 'completed' && r.has_model);
  if (best && best.run.has_model && !usable.some((r) => r.name === best.run.name)) usable.unshift(best.run);
  root.append(
    h(
      'p',
      { class: 'muted' },
      [info.name, info.stock_type, info.industry, info.data ? `${info.data.bars} bars ${info.data.first_date} – ${info.data.last_date}` : null]
        .filter(Boolean)
        .join(' · '),
    ),
  );

  const runPicker = h(
    'select',
    { id: 'run-picker' },
    h('option', { value: '' }, best ? `best run: ${best.run.name}` : usable.length ? 'best run' : 'no completed run'),
    ...usable.map((r) =>
      h(
        'option',
        { value: r.name, ...(r.name === best?.run.name ? { 'data-best': 'true' } : {}) },
        `${r.name} (MAE ${num(r.eval_metrics?.mae)})${r.name === best?.run.name ? ' ★' : ''}`,
      ),
    ),
  );
  const daysInput = h('input', { id: 'forecast-days', type: 'number', min: 1, max: 250, placeholder: 'horizon' });
  const status = h('p', { id: 'forecast-status', class: 'muted' });
  const forecastTable = h('div', { id: 'forecast-table' });
  const chartBox = h('div', { id: 'chart-kline', class: 'chart chart-tall' });
  root.append(
    h(
      'div',
      { class: 'toolbar' },
      h('label', {}, 'Run ', runPicker),
      h('label', {}, 'Days ', daysInput),
      h('button', { id: 'forecast-button', onclick: () => void forecast() }, 'Forecast'),
    ),
    h('p', { class: 'muted', id: 'best-rule' }, best ? `Best run by the rule of docs/PREDICTION.md: ${best.rule}.` : ''),
    status,
    chartBox,
    forecastTable,
  );
  if (bars.length === 0) {
    chartBox.replaceWith(message(`No bars for ${symbol}.`));
    return;
  }
  const past = await pastForecasts(symbol);
  const shown = new Set(bars.map((b) => b.date));
  const onChart = past.map((p) => `${p.points.filter((x) => shown.has(x.date)).length} ${p.name}`);
  chartBox.before(
    h(
      'p',
      { class: 'muted', id: 'past-forecasts' },
      past.length
        ? `Past next-day forecasts over the candles: ${onChart.join('; ')} (click a legend entry to hide or show it).`
        : 'No past forecasts of this stock yet: the prediction ledger records every forecast made, and a backtest of the stock adds its own.',
    ),
  );
  renderChart(chartBox, klineOption(bars, null, past));

  async function forecast(): Promise<void> {
    if (usable.length === 0) {
      status.textContent = `No completed run for ${symbol}: train one first.`;
      return;
    }
    status.textContent = 'Forecasting…';
    try {
      const result = await api.predict(symbol as string, daysInput.value ? Number(daysInput.value) : undefined, runPicker.value || undefined);
      renderChart(chartBox, klineOption(bars, result, past));
      status.textContent = `Forecast by ${result.run} from ${result.base_date} (close ${num(result.base_close)}): trend ${result.trend}.`;
      forecastTable.replaceChildren(
        h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ...['date', 'price', 'return', 'lower', 'upper'].map((x) => h('th', {}, x)))),
          h(
            'tbody',
            {},
            ...result.predictions.map((p) => h('tr', {}, ...[p.date, num(p.price), num(p.return, 3), num(p.lower), num(p.upper)].map((c) => h('td', {}, c)))),
          ),
        ),
      );
    } catch (err) {
      status.textContent = err instanceof ApiError ? `Forecast unavailable: ${err.message}` : String(err);
    }
  }
  if (usable.length) await forecast();
  else status.textContent = `No completed run for ${symbol} yet.`;
}
