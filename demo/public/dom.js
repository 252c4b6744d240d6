// Small DOM helpers for the dashboard: elements are built with textContent, never
// innerHTML, because record names and values come from the nodes.

/** Creates an element: h('li', { class: 'x', 'data-testid': 'y' }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Creates an SVG element. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
}

/** Sets an attribute only when it changes (keeps the DOM quiet for tests and screen readers). */
export function setAttr(el, name, value) {
  if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value));
}

/** Sets text only when it changes. */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** "12:03:04" for a millisecond timestamp. */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** "now", "12 s", "4 min", "2 h" for a duration in milliseconds. */
export function duration(ms) {
  if (ms < 1500) return 'now';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

const TOKEN_KEY = 'crmsync-demo-token';

/**
 * The demo token, which the demo prints in the URL fragment (`#token=…`, never sent to
 * a server). Taken from the fragment once, kept for this tab in sessionStorage and
 * removed from the address bar, so it is not shared along with a copied link.
 */
export function demoToken() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** An API error: the HTTP status and the server's error code. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** JSON fetch that throws an ApiError with the server's message; requests that change state carry the demo token. */
export async function api(method, path, body) {
  const headers = body === undefined ? {} : { 'content-type': 'application/json' };
  const token = method === 'GET' ? null : demoToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(json?.error?.message ?? `HTTP ${res.status}`, res.status, json?.error?.code ?? null);
  return json;
}

/** Calls `task` now and again `ms` after each run finishes (never two at once). */
export function poll(task, ms) {
  const run = async () => {
    try {
      await task();
    } catch (err) {
      console.warn(err);
    } finally {
      setTimeout(run, ms);
    }
  };
  void run();
}
