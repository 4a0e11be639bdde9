// The API client: bearer key from localStorage, JSON in and out, problem details on errors.

const KEY = 'lora.apiKey';

export const getKey = () => localStorage.getItem(KEY) ?? '';
export const setKey = key => (key ? localStorage.setItem(KEY, key) : localStorage.removeItem(KEY));

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function send(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${getKey()}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // credentials: 'omit' keeps the browser from showing its Basic-auth prompt on a 401.
  const response = await fetch(path, {
    method, headers, credentials: 'omit', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    if (response.status === 401) window.dispatchEvent(new CustomEvent('lora:unauthorized'));
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function api(path, options) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

/** Downloads need the bearer header, so fetch the file as a blob and hand it to the browser to save. */
export async function download(path, fileName) {
  const blob = await (await send(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
