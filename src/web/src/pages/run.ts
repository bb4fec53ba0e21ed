/** Run: config, loss and learning-rate curves, test metrics beside the persistence baseline, test predictions, files. */
import { api, type CrossSectionDay, type CrossSectionResults, type LedgerScore, type MetricsRow, type PredictionRecord } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { badge, bytes, h, message, num, pct, section, shortTime, table } from '../dom.js';
import { simulationsSection } from './simulation.js';

/** One value per epoch for `key`: the last row of each epoch that has it. */
export function perEpoch(history: MetricsRow[], key: string): Array<[number, number]> {
  const byEpoch = new Map<number, number>();
  for (const row of history) {
    const v = row[key];
    if (typeof v === 'number' && Number.isFinite(v)) byEpoch.set(row.epoch, v);
  }
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]);
}

/** Where training ended and which epoch it kept: from model/training_args.json, or for older runs the logged val loss. */
export interface TrainingEnd {
  bestEpoch: number | null;
  epochsTrained: number | null;
  stopReason: string | null;
  patience: number | null;
}

export function trainingEnd(history: MetricsRow[], trainingArgs: Record<string, unknown> | null): TrainingEnd {
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
  const val = perEpoch(history, 'val_loss');
  // Runs written before training_args.json carried best_epoch kept the checkpoint of the lowest val loss (metric_for_best_model).
  const lowest = val.length ? val.reduce((a, b) => (b[1] < a[1] ? b : a))[0] : null;
  return {
    bestEpoch: int(trainingArgs?.best_epoch) ?? lowest,
    epochsTrained: int(trainingArgs?.epochs_trained) ?? (history.length ? Math.max(...history.map((r) => r.epoch)) : null),
    stopReason: typeof trainingArgs?.stop_reason === 'string' ? trainingArgs.stop_reason : null,
    patience: int(trainingArgs?.patience),
  };
}

export function lossChartOption(history: MetricsRow[], end: TrainingEnd = { bestEpoch: null, epochsTrained: null, stopReason: null, patience: null }) {
  const val = perEpoch(history, 'val_loss');
  const valAt = (epoch: number | null) => val.find(([e]) => e === epoch);
  const series: Array<Record<string, unknown>> = [
    { name: 'train loss', type: 'line', data: perEpoch(history, 'train_loss'), color: PALETTE[0], showSymbol: false },
    { name: 'val loss', type: 'line', data: val, color: PALETTE[1], showSymbol: false },
    { name: 'lr', type: 'line', yAxisIndex: 1, data: perEpoch(history, 'lr'), color: PALETTE[2], lineStyle: { type: 'dashed' }, showSymbol: false },
  ];
  const best = valAt(end.bestEpoch);
  if (best) {
    series.push({
      name: 'best epoch',
      type: 'scatter',
      data: [best],
      color: PALETTE[4],
      symbol: 'diamond',
      symbolSize: 14,
      markLine: { symbol: 'none', silent: true, label: { formatter: `best ${best[0]}` }, lineStyle: { color: PALETTE[4] }, data: [{ xAxis: best[0] }] },
    });
  }
  const stop = end.stopReason === 'early_stopping' ? valAt(end.epochsTrained) : undefined;
  if (stop) {
    series.push({
      name: 'early stop',
      type: 'scatter',
      data: [stop],
      color: PALETTE[7],
      symbol: 'rect',
      symbolSize: 12,
      markLine: {
        symbol: 'none',
        silent: true,
        label: { formatter: 'early stop' },
        lineStyle: { color: PALETTE[7], type: 'dotted' },
        data: [{ xAxis: stop[0] }],
      },
    });
  }
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 60, top: 36, bottom: 40 },
    xAxis: { type: 'value', name: 'epoch', minInterval: 1, min: 'dataMin' },
    yAxis: [
      { type: 'value', name: 'loss', scale: true },
      { type: 'value', name: 'lr', scale: true, splitLine: { show: false }, axisLabel: { formatter: (v: number) => (v === 0 ? '0' : v.toExponential(1)) } },
    ],
    series,
  };
}

