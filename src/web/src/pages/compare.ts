/** Compare: several runs' loss curves overlaid, and their test metrics side by side. */
import { api, type Run } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { badge, h, message, num, pct, section, table } from '../dom.js';
import { perEpoch } from './run.js';

export async function comparePage(root: HTMLElement, names: string[]): Promise<void> {
  root.append(h('h1', {}, 'Compare runs'));
  const { items: all } = await api.runs();
  const picker = h(
    'select',
    { id: 'compare-picker', multiple: true, size: Math.min(8, Math.max(3, all.length)) },
    ...all.map((r) => h('option', { value: r.name }, `${r.name} (${r.status})`)),
  );
  for (const option of picker.options) option.selected = names.includes(option.value);
  const apply = h(
    'button',
    { onclick: () => (location.hash = `#/compare?runs=${[...picker.selectedOptions].map((o) => encodeURIComponent(o.value)).join(',')}`) },
    'Compare',
  );
  root.append(h('div', { class: 'toolbar' }, picker, apply));
  if (names.length === 0) {
    root.append(message('Choose two or more runs (or tick them on the Runs page).'));
    return;
  }
  const runs = names.map((n) => all.find((r) => r.name === n)).filter((r): r is Run => r !== undefined);
  const missing = names.filter((n) => !runs.some((r) => r.name === n));
  if (missing.length) root.append(message(`Unknown runs: ${missing.join(', ')}`, 'error'));
  const histories = await Promise.all(runs.map((r) => api.metrics(r.name).then((m) => m.history)));

  const lossBox = h('div', { id: 'chart-compare-loss', class: 'chart' });
  root.append(section('Validation (solid) and training (dashed) loss', lossBox));
  renderChart(lossBox, {
    tooltip: { trigger: 'axis' },
    legend: { top: 0, type: 'scroll' },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: 'value', name: 'epoch', minInterval: 1, min: 'dataMin' },
    yAxis: { type: 'value', name: 'loss', scale: true },
    series: runs.flatMap((r, i) => [
      { name: `${r.name} val`, type: 'line', data: perEpoch(histories[i], 'val_loss'), color: PALETTE[i % PALETTE.length], showSymbol: false },
      {
        name: `${r.name} train`,
        type: 'line',
        data: perEpoch(histories[i], 'train_loss'),
        color: PALETTE[i % PALETTE.length],
        lineStyle: { type: 'dashed' },
        showSymbol: false,
      },
    ]),
  });

  const metricsBox = h('div', { id: 'chart-compare-metrics', class: 'chart chart-short' });
  root.append(section('Test MAE against the persistence baseline', metricsBox));
  renderChart(metricsBox, {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: runs.map((r) => r.name), axisLabel: { interval: 0, rotate: runs.length > 3 ? 20 : 0 } },
    yAxis: { type: 'value', name: 'MAE' },
    series: [
      { name: 'model MAE', type: 'bar', data: runs.map((r) => r.eval_metrics?.mae ?? '-'), color: PALETTE[0] },
      { name: 'persistence MAE', type: 'bar', data: runs.map((r) => r.eval_metrics?.persistence_mae ?? '-'), color: '#9ca3af' },
    ],
  });

  root.append(
    section(
      'Metrics',
      table(
        ['run', 'status', 'model', 'best val loss', 'MAE', 'RMSE', 'MAPE %', 'R²', 'skill', 'direction', 'IC'],
        runs.map((r) => [
          h('a', { href: `#/run/${encodeURIComponent(r.name)}` }, r.name),
          badge(r.status),
          r.model_type ?? '–',
          num(r.best_val_loss),
          num(r.eval_metrics?.mae),
          num(r.eval_metrics?.rmse),
          num(r.eval_metrics?.mape),
          num(r.eval_metrics?.r2),
          num(r.eval_metrics?.skill, 3),
          pct(r.eval_metrics?.direction_accuracy),
          num(r.eval_metrics?.ic, 3),
        ]),
        { id: 'compare-table' },
      ),
    ),
  );
}
