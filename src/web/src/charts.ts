/**
 * ECharts, bundled (tree-shaken to the charts used). Every chart is registered by its container id so the
 * browser tests can read what each chart actually holds (series and point counts), not just that a canvas exists.
 */
import { BarChart, CandlestickChart, LineChart, ScatterChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([
  LineChart,
  BarChart,
  CandlestickChart,
  ScatterChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  DataZoomComponent,
  TitleComponent,
  MarkLineComponent,
  CanvasRenderer,
]);

export type ChartOption = echarts.EChartsCoreOption;

const live = new Map<string, echarts.ECharts>();

export interface ChartSummary {
  id: string;
  series: Array<{ name: string; type: string; points: number }>;
}

function countPoints(data: unknown): number {
  if (!Array.isArray(data)) return 0;
  return data.filter((d) => d !== '-' && d !== null && d !== undefined && !(Array.isArray(d) && d.every((x) => x === '-' || x === null))).length;
}

function summarize(): ChartSummary[] {
  return [...live.entries()]
    .filter(([, chart]) => !chart.isDisposed())
    .map(([id, chart]) => {
      const option = chart.getOption() as { series?: Array<{ name?: string; type?: string; data?: unknown }> };
      return { id, series: (option.series ?? []).map((s) => ({ name: String(s.name ?? ''), type: String(s.type ?? ''), points: countPoints(s.data) })) };
    });
}

declare global {
  interface Window {
    /** For tests and debugging: what every live chart holds. */
    klinecastCharts: () => ChartSummary[];
  }
}
window.klinecastCharts = summarize;

/** Renders `option` into a new chart in `container` (which must have an id), replacing any chart it had. */
export function renderChart(container: HTMLElement, option: ChartOption): echarts.ECharts {
  live.get(container.id)?.dispose();
  const chart = echarts.init(container, undefined, { renderer: 'canvas' });
  chart.setOption({ animation: false, ...option });
  live.set(container.id, chart);
  return chart;
}

/** Disposes every chart (called when the page changes). */
export function disposeCharts(): void {
  for (const chart of live.values()) chart.dispose();
  live.clear();
}

window.addEventListener('resize', () => {
  for (const chart of live.values()) chart.resize();
});

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
