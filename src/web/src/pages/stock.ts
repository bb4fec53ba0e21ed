/** Stock: a K-line candlestick with volume, the latest forecast with its interval band, and a picker of runs for the stock. */
import { ApiError, api, type Bar, type Forecast } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { h, message, num } from '../dom.js';

const UP = '#dc2626'; // A-share convention: red rises, green falls
const DOWN = '#16a34a';

export function klineOption(bars: Bar[], forecast: Forecast | null) {
  const future = forecast ? forecast.predictions.map((p) => p.date) : [];
  const dates = [...bars.map((b) => b.date), ...future];
  const pad = future.map(() => '-');
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
      series.push(
        {
          name: 'interval low',
          type: 'line',
          stack: 'band',
          data: [...bars.map(() => '-'), ...forecast.predictions.map((p) => p.lower)],
          lineStyle: { opacity: 0 },
          showSymbol: false,
          color: PALETTE[3],
        },
        {
          name: `${level}${method}`,
          type: 'line',
          stack: 'band',
          data: [...bars.map(() => '-'), ...forecast.predictions.map((p) => (p.upper as number) - (p.lower as number))],
          lineStyle: { opacity: 0 },
          areaStyle: { color: 'rgba(147, 51, 234, 0.2)' },
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
  renderChart(chartBox, klineOption(bars, null));

  async function forecast(): Promise<void> {
    if (usable.length === 0) {
      status.textContent = `No completed run for ${symbol}: train one first.`;
      return;
    }
    status.textContent = 'Forecasting…';
    try {
      const result = await api.predict(symbol as string, daysInput.value ? Number(daysInput.value) : undefined, runPicker.value || undefined);
      renderChart(chartBox, klineOption(bars, result));
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
