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

/** JSON fetch that throws with the API's error message. */
export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json?.error?.message ?? `HTTP ${res.status}`);
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
