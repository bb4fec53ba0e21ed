/** A trading simulation: its figures beside the benchmark, the equity curve against the benchmark, the drawdown, the trades. */
import { api, type Simulation, type SimulationListItem, type SimulationSourceKind } from '../api.js';
import { PALETTE, renderChart } from '../charts.js';
import { h, message, num, pct, section, shortTime, table } from '../dom.js';

export function equityChartOption(sim: Simulation) {
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 80, right: 20, top: 36, bottom: 60 },
    xAxis: { type: 'category', data: sim.equity.map((d) => d.date) },
    yAxis: { type: 'value', name: 'CNY', scale: true },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [
      { name: 'portfolio', type: 'line', data: sim.equity.map((d) => d.equity), color: PALETTE[0], showSymbol: false },
      { name: `benchmark ${sim.summary.benchmark.name}`, type: 'line', data: sim.equity.map((d) => d.benchmark_equity), color: PALETTE[1], showSymbol: false },
    ],
  };
}

export function drawdownChartOption(sim: Simulation) {
  return {
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => pct(v) },
    grid: { left: 80, right: 20, top: 20, bottom: 60 },
    xAxis: { type: 'category', data: sim.equity.map((d) => d.date) },
    yAxis: { type: 'value', name: 'drawdown', axisLabel: { formatter: (v: number) => pct(v) } },
    dataZoom: [{ type: 'inside' }, { type: 'slider' }],
    series: [{ name: 'drawdown', type: 'line', data: sim.equity.map((d) => d.drawdown), color: PALETTE[1], areaStyle: { opacity: 0.3 }, showSymbol: false }],
  };
}

/** The trades shown: the newest ones (a long simulation has thousands; simulation.json and trades.csv hold them all). */
const TRADES_SHOWN = 300;

export async function simulationPage(root: HTMLElement, kind: SimulationSourceKind, name: string, simulation: string): Promise<void> {
  const sim = await api.simulation(kind, name, simulation);
  const s = sim.summary;
  const strategy = Object.entries(sim.settings.strategy)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  root.append(
    h('h1', {}, sim.name),
    h(
      'p',
      { class: 'muted' },
      `${sim.settings.strategy.kind} (${strategy}) on ${sim.source.kind} `,
      h('a', { href: `#/${kind === 'runs' ? 'run' : 'backtest'}/${encodeURIComponent(name)}` }, name),
      ` · ${s.start} … ${s.end}, ${s.trading_days} trade days · deal at the ${sim.settings.deal_price} · cash ${sim.settings.cash} · created ${shortTime(sim.created_at)}`,
    ),
  );
  const r = (label: string, a: string, b: string, c: string) => [label, a, b, c];
  root.append(
    section(
      'Figures',
      table(
        ['', 'with costs', 'without costs', `benchmark ${s.benchmark.name}`],
        [
          r('total return', pct(s.portfolio.total_return), pct(s.portfolio_without_costs.total_return), pct(s.benchmark.total_return)),
          r('annualised return', pct(s.portfolio.annualised_return), pct(s.portfolio_without_costs.annualised_return), pct(s.benchmark.annualised_return)),
          r('max drawdown', pct(s.portfolio.max_drawdown), pct(s.portfolio_without_costs.max_drawdown), pct(s.benchmark.max_drawdown)),
          r('excess return (annualised)', pct(s.excess.annualised), pct(s.excess_without_costs.annualised), '–'),
          r('information ratio', num(s.excess.information_ratio, 3), num(s.excess_without_costs.information_ratio, 3), '–'),
        ],
        { id: 'simulation-summary' },
      ),
      h(
        'p',
        {},
        `Final equity ${num(s.final_equity)}; costs ${num(s.costs.total)} CNY (commission ${num(s.costs.commission)}, stamp duty ${num(s.costs.stamp_duty)}, transfer ${num(s.costs.transfer_fee)}); ` +
          `turnover ${num(s.turnover_daily, 3)} a day; ${s.trades.buys} buys, ${s.trades.sells} sells; rejected orders: ` +
          Object.entries(s.rejected)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
      ),
    ),
  );
  const equityBox = h('div', { id: 'chart-equity', class: 'chart' });
  const drawdownBox = h('div', { id: 'chart-drawdown', class: 'chart' });
  root.append(section('Equity against the benchmark', equityBox), section('Drawdown', drawdownBox));
  renderChart(equityBox, equityChartOption(sim));
  renderChart(drawdownBox, drawdownChartOption(sim));
  const trades = sim.trades.slice(-TRADES_SHOWN).reverse();
  root.append(
    section(
      `Trades (${sim.trades.length}${sim.trades.length > TRADES_SHOWN ? `, the newest ${TRADES_SHOWN} shown` : ''})`,
      table(
        ['date', 'symbol', 'side', 'shares', 'price', 'value', 'cost'],
        trades.map((t) => [t.date, h('a', { href: `#/stock/${t.symbol}` }, t.symbol), t.side, String(t.shares), num(t.price), num(t.value), num(t.cost)]),
        { id: 'trades-table' },
      ),
    ),
    section(
      `Rejected orders (${sim.rejected.length})`,
      sim.rejected.length
        ? table(
            ['date', 'symbol', 'side', 'reason', 'price'],
            sim.rejected
              .slice(-TRADES_SHOWN)
              .reverse()
              .map((x) => [x.date, x.symbol, x.side, x.reason, num(x.price)]),
            { id: 'rejected-table' },
          )
        : message('None.'),
    ),
  );
}

/** The simulations of a run or a backtest, for its page: name, period and headline figures, each linking to its page. */
export async function simulationsSection(kind: SimulationSourceKind, name: string): Promise<HTMLElement | null> {
  let items: SimulationListItem[];
  try {
    items = (await api.simulations(kind, name)).items;
  } catch {
    return null;
  }
  if (items.length === 0) return null;
  return section(
    'Trading simulations',
    table(
      ['simulation', 'strategy', 'period', 'annualised', 'excess', 'IR', 'max drawdown'],
      items.map((i) => [
        i.problem ? `${i.name} (${i.problem})` : h('a', { href: `#/simulation/${kind}/${encodeURIComponent(name)}/${encodeURIComponent(i.name)}` }, i.name),
        i.strategy ?? '–',
        i.start && i.end ? `${i.start} … ${i.end}` : '–',
        pct(i.annualised_return),
        pct(i.excess_annualised),
        num(i.information_ratio, 3),
        pct(i.max_drawdown),
      ]),
      { id: 'simulations-table' },
    ),
  );
}
