// One job: status and progress, live train-loss and eval charts (incremental metric polling), summary,
// sample generations, events, artifacts and cancel. Polling stops once the job is terminal (after one last round).

import { api, download, ApiError } from './api.js';
import { h, replace, append, badge, progressBar, terminal, fmt4, fmtInt, fmtDuration, fmtBytes, fmtTime } from './dom.js';
import { lineChart } from './chart.js';
import { samplesView } from './samples.js';

const ROLES = [
  ['target', 'Learning: target sets', 'What the job should learn. Step 0 is the base model (dashed line).'],
  ['source', 'Forgetting: source sets', 'What the base model knew; a worse value than at step 0 is forgetting.'],
  ['validation', 'Validation', 'Held-out data of the training kind.'],
];
const METRIC_ORDER = ['loss', 'perplexity', 'token_accuracy', 'acc', 'acc_norm', 'exact_match'];

/** How often to poll, in ms: ?poll=<ms> on the page URL overrides the default 2 s. */
const pollMs = () => Math.max(200, Number(new URLSearchParams(location.search).get('poll')) || 2000);

export function renderJob(view, id) {
  let stopped = false;
  let timer = 0;
  let status = null;
  let finalRound = false;      // terminal status seen once; the next round is the last
  let lastStep = null;          // last_step the metrics endpoint reported
  let lastEvent = 0;            // id of the newest event shown
  let datasetNames = {};        // dataset id without dashes → name
  const series = new Map();     // metric name → { steps, values }

  const root = h('div', { class: 'job', 'data-job-id': id, 'data-polling': 'on' });
  const head = h('div', { class: 'job-head' });
  const progress = h('section', { class: 'card' });
  const errorBox = h('section', { class: 'card failure', hidden: true });
  const lossBox = h('div', { id: 'loss-chart' });
  const evalBox = h('div', { id: 'eval-charts' });
  const summaryBox = h('div', { id: 'summary' }, h('p', { class: 'muted' }, 'Loading…'));
  const eventsBody = h('tbody');
  const artifactsBox = h('div', { id: 'artifacts' });
  const samples = samplesView(id);
  const notice = h('p', { class: 'error', role: 'alert' });

  replace(view, append(root, [
    h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')),
    head, notice, progress, errorBox,
    h('section', { class: 'card' }, h('h2', {}, 'Train loss'), lossBox),
    evalBox,
    h('section', { class: 'card' }, h('h2', {}, 'Summary'), summaryBox),
    samples.element,
    h('section', { class: 'card' }, h('h2', {}, 'Artifacts'), artifactsBox),
    h('section', { class: 'card' }, h('h2', {}, 'Events'),
      h('table', { class: 'events', id: 'events' }, h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Level'), h('th', {}, 'Message'))), eventsBody)),
  ]));

  function renderHead(job) {
    root.dataset.status = job.status;
    const cancellable = job.status === 'queued' || job.status === 'running';
    replace(head,
      h('h1', {}, job.name || 'Job'), badge(job.status),
      h('span', { class: 'muted small' }, job.id),
      cancellable ? h('button', { class: 'danger', id: 'cancel', onclick: () => cancel() }, 'Cancel job') : null,
      job.status === 'failed' ? h('button', { id: 'retry', onclick: () => retry() }, 'Retry from last checkpoint') : null);
    const stale = job.holder?.stale === true;
    const p = job.progress;
    replace(progress,
      h('h2', {}, 'Progress'),
      progressBar(p.step, p.total_steps),
      h('p', { class: 'progress-text', 'data-testid': 'progress-text' },
        p.total_steps ? `Step ${fmtInt(p.step)} / ${fmtInt(p.total_steps)}` : job.status === 'queued' ? 'Waiting for a worker' : `Step ${fmtInt(p.step)}`,
        p.queue_position != null ? ` · position ${p.queue_position + 1} in the queue` : ''),
      h('dl', { class: 'facts' },
        fact('Epoch', p.epoch.toFixed(2)),
        fact('Tokens seen', fmtInt(p.tokens_seen)),
        fact('ETA', terminal(job.status) || stale ? '–' : fmtDuration(p.eta_seconds)),
        fact('Base model', job.spec.base_model),
        fact('Method', job.spec.method),
        fact('Worker', stale
          ? h('span', { class: 'error', 'data-testid': 'stale-worker' }, `${job.holder.worker} — not answering; the job moves to another worker`)
          : job.worker_id ?? '–'),
        fact('Attempt', job.attempt),
        fact('Created', fmtTime(job.created_at)),
        fact('Started', fmtTime(job.started_at)),
        fact('Finished', fmtTime(job.finished_at))));
    errorBox.hidden = !job.error;
    if (job.error) replace(errorBox, h('h2', {}, 'Error'), h('p', { 'data-testid': 'job-error' }, h('code', {}, job.error.code), ' ', job.error.message));
  }

  async function cancel() {
    if (!confirm('Cancel this job? A running job stops after its current step.')) return;
    try {
      renderHead(await api(`/api/v1/jobs/${id}/cancel`, { method: 'POST' }));
    } catch (e) {
      notice.textContent = `Cancel failed: ${e.message}`;
    }
  }

  async function retry() {
    try {
      renderHead(await api(`/api/v1/jobs/${id}/retry`, { method: 'POST' }));
      // Polling stopped at the terminal status: start it again.
      if (root.dataset.polling === 'stopped') { finalRound = false; root.dataset.polling = 'on'; tick(); }
    } catch (e) {
      notice.textContent = `Retry failed: ${e.message}`;
    }
  }

  /** Fetches points after the last step seen (one step back, so late evals at that step are not lost) and appends only new ones. */
  async function pollMetrics() {
    const query = lastStep === null ? '' : `?after=${lastStep - 1}`;
    const response = await api(`/api/v1/jobs/${id}/metrics${query}`);
    let added = 0, evalAdded = 0;
    for (const [name, incoming] of Object.entries(response.series)) {
      let current = series.get(name);
      if (!current) series.set(name, current = { steps: [], values: [] });
      incoming.steps.forEach((step, i) => {
        if (current.steps.length && step <= current.steps.at(-1)) return;
        current.steps.push(step);
        current.values.push(incoming.values[i]);
        added++;
        if (name.startsWith('eval/')) evalAdded++;
      });
    }
    if (response.last_step !== null && response.last_step !== undefined) lastStep = Math.max(lastStep ?? -1, response.last_step);
    if (added > 0 || !lossBox.firstChild) drawCharts();
    return evalAdded;
  }

  function datasetLabel(id) {
    return datasetNames[id] ?? id.slice(0, 8);
  }

  function drawCharts() {
    const loss = series.get('train/loss') ?? { steps: [], values: [] };
    replace(lossBox, lineChart({ title: null, series: [{ label: '', ...loss }], dots: loss.steps.length <= 60, width: 1000, height: 260 }));
    const groups = {};
    for (const [name, data] of series) {
      const [kind, role, dataset, metric] = name.split('/');
      if (kind !== 'eval' || !metric) continue;
      ((groups[role] ??= {})[metric] ??= []).push({ label: datasetLabel(dataset), dataset, ...data });
    }
    replace(evalBox, ROLES.filter(([role]) => groups[role]).map(([role, title, hint]) => {
      const metrics = Object.keys(groups[role]).sort((a, b) => METRIC_ORDER.indexOf(a) - METRIC_ORDER.indexOf(b));
      return h('section', { class: 'card', 'data-role': role },
        h('h2', {}, title), h('p', { class: 'muted small' }, hint),
        h('div', { class: 'chart-grid' }, metrics.map(metric => {
          const chart = lineChart({ title: metric, series: groups[role][metric], dots: true, baseline: true, width: 380, height: 200 });
          chart.dataset.metric = `${role}/${metric}`;
          return chart;
        })));
    }));
  }

  async function pollEvents() {
    const events = await api(`/api/v1/jobs/${id}/events?after=${lastEvent}`);
    for (const e of events) {
      lastEvent = Math.max(lastEvent, e.id);
      eventsBody.append(h('tr', { class: `level-${e.level}` },
        h('td', { class: 'small' }, fmtTime(e.created_at)),
        h('td', {}, h('span', { class: `tag level-${e.level}` }, e.level)),
        h('td', {}, e.message, e.data ? h('code', { class: 'data' }, JSON.stringify(e.data)) : null)));
    }
  }

  async function loadSummary() {
    const response = await api(`/api/v1/jobs/${id}/summary`);
    datasetNames = Object.fromEntries(Object.entries(response.dataset_names).map(([k, v]) => [k.replaceAll('-', ''), v]));
    const s = response.summary;
    const totals = (kind, values, hint) => h('div', { class: 'totals', 'data-kind': kind },
      h('h3', {}, kind === 'learning' ? 'Learning' : 'Forgetting'), h('p', { class: 'muted small' }, hint),
      Object.keys(values).length === 0 ? h('p', { class: 'muted' }, 'No evaluations at step 0 and later yet.') :
        h('dl', {}, Object.entries(values).map(([metric, v]) => h('div', {},
          h('dt', {}, metric), h('dd', { 'data-summary': kind, 'data-metric': metric, class: v > 0 === (kind === 'learning') ? 'good' : 'bad' }, fmt4(v))))));
    replace(summaryBox,
      h('div', { class: 'summary-totals' },
        totals('learning', s.learning, 'Mean improvement over target sets (positive = learned).'),
        totals('forgetting', s.forgetting, 'Mean degradation over source sets (positive = forgot).')),
      h('dl', { class: 'facts' },
        fact('Final train loss', fmt4(s.final_train_loss)), fact('Steps', fmtInt(s.steps)), fact('Tokens seen', fmtInt(s.tokens_seen))),
      s.evaluations.length === 0 ? null : h('table', { class: 'evals' },
        h('thead', {}, h('tr', {}, ['Set', 'Role', 'Metric', 'Baseline (step 0)', 'Final', 'Step', 'Change (final − baseline)', ''].map(c => h('th', {}, c)))),
        h('tbody', {}, s.evaluations.map(e => h('tr', { 'data-role': e.role, 'data-metric': e.metric },
          h('td', {}, response.dataset_names[e.dataset] ?? e.dataset), h('td', {}, e.role), h('td', {}, e.metric),
          h('td', { class: 'num' }, fmt4(e.baseline)), h('td', { class: 'num' }, fmt4(e.final)), h('td', { class: 'num' }, e.final_step),
          // The raw signed change, so a loss that fell reads as negative; whether that is better is said beside it.
          h('td', { class: 'num', 'data-change': '' }, signed4(e.final - e.baseline)),
          h('td', { class: verdictClass(e.change), 'data-verdict': verdict(e.change) }, verdict(e.change)))))),
      response.spectral_report_url ? h('p', {}, h('button', { class: 'link', onclick: () => save(response.spectral_report_url, 'spectral.json') }, 'Download the spectral report')) : null);
    drawCharts();
  }

  async function loadArtifacts() {
    const artifacts = await api(`/api/v1/jobs/${id}/artifacts`);
    replace(artifactsBox, artifacts.length === 0 ? h('p', { class: 'muted' }, terminal(status) ? 'This job produced no files.' : 'None yet; they appear when the job finishes.') :
      h('table', { class: 'artifacts' },
        h('thead', {}, h('tr', {}, ['Kind', 'File', 'Size', 'SHA-256', ''].map(c => h('th', {}, c)))),
        h('tbody', {}, artifacts.map(a => h('tr', {},
          h('td', {}, a.kind), h('td', {}, a.file_name), h('td', { class: 'num' }, fmtBytes(a.bytes)),
          h('td', { class: 'small mono', title: a.sha256 }, a.sha256.slice(0, 12) + '…'),
          h('td', {}, h('button', { onclick: () => save(a.download_url, a.file_name) }, 'Download')))))));
  }

  async function save(url, name) {
    try { await download(url, name); } catch (e) { notice.textContent = `Download failed: ${e.message}`; }
  }

  async function tick() {
    if (stopped) return;
    try {
      const job = await api(`/api/v1/jobs/${id}`);
      if (stopped) return;
      const changed = job.status !== status;
      status = job.status;
      renderHead(job);
      const evalAdded = await pollMetrics();
      await pollEvents();
      if (changed || evalAdded > 0) await Promise.all([loadSummary(), samples.refresh()]);
      if (changed) await loadArtifacts();
      notice.textContent = '';
      if (terminal(job.status)) {
        // One more round after the API's short metrics cache (0.5 s) has expired, so points written just before
        // the job finished are not lost to a cached answer; then stop.
        if (finalRound) {
          root.dataset.polling = 'stopped';
          return;
        }
        finalRound = true;
        timer = setTimeout(tick, Math.max(pollMs(), 750));
        return;
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        replace(view, h('p', { class: 'error' }, 'No such job (or it belongs to another tenant).'), h('a', { href: '#/jobs' }, '← All jobs'));
        return;
      }
      notice.textContent = `Update failed, retrying: ${e.message}`;
    }
    if (!stopped) timer = setTimeout(tick, pollMs());
  }

  tick();
  return { stop() { stopped = true; clearTimeout(timer); root.dataset.polling = 'stopped'; } };
}

function fact(name, value) {
  return h('div', {}, h('dt', {}, name), h('dd', {}, value));
}

function signed4(v) { return v > 0 ? `+${fmt4(v)}` : fmt4(v); }
function verdict(improvement) { return improvement > 0 ? 'better' : improvement < 0 ? 'worse' : 'same'; }
function verdictClass(improvement) { return improvement > 0 ? 'good' : improvement < 0 ? 'bad' : 'muted'; }
