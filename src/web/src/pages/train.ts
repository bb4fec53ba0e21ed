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

export async function trainPage(root: HTMLElement, isCurrent: () => boolean): Promise<void> {
  const { items: stocks } = await api.stocks();
  const symbol = h(
    'select',
    { name: 'symbol', id: 'train-symbol', required: true },
    ...stocks.map((s) => h('option', { value: s.symbol }, `${s.symbol} ${s.name}`)),
  );
  const model = h('select', { name: 'model_type', id: 'train-model' }, ...['lstm', 'gru', 'transformer'].map((m) => h('option', { value: m }, m)));
  const epochs = h('input', { name: 'epochs', id: 'train-epochs', type: 'number', min: 1, max: 1000, value: 20 });
  const batch = h('input', { name: 'batch_size', id: 'train-batch', type: 'number', min: 1, max: 4096, value: 32 });
  const lr = h('input', { name: 'learning_rate', id: 'train-lr', type: 'number', min: 0, step: 'any', value: 0.001 });
  const hidden = h('input', { name: 'hidden_size', id: 'train-hidden', type: 'number', min: 1, max: 1024, value: 64 });
  const layers = h('input', { name: 'num_layers', id: 'train-layers', type: 'number', min: 1, max: 8, value: 2 });
  const seqLength = h('input', { name: 'seq_length', id: 'train-seq', type: 'number', min: 2, max: 500, value: 60 });
  const horizon = h('input', { name: 'horizon', id: 'train-horizon', type: 'number', min: 1, max: 60, value: 5 });
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
    field('Stock', symbol),
    field('Model', model),
    field('Epochs', epochs),
    field('Batch size', batch),
    field('Learning rate', lr),
    field('Hidden size', hidden),
    field('Layers', layers),
    field('Window (days)', seqLength),
    field('Horizon (days)', horizon),
    field('Run name', runName, 'optional'),
    field('API key', key, 'KLINECAST_API_KEY of the server; kept in this browser only'),
    submit,
  );
  root.append(h('h1', {}, 'Start training'), stocks.length ? form : message('The database has no stocks: import data first.', 'error'), status);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saveApiKey(key.value);
    const body = {
      symbol: symbol.value,
      model_type: model.value,
      ...(runName.value ? { run_name: runName.value } : {}),
      config: {
        training: { epochs: Number(epochs.value), batchSize: Number(batch.value), learningRate: Number(lr.value) },
        model: { hiddenSize: Number(hidden.value), numLayers: Number(layers.value) },
        dataset: { seqLength: Number(seqLength.value), horizon: Number(horizon.value) },
      },
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
