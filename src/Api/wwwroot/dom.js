// Tiny DOM helpers: h('tag', {attrs}, ...children). Text is always set as text, never parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const terminal = status => ['succeeded', 'failed', 'cancelled'].includes(status);

export const badge = status => h('span', { class: `badge badge-${status}`, 'data-testid': 'status' }, status);

export function progressBar(step, total) {
  const pct = total > 0 ? Math.min(100, (100 * step) / total) : 0;
  return h('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': step, 'aria-valuemax': total },
    h('div', { class: 'bar-fill', style: `width:${pct.toFixed(1)}%` }));
}

export const fmtInt = n => Number(n ?? 0).toLocaleString('en-US');
export const fmt4 = v => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(4));

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (hh > 0) return `${hh}h ${String(mm).padStart(2, '0')}m`;
  if (mm > 0) return `${mm}m ${String(ss).padStart(2, '0')}s`;
  return `${ss}s`;
}

export function fmtBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(bytes ?? 0), i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export const fmtTime = iso => (iso ? new Date(iso).toLocaleString() : '–');
