/** Run: config, loss and learning-rate curves, test metrics beside the persistence baseline, test predictions, files. */
import { api, type MetricsRow, type PredictionRecord } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { badge, bytes, h, message, num, pct, section, shortTime, table } from '../dom.js';

/** One value per epoch for `key`: the last row of each epoch that has it. */
export function perEpoch(history: MetricsRow[], key: string): Array<[number, number]> {
  const byEpoch = new Map<number, number>();
  for (const row of history) {
    const v = row[key];
    if (typeof v === 'number' && Number.isFinite(v)) byEpoch.set(row.epoch, v);
  }
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]);
}

export function lossChartOption(history: MetricsRow[]) {
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 60, top: 36, bottom: 40 },
    xAxis: { type: 'value', name: 'epoch', minInterval: 1, min: 'dataMin' },
    yAxis: [
      { type: 'value', name: 'loss', scale: true },
      { type: 'value', name: 'lr', scale: true, splitLine: { show: false }, axisLabel: { formatter: (v: number) => (v === 0 ? '0' : v.toExponential(1)) } },
    ],
    series: [
      { name: 'train loss', type: 'line', data: perEpoch(history, 'train_loss'), color: PALETTE[0], showSymbol: false },
      { name: 'val loss', type: 'line', data: perEpoch(history, 'val_loss'), color: PALETTE[1], showSymbol: false },
      { name: 'lr', type: 'line', yAxisIndex: 1, data: perEpoch(history, 'lr'), color: PALETTE[2], lineStyle: { type: 'dashed' }, showSymbol: false },
    ],
  };
}

function predictionsOption(records: PredictionRecord[]) {
  const rows = records.filter((r) => r.step === 1);
  const dates = rows.map((r) => r.target_date ?? r.date);
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: dates },
    yAxis: { type: 'value', scale: true, name: 'price' },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [
      { name: 'actual', type: 'line', data: rows.map((r) => r.actual_price), color: PALETTE[0], showSymbol: false },
      { name: 'predicted', type: 'line', data: rows.map((r) => r.predicted_price), color: PALETTE[1], showSymbol: false },
    ],
  };
}

export async function runPage(root: HTMLElement, name: string): Promise<void> {
  const details = await api.run(name);
  const run = details.run;
  root.append(
    h('h1', {}, run.name, ' ', badge(run.status)),
    h(
      'p',
      { class: 'muted' },
      [
        run.symbol ? `symbol ${run.symbol}` : 'no symbol',
        run.model_type,
        `created ${shortTime(run.created_at)}`,
        run.finished_at ? `finished ${shortTime(run.finished_at)}` : null,
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  );
  if (run.reason || run.problems.length) root.append(message([run.reason, ...run.problems].filter(Boolean).join('; '), 'error'));
  if (run.symbol) root.append(h('p', {}, h('a', { href: `#/stock/${run.symbol}` }, `K-line and forecast of ${run.symbol} →`)));

  const lossBox = h('div', { id: 'chart-loss', class: 'chart' });
  root.append(section('Loss and learning rate', lossBox));
  const { history } = await api.metrics(name);
  if (history.length) renderChart(lossBox, lossChartOption(history));
  else lossBox.replaceWith(message('No epochs logged yet.'));

  const ev = details.eval_results;
  if (ev) {
    const m = ev.test_metrics;
    const p = ev.baselines.persistence;
    root.append(
      section(
        `Test metrics (${ev.n_samples} samples, horizon ${ev.horizon})`,
        table(
          ['metric', 'model', 'persistence baseline'],
          [
            ['MAE', num(m.mae), num(p.mae)],
            ['RMSE', num(m.rmse), num(p.rmse)],
            ['MAPE %', num(m.mape), num(p.mape)],
            ['R²', num(m.r2), num(p.r2)],
            ['skill (1 − MAE / MAE persistence)', num(m.skill, 3), '0'],
            ['direction accuracy', pct(m.direction_accuracy), '–'],
            ['IC / Rank IC', `${num(m.ic, 3)} / ${num(m.rank_ic, 3)}`, '–'],
          ],
          { id: 'metrics-table' },
        ),
      ),
    );
  } else root.append(section('Test metrics', message('Not evaluated yet.')));

  const predBox = h('div', { id: 'chart-predictions', class: 'chart' });
  root.append(section('Test set: predicted against actual price (next day)', predBox));
  try {
    const predictions = await api.predictions(name);
    if (predictions.records.length) renderChart(predBox, predictionsOption(predictions.records));
    else predBox.replaceWith(message('No test predictions.'));
  } catch (err) {
    predBox.replaceWith(message((err as Error).message));
  }

  root.append(
    section('Config', h('pre', { class: 'json', id: 'run-config' }, JSON.stringify(details.config, null, 2))),
    section('Model', h('pre', { class: 'json' }, JSON.stringify({ model_config: details.model_config, training_args: details.training_args }, null, 2))),
    section(
      'Files',
      table(
        ['path', 'size'],
        details.files.map((f) => [f.path, bytes(f.bytes)]),
        { id: 'files-table' },
      ),
    ),
  );
}