function trainingEndText(end: TrainingEnd): string {
  const best = end.bestEpoch === null ? 'No best epoch recorded' : `Best epoch ${end.bestEpoch} (its weights are the model)`;
  const trained = end.epochsTrained === null ? '' : ` of ${end.epochsTrained} trained`;
  const why =
    end.stopReason === 'early_stopping'
      ? `; early stopping ended training after ${end.patience ?? 'patience'} epochs without a better val loss.`
      : end.stopReason === 'max_epochs'
        ? '; training ran to its last epoch (no early stop).'
        : end.stopReason
          ? `; training ended by ${end.stopReason}.`
          : '.';
  return best + trained + why;
}

/** The next-day test forecasts of the chart's stock: a universal run's records cover many stocks, the charts follow the first. */
function firstStockNextDay(records: PredictionRecord[]): PredictionRecord[] {
  const first = records.find((r) => r.step === 1)?.symbol;
  return records.filter((r) => r.step === 1 && r.symbol === first);
}

/** A score run (cross-sectional targets) predicts no return: its records have none to draw. */
function withReturns(records: PredictionRecord[]): PredictionRecord[] {
  return firstStockNextDay(records).filter((r) => Number.isFinite(r.predicted_return) && Number.isFinite(r.actual_return));
}

/**
 * Predicted against actual next-day log return: where a price chart hides nothing. A model that knows nothing puts its
 * points on a flat line near 0; a useful one leans along the diagonal.
 */
export function returnScatterOption(records: PredictionRecord[]) {
  const rows = withReturns(records);
  const values = rows.flatMap((r) => [r.predicted_return, r.actual_return]);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 0;
  return {
    tooltip: { trigger: 'item' },
    legend: { top: 0 },
    grid: { left: 70, right: 20, top: 36, bottom: 50 },
    xAxis: { type: 'value', name: 'predicted log return', nameLocation: 'middle', nameGap: 30, scale: true },
    yAxis: { type: 'value', name: 'actual log return', scale: true },
    series: [
      { name: 'next-day forecast', type: 'scatter', data: rows.map((r) => [r.predicted_return, r.actual_return]), color: PALETTE[0], symbolSize: 6 },
      {
        name: 'actual = predicted',
        type: 'line',
        data: [
          [lo, lo],
          [hi, hi],
        ],
        color: PALETTE[6],
        lineStyle: { type: 'dashed' },
        showSymbol: false,
      },
    ],
  };
}

/** Actual − predicted next-day log return over the test days. */
export function residualsOption(records: PredictionRecord[]) {
  const rows = withReturns(records);
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 70, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: rows.map((r) => r.target_date ?? r.date) },
    yAxis: { type: 'value', name: 'log return', scale: true },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [{ name: 'residual (actual − predicted)', type: 'bar', data: rows.map((r) => r.actual_return - r.predicted_return), color: PALETTE[5] }],
  };
}

/** A universal run's daily Rank IC (bars) and its running sum (line): whether the ranking skill holds over time. */
export function icChartOption(daily: CrossSectionDay[]) {
  const days = daily.filter((d) => d.rank_ic !== null);
  let sum = 0;
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 60, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: days.map((d) => d.date) },
    yAxis: [
      { type: 'value', name: 'Rank IC', scale: true },
      { type: 'value', name: 'cumulative', scale: true, splitLine: { show: false } },
    ],
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [
      { name: 'daily Rank IC', type: 'bar', data: days.map((d) => d.rank_ic), color: PALETTE[0] },
      { name: 'cumulative Rank IC', type: 'line', yAxisIndex: 1, data: days.map((d) => (sum += d.rank_ic as number)), color: PALETTE[1], showSymbol: false },
    ],
  };
}

