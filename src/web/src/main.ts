/** The dashboard: a hash router over its pages. Each page renders into #app from the API. */
import './style.css';
import { ApiError } from './api.js';
import { disposeCharts } from './charts.js';
import { message } from './dom.js';
import { backtestPage, backtestsPage } from './pages/backtests.js';
import { comparePage } from './pages/compare.js';
import { runPage } from './pages/run.js';
import { runsPage } from './pages/runs.js';
import { simulationPage } from './pages/simulation.js';
import { stockPage } from './pages/stock.js';
import { trainPage } from './pages/train.js';

const app = document.getElementById('app') as HTMLElement;
let generation = 0;

async function route(): Promise<void> {
  const current = ++generation;
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  disposeCharts();
  const root = document.createElement('div');
  root.className = 'page';
  app.replaceChildren(root);
  document.body.dataset.page = parts[0] ?? 'runs';
  document.body.dataset.ready = 'false';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a[data-nav]'))
    link.classList.toggle('active', link.dataset.nav === (parts[0] === 'backtest' ? 'backtests' : (parts[0] ?? 'runs')));
  try {
    switch (parts[0]) {
      case undefined:
      case 'runs':
        await runsPage(root);
        break;
      case 'run':
        await runPage(root, parts[1] ?? '');
        break;
      case 'backtests':
        await backtestsPage(root);
        break;
      case 'backtest':
        await backtestPage(root, parts[1] ?? '');
        break;
      case 'simulation':
        if (parts[1] !== 'runs' && parts[1] !== 'backtests') throw new Error(`No page ${location.hash}`);
        await simulationPage(root, parts[1], parts[2] ?? '', parts[3] ?? '');
        break;
      case 'stock':
        await stockPage(root, parts[1] ?? null);
        break;
      case 'compare':
        await comparePage(root, (params.get('runs') ?? '').split(',').filter(Boolean).map(decodeURIComponent));
        break;
      case 'train':
        await trainPage(root, () => current === generation);
        break;
      default:
        root.append(message(`No page ${location.hash}`, 'error'));
    }
  } catch (err) {
    if (current !== generation) return;
    root.append(message(err instanceof ApiError ? `${err.code}: ${err.message}` : `Error: ${(err as Error).message}`, 'error'));
  }
  // Tests wait on this: the page has fetched its data and drawn its charts.
  if (current === generation) document.body.dataset.ready = 'true';
}

window.addEventListener('hashchange', () => void route());
void route();
