// Entry point: API key, who-am-I, and hash routing (#/jobs, #/jobs/<id>, #/sweeps, #/sweeps/<id>, #/compare?jobs=…).

import { api, getKey, setKey, ApiError } from './api.js';
import { h, replace } from './dom.js';
import { renderJobs } from './jobs.js';
import { renderJob } from './job.js';
import { renderSweeps } from './sweeps.js';
import { renderCompare } from './compare.js';

const view = document.getElementById('view');
const who = document.getElementById('who');
let current = null;
let signingIn = false;

function keyForm(message) {
  const input = h('input', { id: 'api-key', type: 'password', placeholder: 'lsk_…', autocomplete: 'off', required: true, size: 40 });
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = h('form', {
    class: 'card key-form',
    onsubmit: async event => {
      event.preventDefault();
      setKey(input.value.trim());
      signingIn = true;
      try {
        await api('/api/v1/me');
        signingIn = false;
        if (!/^#\/(jobs|sweeps|compare)/.test(location.hash)) location.hash = '#/jobs';
        await start();
      } catch (e) {
        signingIn = false;
        setKey('');
        error.textContent = e instanceof ApiError && e.status === 401 ? 'That key was not accepted.' : `Could not reach the API: ${e.message}`;
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Paste an API key. It stays in this browser (localStorage) and is sent as a bearer token.'),
  h('label', { for: 'api-key' }, 'API key'), ' ', input, ' ',
  h('button', { type: 'submit', id: 'use-key' }, 'Use key'),
  error);
  replace(who);
  replace(view, form);
  input.focus();
}

async function showWho() {
  const me = await api('/api/v1/me');
  replace(who,
    h('span', { 'data-testid': 'tenant' }, me.tenant_name), me.is_admin ? h('span', { class: 'tag' }, 'admin') : null,
    h('span', { class: 'muted', title: me.key_id }, ` key ${me.key_id.slice(0, 8)}`),
    h('button', { class: 'link', onclick: () => { setKey(''); keyForm(); } }, 'Sign out'));
}

function route() {
  current?.stop();
  current = null;
  if (!getKey()) return keyForm();
  const hash = location.hash || '#/jobs';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query ?? '');
  const job = path.match(/^\/jobs\/([0-9a-f-]{36})$/i);
  const sweep = path.match(/^\/sweeps\/([0-9a-f-]{36})$/i);
  current = job ? renderJob(view, job[1])
    : sweep ? renderCompare(view, { sweepId: sweep[1] }, params)
    : path === '/sweeps' ? renderSweeps(view, params)
    : path === '/compare' ? renderCompare(view, { jobIds: (params.get('jobs') ?? '').split(',').filter(Boolean) }, params)
    : renderJobs(view, params);
}

async function start() {
  try {
    await showWho();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    replace(who, h('span', { class: 'error' }, `API unreachable: ${e.message}`));
  }
  route();
}

window.addEventListener('hashchange', route);
window.addEventListener('lora:unauthorized', () => {
  if (signingIn) return; // the sign-in form reports it itself
  current?.stop();
  current = null;
  setKey('');
  keyForm('The API key was rejected; enter another.');
});

if (getKey()) start(); else keyForm();
