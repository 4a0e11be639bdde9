// Jobs list: newest first, status filter, cursor paging with next_after, refreshed every few seconds.

import { api } from './api.js';
import { h, replace, badge, progressBar, fmtTime, fmt4 } from './dom.js';

const STATUSES = ['', 'queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled'];

const link = params => '#/jobs' + (params.toString() ? `?${params}` : '');

export function renderJobs(view, params) {
  const status = params.get('status') ?? '';
  const after = params.get('after') ?? '';
  let timer = 0;
  let stopped = false;

  const filter = h('select', {
    id: 'status-filter',
    onchange: () => { location.hash = link(new URLSearchParams(filter.value ? { status: filter.value } : {})); },
  }, STATUSES.map(s => h('option', { value: s, selected: s === status }, s || 'all')));
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const error = h('p', { class: 'error', role: 'alert' });
  replace(view,
    h('div', { class: 'toolbar' }, h('h1', {}, 'Jobs'), h('label', {}, 'Status ', filter)),
    error,
    h('table', { class: 'jobs', id: 'jobs' },
      h('thead', {}, h('tr', {}, ['Job', 'Status', 'Progress', 'Base model', 'Method', 'Learning', 'Forgetting', 'Created'].map(c => h('th', {}, c)))),
      body),
    pager);

  async function load() {
    if (stopped) return;
    const query = new URLSearchParams({ limit: '20' });
    if (status) query.set('status', status);
    if (after) query.set('after', after);
    try {
      const page = await api(`/api/v1/jobs?${query}`);
      if (stopped) return;
      error.textContent = '';
      replace(body, page.data.length === 0
        ? h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No jobs.'))
        : page.data.map(row));
      const next = new URLSearchParams(status ? { status } : {});
      if (page.next_after) next.set('after', page.next_after);
      replace(pager,
        after ? h('button', { onclick: () => history.back() }, '← Previous') : null,
        after ? h('a', { href: link(new URLSearchParams(status ? { status } : {})) }, 'First page') : null,
        page.has_more ? h('a', { href: link(next), id: 'next-page' }, 'Next →') : null);
    } catch (e) {
      error.textContent = `Could not load jobs: ${e.message}`;
    }
    if (!stopped) timer = setTimeout(load, 5000);
  }

  load();
  return { stop() { stopped = true; clearTimeout(timer); } };
}

function row(job) {
  const p = job.progress;
  return h('tr', { 'data-job-id': job.id },
    h('td', {}, h('a', { href: `#/jobs/${job.id}`, class: 'job-link' }, job.name || job.id.slice(0, 8)),
      h('div', { class: 'muted small' }, job.id)),
    h('td', {}, badge(job.status)),
    h('td', { class: 'progress-cell' }, progressBar(p.step, p.total_steps),
      h('span', { class: 'small' }, p.total_steps ? `${p.step} / ${p.total_steps}` : job.status === 'queued' && p.queue_position != null ? `#${p.queue_position + 1} in queue` : '–')),
    h('td', {}, job.spec.base_model),
    h('td', { 'data-testid': 'method' }, job.spec.method === 'lora' && job.spec.lora ? `LoRA r=${job.spec.lora.rank}` : job.spec.method === 'full' ? 'full' : job.spec.method),
    headline(job.headline, 'learning'),
    headline(job.headline, 'forgetting'),
    h('td', { class: 'small' }, fmtTime(job.created_at)));
}

/** The job's learning or forgetting at its latest evaluation (the loss when its sets measure it), '–' until evaluated. */
function headline(numbers, side) {
  const value = numbers?.[side] ?? null;
  const metric = numbers?.[`${side}_metric`];
  return h('td', { class: 'num', 'data-testid': side, title: value === null ? 'not evaluated after step 0 yet' : `${metric}, step ${numbers.step}` },
    fmt4(value), value === null || !metric ? null : h('span', { class: 'muted small' }, ` ${metric}`));
}