/** The top and bottom quintiles' cumulative log return, and their spread: does ranking by the forecast pay? */
export function quintileChartOption(daily: CrossSectionDay[]) {
  const days = daily.filter((d) => d.spread !== null);
  const cumulative = (pick: (d: CrossSectionDay) => number | null) => {
    let sum = 0;
    return days.map((d) => (sum += pick(d) as number));
  };
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: days.map((d) => d.date) },
    yAxis: { type: 'value', name: 'cumulative log return', scale: true },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [
      { name: 'top quintile', type: 'line', data: cumulative((d) => d.top_quintile_return), color: PALETTE[0], showSymbol: false },
      { name: 'bottom quintile', type: 'line', data: cumulative((d) => d.bottom_quintile_return), color: PALETTE[1], showSymbol: false },
      { name: 'top − bottom', type: 'line', data: cumulative((d) => d.spread), color: PALETTE[2], lineStyle: { type: 'dashed' }, showSymbol: false },
    ],
  };
}

function crossSectionSection(c: CrossSectionResults): HTMLElement {
  const ic = (s: CrossSectionResults['ic']) => [num(s.mean, 3), num(s.std, 3), num(s.icir, 3), num(s.t_stat, 3), String(s.days), pct(s.positive_share)];
  const icBox = h('div', { id: 'chart-ic', class: 'chart' });
  const quintileBox = h('div', { id: 'chart-quintiles', class: 'chart' });
  const box = section(
    `Cross-section: ${c.n_stocks} stocks, ${c.n_dates} test days (next-day forecasts)`,
    table(
      ['', 'mean', 'std', 'ICIR', 't', 'days', 'days > 0'],
      [
        ['Rank IC', ...ic(c.rank_ic)],
        ['IC', ...ic(c.ic)],
      ],
      { id: 'cross-section-table' },
    ),
    h(
      'p',
      {},
      `Top − bottom quintile: ${num(c.quintile_spread.mean_daily, 3)} a day (log return), ${num(c.quintile_spread.annualised, 3)} a year, before costs. ` +
        `Per-stock skill against persistence: median ${num(c.per_stock.median_skill, 3)}, worst ${num(c.per_stock.worst_skill, 3)} (${c.per_stock.worst_symbol ?? '–'}), ${pct(c.per_stock.share_above_zero)} of stocks above 0.`,
    ),
    icBox,
    quintileBox,
  );
  queueMicrotask(() => {
    renderChart(icBox, icChartOption(c.daily));
    renderChart(quintileBox, quintileChartOption(c.daily));
  });
  return box;
}

async function rankingSection(name: string): Promise<HTMLElement> {
  try {
    const r = await api.ranking(name, 20);
    // A run on cross-sectional targets ranks by a score, which is not a return: no price or interval to show.
    if (r.target !== 'log_return') {
      return section(
        `Ranking: the best ${r.items.length} of ${r.ranked} stocks by score (${r.target}: a rank, not a return)`,
        table(
          ['rank', 'symbol', 'base date', 'close', 'score'],
          r.items.map((i) => [String(i.rank), h('a', { href: `#/stock/${i.symbol}` }, i.symbol), i.base_date, num(i.base_close), num(i.score)]),
          { id: 'ranking-table' },
        ),
      );
    }
    return section(
      `Ranking: the best ${r.items.length} of ${r.ranked} stocks by predicted next-day return`,
      table(
        ['rank', 'symbol', 'base date', 'close', 'predicted', 'price', 'interval'],
        r.items.map((i) => [
          String(i.rank),
          h('a', { href: `#/stock/${i.symbol}` }, i.symbol),
          i.base_date,
          num(i.base_close),
          pct(i.return === null ? null : Math.exp(i.return) - 1),
          num(i.price),
          i.lower === null || i.upper === null ? '–' : `${num(i.lower)} – ${num(i.upper)}`,
        ]),
        { id: 'ranking-table' },
      ),
    );
  } catch (err) {
    return section('Ranking', message((err as Error).message));
  }
}

/**
 * The run's recorded forecasts once their day arrived (the prediction ledger), beside its test segment: a model whose
 * live error or coverage drifts away from its test figures shows it here first.
 */
