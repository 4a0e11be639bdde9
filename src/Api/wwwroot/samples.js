// A job's sample generations: per evaluated step (a selector, the latest by default) and per set, the prompt, what the
// model wrote and what was expected. Every text goes in as a text node, so a generation is never parsed as HTML.

import { api } from './api.js';
import { h, replace } from './dom.js';

export function samplesView(id) {
  let chosen = null;   // the step the user picked; null follows the latest
  const select = h('select', { id: 'sample-step', 'aria-label': 'Evaluated step', onchange: () => { chosen = Number(select.value); refresh(); } });
  const body = h('div', { id: 'sample-sets' }, h('p', { class: 'muted' }, 'Loading…'));
  const element = h('section', { class: 'card', id: 'samples' },
    h('h2', {}, 'Samples'),
    h('p', { class: 'muted small' }, 'The first rows of each exact-match set (the greedy generation) and multiple-choice set ' +
      '(the choice ranked first by acc_norm) at every evaluation. Step 0 is the base model.'),
    h('label', { class: 'small' }, 'Step ', select),
    body);

  async function refresh() {
    const response = await api(`/api/v1/jobs/${id}/samples${chosen === null ? '' : `?step=${chosen}`}`);
    replace(select, response.steps.map(step =>
      h('option', { value: step, selected: step === response.step }, step === 0 ? 'Step 0 (base model)' : `Step ${step}`)));
    select.disabled = response.steps.length === 0;
    if (response.sets.length === 0) {
      replace(body, h('p', { class: 'muted' }, response.steps.length === 0
        ? 'None yet. Exact-match and multiple-choice sets record samples at each evaluation; loss-only sets record none.'
        : 'No samples at this step.'));
      return;
    }
    replace(body, response.sets.map(set => h('div', { class: 'sample-set', 'data-set': set.dataset_id, 'data-role': set.role },
      h('h3', {}, set.name, ' ', h('span', { class: 'tag' }, set.role)),
      h('table', { class: 'samples' },
        h('thead', {}, h('tr', {}, ['Prompt', 'Output', 'Expected', ''].map(c => h('th', {}, c)))),
        h('tbody', {}, set.samples.map(s => h('tr', { 'data-index': s.index },
          h('td', {}, h('pre', { 'data-field': 'prompt' }, s.prompt)),
          h('td', {}, h('pre', { 'data-field': 'output' }, s.output)),
          h('td', {}, h('pre', { 'data-field': 'expected' }, s.expected)),
          h('td', { class: s.correct ? 'good' : 'bad', 'data-correct': String(s.correct) }, s.correct ? 'right' : 'wrong'))))))));
  }

  return { element, refresh };
}
