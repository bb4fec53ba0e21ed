/**
 * Runs: every run in a sortable, filterable table with status badges; tick runs to compare them. Below it the batches
 * of `klinecast batch` (out/batches/), whose runs are rows of the same table.
 */
import { api, type BatchItem, type Run } from '../api.js';
import { badge, bytes, h, message, num, pct, section, shortTime, table as simpleTable } from '../dom.js';

type Column = { key: string; label: string; value: (r: Run) => number | string | null; cell: (r: Run) => Node | string };

const COLUMNS: Column[] = [
  { key: 'name', label: 'Run', value: (r) => r.name, cell: (r) => h('a', { href: `#/run/${encodeURIComponent(r.name)}` }, r.name) },
  {
    key: 'symbol',
    label: 'Symbol',
    value: (r) => r.symbol,
    cell: (r) => (r.symbol ? h('a', { href: `#/stock/${r.symbol}` }, r.symbol) : r.stocks !== null ? `${r.stocks} stocks` : '–'),
  },
  { key: 'model', label: 'Model', value: (r) => r.model_type, cell: (r) => r.model_type ?? '–' },
  { key: 'status', label: 'Status', value: (r) => r.status, cell: (r) => badge(r.status) },
  { key: 'val', label: 'Best val loss', value: (r) => r.best_val_loss, cell: (r) => num(r.best_val_loss) },
  { key: 'mae', label: 'Test MAE', value: (r) => r.eval_metrics?.mae ?? null, cell: (r) => num(r.eval_metrics?.mae) },
  { key: 'skill', label: 'Skill vs persistence', value: (r) => r.eval_metrics?.skill ?? null, cell: (r) => num(r.eval_metrics?.skill, 3) },
  { key: 'dir', label: 'Direction acc.', value: (r) => r.eval_metrics?.direction_accuracy ?? null, cell: (r) => pct(r.eval_metrics?.direction_accuracy) },
  { key: 'epochs', label: 'Epochs', value: (r) => r.epochs_trained, cell: (r) => num(r.epochs_trained) },
  { key: 'created', label: 'Created', value: (r) => r.created_at, cell: (r) => shortTime(r.created_at) },
  { key: 'size', label: 'Size', value: (r) => r.size_bytes, cell: (r) => bytes(r.size_bytes) },
];

/** The batches section: each batch's counts and when it ran; its runs are in the table above by name. */
function batchesSection(batches: BatchItem[]): HTMLElement | null {
  if (batches.length === 0) return null;
  const el = section(
    'Batches',
    simpleTable(
      ['Batch', 'Model', 'State', 'Completed', 'Failed', 'Skipped', 'Pending', 'Started', 'Seconds'],
      batches.map((b) => [
        b.name,
        b.model_type ?? '–',
        badge(b.finished ? 'finished' : 'in progress'),
        String(b.counts?.completed ?? '–'),
        String(b.counts?.failed ?? '–'),
        String(b.counts?.skipped ?? '–'),
        String(b.counts?.pending ?? '–'),
        shortTime(b.created_at),
        num(b.seconds, 1),
      ]),
      { id: 'batches-table' },
    ),
  );
  el.id = 'batches';
  return el;
}

export async function runsPage(root: HTMLElement): Promise<void> {
  const [{ items }, { items: batches }] = await Promise.all([api.runs(), api.batches().catch(() => ({ items: [] as BatchItem[] }))]);
  if (items.length === 0) {
    root.append(message('No runs yet. Train one with `klinecast train` or on the Start training page.'));
    const batchList = batchesSection(batches);
    if (batchList) root.append(batchList);
    return;
  }
  let sortKey = 'created';
  let descending = true;
  const selected = new Set<string>();
  const filterText = h('input', { type: 'search', placeholder: 'Filter by name or symbol', id: 'runs-filter' });
  const statusSelect = h(
    'select',
    { id: 'runs-status' },
    h('option', { value: '' }, 'all statuses'),
    ...[...new Set(items.map((r) => r.status))].sort().map((s) => h('option', { value: s }, s)),
  );
  const modelSelect = h(
    'select',
    { id: 'runs-model' },
    h('option', { value: '' }, 'all models'),
    ...[...new Set(items.map((r) => r.model_type ?? ''))]
      .filter(Boolean)
      .sort()
      .map((m) => h('option', { value: m }, m)),
  );
  const compareLink = h('a', { class: 'button', id: 'compare-selected', href: '#/compare' }, 'Compare selected');
  const tbody = h('tbody');
  const headRow = h('tr', {}, h('th', {}, ''));
  const table = h('table', { id: 'runs-table', class: 'sortable' }, h('thead', {}, headRow), tbody);

  const updateCompare = () => {
    compareLink.setAttribute('href', `#/compare?runs=${[...selected].map(encodeURIComponent).join(',')}`);
    compareLink.classList.toggle('disabled', selected.size < 2);
  };

  const render = () => {
    const text = filterText.value.trim().toLowerCase();
    const column = COLUMNS.find((c) => c.key === sortKey)!;
    const rows = items
      .filter(
        (r) =>
          (!text || r.name.toLowerCase().includes(text) || (r.symbol ?? '').includes(text)) &&
          (!statusSelect.value || r.status === statusSelect.value) &&
          (!modelSelect.value || r.model_type === modelSelect.value),
      )
      .sort((a, b) => {
        const x = column.value(a);
        const y = column.value(b);
        if (x === null || y === null) return x === null ? (y === null ? 0 : 1) : -1; // missing values last
        const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
    headRow.querySelectorAll('th[data-key]').forEach((th) => {
      const key = (th as HTMLElement).dataset.key;
      th.className = key === sortKey ? (descending ? 'sorted-desc' : 'sorted-asc') : '';
    });
    tbody.replaceChildren(
      ...rows.map((r) => {
        const box = h('input', { type: 'checkbox', 'data-run': r.name, 'aria-label': `select ${r.name}` });
        box.checked = selected.has(r.name);
        box.addEventListener('change', () => {
          if (box.checked) selected.add(r.name);
          else selected.delete(r.name);
          updateCompare();
        });
        const reason = [r.reason, ...r.problems].filter(Boolean).join('; ');
        return h('tr', { 'data-run': r.name, title: reason || null }, h('td', {}, box), ...COLUMNS.map((c) => h('td', { 'data-key': c.key }, c.cell(r))));
      }),
    );
    root.querySelector('#runs-count')!.textContent = `${rows.length} of ${items.length} runs`;
  };

  for (const column of COLUMNS) {
    headRow.append(
      h(
        'th',
        {
          'data-key': column.key,
          onclick: () => {
            descending =
              sortKey === column.key
                ? !descending
                : column.key !== 'name' && column.key !== 'symbol' && column.key !== 'model' && column.key !== 'val' && column.key !== 'mae';
            sortKey = column.key;
            render();
          },
        },
        column.label,
      ),
    );
  }
  filterText.addEventListener('input', render);
  statusSelect.addEventListener('change', render);
  modelSelect.addEventListener('change', render);
  root.append(
    h('h1', {}, 'Runs'),
    h('div', { class: 'toolbar' }, filterText, statusSelect, modelSelect, compareLink, h('span', { id: 'runs-count', class: 'muted' })),
    h('div', { class: 'table-wrap' }, table),
  );
  const batchList = batchesSection(batches);
  if (batchList) root.append(batchList);
  updateCompare();
  render();
}