async function liveSection(name: string): Promise<HTMLElement> {
  const title = 'Live forecasts against the test segment';
  let score: LedgerScore;
  try {
    score = await api.ledgerScore(name);
  } catch (err) {
    return section(title, message((err as Error).message));
  }
  const run = score.runs.find((r) => r.run === name);
  if (!run) return section(title, message('No recorded forecasts yet: klinecast predict and the API record every forecast they make.'));
  const figures = (f: LedgerScore['runs'][number]['test']) =>
    f === null ? ['–', '–', '–', '–', '–'] : [String(f.n), num(f.mae), num(f.skill, 3), pct(f.direction_accuracy), pct(f.coverage)];
  return section(
    title,
    table(
      ['', 'n', 'MAE', 'skill', 'direction', 'coverage'],
      [
        ['live', ...figures(run.live)],
        ['test', ...figures(run.test)],
      ],
      { id: 'live-table' },
    ),
    h(
      'p',
      { class: 'muted' },
      `${run.recorded} forecast day(s) recorded since ${run.first_base_date ?? '–'}, ${run.pending} still waiting for their bar` +
        (run.hindsight ? `, ${run.hindsight} made after their day’s bar was in (a past end date: not scored live)` : '') +
        '; skill is 1 − MAE / MAE of persistence (the base day’s close).',
    ),
  );
}

function predictionsOption(records: PredictionRecord[]) {
  const rows = firstStockNextDay(records);
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
        run.symbol ? `symbol ${run.symbol}` : run.stocks !== null ? `universal model over ${run.stocks} stocks` : 'no symbol',
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
  const { history } = await api.metrics(name);
  const end = trainingEnd(history, details.training_args);
  root.append(section('Loss and learning rate', lossBox, h('p', { class: 'muted', id: 'training-end' }, trainingEndText(end))));
  if (history.length) renderChart(lossBox, lossChartOption(history, end));
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
  if (ev?.cross_section) root.append(crossSectionSection(ev.cross_section));
  if (run.symbol === null && run.stocks !== null && run.status === 'completed') root.append(await rankingSection(name));
  const simulations = await simulationsSection('runs', name);
  if (simulations) root.append(simulations);
  if (run.status === 'completed') root.append(await liveSection(name));

  const predBox = h('div', { id: 'chart-predictions', class: 'chart' });
  const scatterBox = h('div', { id: 'chart-return-scatter', class: 'chart' });
  const residualBox = h('div', { id: 'chart-residuals', class: 'chart' });
  // R² of prices rewards persistence: tomorrow's close is near today's, so a model that only repeats the last close
  // looks perfect here. The skill and the return-space charts are where it has to show more.
  const priceNote = h(
    'p',
    { class: 'muted', id: 'price-note' },
    `This price chart looks good for any model: the next close is close to the last one, so R² of prices is dominated by persistence ` +
      `(model R² ${num(ev?.test_metrics.r2)}, persistence R² ${num(ev?.baselines.persistence.r2)}). ` +
      `Whether the model knows more than the last close shows in its skill (${num(ev?.test_metrics.skill, 3)}; above 0 beats persistence) ` +
      'and in return space below.',
  );
  root.append(
    section('Test set: predicted against actual price (next day)', priceNote, predBox),
    section('Return space: predicted against actual next-day log return', scatterBox),
    section('Residuals: actual − predicted next-day log return', residualBox),
  );
  try {
    const predictions = await api.predictions(name);
    if (predictions.records.length) {
      renderChart(predBox, predictionsOption(predictions.records));
      renderChart(scatterBox, returnScatterOption(predictions.records));
      renderChart(residualBox, residualsOption(predictions.records));
    } else for (const box of [predBox, scatterBox, residualBox]) box.replaceWith(message('No test predictions.'));
  } catch (err) {
    for (const box of [predBox, scatterBox, residualBox]) box.replaceWith(message((err as Error).message));
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
