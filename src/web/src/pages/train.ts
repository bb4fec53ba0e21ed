/** Start training: a form that posts a job (with the API key) and follows its progress live. */
import { ApiError, api, saveApiKey, savedApiKey, type TrainingJob } from '../api.js';
import { renderChart } from '../charts.js';
import { badge, h, message, num } from '../dom.js';
import { lossChartOption } from './run.js';

const POLL_MS = 1000;
const FINAL = new Set(['completed', 'failed', 'cancelled']);

function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

/** The form's fields: an API field (the CLI flag in snake_case), its element id and label; values come from the server. */
const FORM_FIELDS: Array<{ field: string; id: string; label: string }> = [
  { field: 'epochs', id: 'train-epochs', label: 'Epochs' },
  { field: 'batch_size', id: 'train-batch', label: 'Batch size' },
  { field: 'lr', id: 'train-lr', label: 'Learning rate' },
  { field: 'hidden_size', id: 'train-hidden', label: 'Hidden size' },
  { field: 'num_layers', id: 'train-layers', label: 'Layers' },
  { field: 'dropout', id: 'train-dropout', label: 'Dropout' },
  { field: 'seq_length', id: 'train-seq', label: 'Window (days)' },
  { field: 'horizon', id: 'train-horizon', label: 'Horizon (days)' },
  { field: 'patience', id: 'train-patience', label: 'Early-stopping patience' },
];

export async function trainPage(root: HTMLElement, isCurrent: () => boolean): Promise<void> {
  // The defaults are the CLI's, served by the API from the one flag table: the form never keeps its own.
  const [{ items: stocks }, { fields }] = await Promise.all([api.stocks(), api.trainingDefaults()]);
  const byField = new Map(fields.map((f) => [f.field, f]));
  const symbol = h(
    'select',
    { name: 'symbol', id: 'train-symbol', required: true },
    ...stocks.map((s) => h('option', { value: s.symbol }, `${s.symbol} ${s.name}`)),
  );
  const scope = h(
    'select',
    { name: 'scope', id: 'train-scope' },
    h('option', { value: 'one' }, 'one stock'),
    h('option', { value: 'all' }, 'all stocks: one universal model'),
  );
  const modelDefault = String(byField.get('model_type')?.default ?? 'lstm');
  const model = h(
    'select',
    { name: 'model_type', id: 'train-model' },
    ...['lstm', 'gru', 'transformer'].map((m) => h('option', { value: m, ...(m === modelDefault ? { selected: true } : {}) }, m)),
  );
  const inputs = FORM_FIELDS.map((f) => {
    const spec = byField.get(f.field);
    const input = h('input', {
      name: f.field,
      id: f.id,
      type: 'number',
      step: spec?.kind === 'int' ? 1 : 'any',
      value: spec?.default === null || spec?.default === undefined ? '' : String(spec.default),
    });
    return { ...f, input, hint: spec ? `${spec.flag}: ${spec.help}` : undefined };
  });
  const runName = h('input', {
    name: 'run_name',
    id: 'train-run-name',
    type: 'text',
    placeholder: 'default: {symbol}_{model}_{time}',
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}',
  });
  const key = h('input', { name: 'api_key', id: 'train-key', type: 'password', value: savedApiKey(), autocomplete: 'off' });
  const submit = h('button', { type: 'submit', id: 'train-submit' }, 'Start training');
  const status = h('div', { id: 'train-status' });
  const form = h(
    'form',
    { id: 'train-form', class: 'card form' },
    field('Train on', scope),
    field('Stock', symbol),
    field('Model', model),
    ...inputs.map((f) => field(f.label, f.input, f.hint)),
    field('Run name', runName, 'optional'),
    field('API key', key, 'KLINECAST_API_KEY of the server; kept in this browser only'),
    submit,
  );
  scope.addEventListener('change', () => {
    symbol.disabled = scope.value === 'all';
  });
  root.append(h('h1', {}, 'Start training'), stocks.length ? form : message('The database has no stocks: import data first.', 'error'), status);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saveApiKey(key.value);
    const values = Object.fromEntries(inputs.filter((f) => f.input.value !== '').map((f) => [f.field, Number(f.input.value)]));
    const body = {
      ...(scope.value === 'all' ? { symbols: 'all' } : { symbol: symbol.value }),
      model_type: model.value,
      ...(runName.value ? { run_name: runName.value } : {}),
      ...values,
    };
    submit.disabled = true;
    status.replaceChildren(message('Submitting…'));
    api.startTraining(body).then(
      (job) => follow(job),
      (err) => {
        submit.disabled = false;
        status.replaceChildren(message(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err), 'error'));
      },
    );
  });

  function follow(first: TrainingJob): void {
    const bar = h('progress', { id: 'train-progress', max: 1, value: 0 });
    const line = h('p', { id: 'train-line' });
    const chartBox = h('div', { id: 'chart-train-loss', class: 'chart' });
    const cancel = h('button', { id: 'train-cancel', type: 'button' }, 'Cancel');
    const head = h('h2', {});
    status.replaceChildren(h('section', { class: 'card', id: 'train-job', 'data-job': first.id }, head, bar, line, cancel, chartBox));
    cancel.addEventListener('click', () => {
      api.cancelJob(first.id).catch((err) => line.append(` (cancel failed: ${(err as Error).message})`));
    });
    const show = async (job: TrainingJob) => {
      head.replaceChildren(`Job ${job.id} `, badge(job.state));
      head.dataset.state = job.state;
      const p = job.progress;
      if (p) {
        bar.max = p.epochs;
        bar.value = p.epoch;
      }
      line.replaceChildren(
        p ? `epoch ${p.epoch}/${p.epochs} · train loss ${num(p.train_loss)} · val loss ${num(p.val_loss)}` : job.state === 'queued' ? 'queued…' : '',
        job.run_name ? h('span', {}, ' · run ', h('a', { href: `#/run/${encodeURIComponent(job.run_name)}` }, job.run_name)) : '',
        job.error ? h('span', { class: 'message-error' }, ` · ${job.error}`) : '',
      );
      if (job.run_name) {
        const { history } = await api.metrics(job.run_name).catch(() => ({ history: [] }));
        if (history.length) renderChart(chartBox, lossChartOption(history));
      }
      if (FINAL.has(job.state)) {
        cancel.remove();
        submit.disabled = false;
      }
    };
    const poll = async (job: TrainingJob) => {
      if (!isCurrent()) return;
      await show(job);
      if (FINAL.has(job.state)) return;
      setTimeout(() => api.job(job.id).then(poll, (err) => line.append(` (status failed: ${(err as Error).message})`)), POLL_MS);
    };
    void poll(first);
  }
}
