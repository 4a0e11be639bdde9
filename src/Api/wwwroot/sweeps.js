// Sweeps list: newest first, each with its children by status; a sweep opens on the compare page.

import { api } from './api.js';
import { h, replace, fmtTime } from './dom.js';

const link = params => '#/sweeps' + (params.toString() ? `?${params}` : '');

export function renderSweeps(view, params) {
  const after = params.get('after') ?? '';
  let timer = 0;
  let stopped = false;
  const body = h('tbody');
  const pager = h('div', { class: 'pager' });
  const error = h('p', { class: 'error', role: 'alert' });
  replace(view,
    h('div', { class: 'toolbar' }, h('h1', {}, 'Sweeps'),
      h('span', { class: 'muted small' }, 'Create one with POST /api/v1/sweeps; compare any jobs at #/compare?jobs=id,id,…')),
    error,
    h('table', { class: 'jobs', id: 'sweeps' },
      h('thead', {}, h('tr', {}, ['Sweep', 'Children', 'Status', 'Created'].map(c => h('th', {}, c)))),
      body),
    pager);

  async function load() {
    if (stopped) return;
    const query = new URLSearchParams({ limit: '20' });
    if (after) query.set('after', after);
    try {
      const page = await api(`/api/v1/sweeps?${query}`);
      if (stopped) return;
      error.textContent = '';
      replace(body, page.data.length === 0
        ? h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No sweeps.'))
        : page.data.map(sweep => h('tr', { 'data-sweep-id': sweep.id },
          h('td', {}, h('a', { href: `#/sweeps/${sweep.id}`, class: 'sweep-link' }, sweep.name), h('div', { class: 'muted small' }, sweep.id)),
          h('td', { class: 'num' }, sweep.children),
          h('td', {}, Object.entries(sweep.statuses).map(([status, n]) => h('span', { class: `badge badge-${status}` }, `${n} ${status}`))),
          h('td', { class: 'small' }, fmtTime(sweep.created_at)))));
      const next = new URLSearchParams();
      if (page.next_after) next.set('after', page.next_after);
      replace(pager,
        after ? h('a', { href: link(new URLSearchParams()) }, 'First page') : null,
        page.has_more ? h('a', { href: link(next), id: 'next-page' }, 'Next →') : null);
    } catch (e) {
      error.textContent = `Could not load sweeps: ${e.message}`;
    }
    if (!stopped) timer = setTimeout(load, 5000);
  }

  load();
  return { stop() { stopped = true; clearTimeout(timer); } };
}
