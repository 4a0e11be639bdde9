// Compare page: a sweep (#/sweeps/<id>) or any set of jobs (#/compare?jobs=a,b,c) on the learning/forgetting plane,
// with the Pareto front, the best job under an optional forgetting limit, and a metric selector when the sets share
// several metrics. Refreshed while any job is unfinished.

import { api, ApiError } from './api.js';
import { h, replace, badge, terminal, fmt4 } from './dom.js';
import { planeChart, methodLabel } from './plane.js';

const pollMs = () => Math.max(200, Number(new URLSearchParams(location.search).get('poll')) || 5000);

export function renderCompare(view, { sweepId, jobIds }, params) {
  const metric = params.get('metric') ?? '';
  const maxForgetting = params.get('max_forgetting') ?? '';
  let timer = 0;
  let stopped = false;

  const root = h('div', { class: 'compare', 'data-sweep-id': sweepId ?? null });
  const head = h('div', { class: 'toolbar' });
  const controls = h('div', { class: 'toolbar controls' });
  const chartBox = h('section', { class: 'card', id: 'plane' });
  const tableBox = h('section', { class: 'card', id: 'plane-jobs' });
  const error = h('p', { class: 'error', role: 'alert' });
  replace(view, replace(root,
    h('p', {}, h('a', { href: sweepId ? '#/sweeps' : '#/jobs' }, sweepId ? '← All sweeps' : '← All jobs')),
    head, error, controls, chartBox, tableBox));

  const here = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) if (v) next.set(k, v); else next.delete(k);
    return (sweepId ? `#/sweeps/${sweepId}` : '#/compare') + (next.toString() ? `?${next}` : '');
  };

  function url() {
    const query = new URLSearchParams();
    if (metric) query.set('metric', metric);
    if (maxForgetting) query.set('max_forgetting', maxForgetting);
    if (sweepId) return `/api/v1/sweeps/${sweepId}${query.toString() ? `?${query}` : ''}`;
    query.set('job_ids', jobIds.join(','));
    return `/api/v1/compare?${query}`;
  }

  function renderControls(plane) {
    const shared = plane.metrics.learning.filter(m => plane.metrics.forgetting.includes(m));
    const select = shared.length > 1 ? h('select', {
      id: 'metric', onchange: e => { location.hash = here({ metric: e.target.value }); },
    }, shared.map(m => h('option', { value: m, selected: m === plane.learning_metric && m === plane.forgetting_metric }, m))) : null;
    const limit = h('input', { id: 'max-forgetting', type: 'number', step: 'any', placeholder: 'none', value: maxForgetting, size: 8 });
    replace(controls,
      select ? h('label', {}, 'Metric ', select) : h('span', { class: 'muted small' },
        `learning: ${plane.learning_metric ?? '–'} · forgetting: ${plane.forgetting_metric ?? '–'}`),
      h('form', { onsubmit: e => { e.preventDefault(); location.hash = here({ max_forgetting: limit.value.trim() }); } },
        h('label', {}, 'Forgetting limit ', limit), ' ', h('button', { type: 'submit' }, 'Find best')));
  }

  function render(plane) {
    const jobs = plane.children ?? plane.jobs;
    root.dataset.learningMetric = plane.learning_metric ?? '';
    root.dataset.forgettingMetric = plane.forgetting_metric ?? '';
    replace(head,
      h('h1', {}, sweepId ? plane.name : 'Compare jobs'),
      h('span', { class: 'muted' }, plane.base_model ?? ''),
      sweepId ? Object.entries(plane.statuses).map(([status, n]) => h('span', { class: `badge badge-${status}` }, `${n} ${status}`)) : null,
      sweepId && jobs.some(j => !terminal(j.status))
        ? h('button', { class: 'danger', id: 'cancel-sweep', onclick: () => cancel() }, 'Cancel unfinished jobs') : null);
    renderControls(plane);
    const best = jobs.find(j => j.job_id === plane.best);
    replace(chartBox,
      h('h2', {}, 'Learning against forgetting'),
      h('p', { class: 'muted small' }, 'Up is more learning (target sets), left is less forgetting (source sets); step 0, the base model, is the origin. ',
        'The line joins the Pareto front: no other job learns more and forgets less. Faint lines are each job\'s path over its evaluations. Click a point to open its job.'),
      planeChart({ jobs, front: plane.front, best: plane.best, learningMetric: plane.learning_metric, forgettingMetric: plane.forgetting_metric }),
      h('p', { id: 'best', 'data-job-id': plane.best ?? '' }, best
        ? ['Best', plane.max_forgetting !== null ? ` with forgetting ≤ ${plane.max_forgetting}` : '', ': ', h('a', { href: `#/jobs/${best.job_id}` }, best.name ?? best.job_id),
          ` (${methodLabel(best)}, learning ${fmt4(best.learning)}, forgetting ${fmt4(best.forgetting)})`]
        : plane.max_forgetting !== null ? `No job forgets at most ${plane.max_forgetting}.` : ''));
    replace(tableBox,
      h('h2', {}, sweepId ? 'Children' : 'Jobs'),
      h('table', { class: 'plane-jobs' },
        h('thead', {}, h('tr', {}, ['Job', sweepId ? 'Grid' : null, 'Status', 'Method', 'Learning rate', 'Learning', 'Forgetting', 'Front'].filter(Boolean).map(c => h('th', {}, c)))),
        h('tbody', {}, jobs.map(j => h('tr', { 'data-job-id': j.job_id },
          h('td', {}, h('a', { href: `#/jobs/${j.job_id}` }, j.name ?? j.job_id.slice(0, 8))),
          sweepId ? h('td', { class: 'small mono' }, Object.entries(j.coordinates ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')) : null,
          h('td', {}, badge(j.status)),
          h('td', {}, methodLabel(j)),
          h('td', { class: 'num' }, j.learning_rate ?? '–'),
          h('td', { class: 'num', 'data-learning': '' }, fmt4(j.learning)),
          h('td', { class: 'num', 'data-forgetting': '' }, fmt4(j.forgetting)),
          h('td', { 'data-on-front': j.on_front }, j.on_front ? '●' : ''))))));
    return jobs;
  }

  async function cancel() {
    if (!confirm('Cancel every unfinished job of this sweep?')) return;
    try { render(await api(`/api/v1/sweeps/${sweepId}/cancel`, { method: 'POST' })); } catch (e) { error.textContent = `Cancel failed: ${e.message}`; }
  }

  async function load() {
    if (stopped) return;
    let jobs = [];
    try {
      jobs = render(await api(url()));
      error.textContent = '';
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 422)) {
        const errors = Object.entries(e.problem?.errors ?? {}).map(([k, v]) => `${k}: ${v.join(' ')}`);
        error.textContent = e.status === 404 ? 'No such sweep (or it belongs to another tenant).' : [e.problem?.title, ...errors].join(' ');
        return;
      }
      error.textContent = `Update failed, retrying: ${e.message}`;
    }
    root.dataset.polling = jobs.length && jobs.every(j => terminal(j.status)) ? 'stopped' : 'on';
    if (!stopped && root.dataset.polling === 'on') timer = setTimeout(load, pollMs());
  }

  load();
  return { stop() { stopped = true; clearTimeout(timer); } };
}
