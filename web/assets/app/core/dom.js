// Building the page. Every text that comes from the ledger (names, notes, reasons) goes in as
// text, never as markup: `h` only ever sets textContent and attributes, and no module uses
// innerHTML. An organisation named `<img src=x onerror=alert(1)>` shows exactly those characters.

/**
 * h('tag.class#id', {attr: value, on: {click: fn}}, ...children)
 * Children: strings and numbers become text nodes; null/false are skipped; arrays are flattened.
 */
export function h(spec, attrs, ...children) {
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  const [, tag = 'div', rest = ''] = /^([a-z0-9-]*)(.*)$/i.exec(spec);
  const el = document.createElement(tag || 'div');
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'required' || k === 'multiple') {
      el[k] = Boolean(v);
    } else if (k === 'class') {
      el.className = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the content of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A table: columns [{title, get: row => node|text, class?}], rows. `empty` shown without rows.
 */
export function table(columns, rows, { empty = '暂无记录', caption } = {}) {
  return h('div.table-wrap',
    h('table',
      caption ? h('caption', caption) : null,
      h('thead', h('tr', columns.map((c) => h('th', { scope: 'col', class: c.class }, c.title)))),
      h('tbody', rows.length
        ? rows.map((r) => h('tr', columns.map((c) => h('td', { class: c.class }, c.get(r)))))
        : h('tr', h('td.empty', { colspan: columns.length }, empty)))));
}

/** A labelled form field. `control` is an input/select/textarea element; `hint` optional. */
export function field(labelText, control, hint) {
  const id = control.id || (control.id = 'f' + Math.random().toString(36).slice(2, 9));
  return h('div.field',
    h('label', { for: id }, labelText),
    hint ? h('div.hint', hint) : null,
    control,
    h('div.field-error', { role: 'alert', 'aria-live': 'polite' }));
}

/** Marks the field holding `control` as wrong with `message` (GOV.UK-style: say what and where). */
export function fieldError(control, message) {
  const f = control.closest('.field');
  if (!f) return;
  f.classList.toggle('has-error', Boolean(message));
  f.querySelector('.field-error').textContent = message || '';
  if (message) control.focus();
}

/** Clears every field error in `form`, before its fields are checked again. */
export function clearFieldErrors(form) {
  form.querySelectorAll('.field.has-error').forEach((f) => {
    f.classList.remove('has-error');
    f.querySelector('.field-error').textContent = '';
  });
}

/** A message box: kind is 'ok', 'error' or 'info'. */
export function notice(kind, ...children) {
  return h(`div.notice.notice-${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/** A select with options [[value, label]…]. */
export function select(options, attrs = {}) {
  return h('select', attrs, options.map(([v, l]) => h('option', { value: v, selected: attrs.value === v }, l)));
}

/** A link to an in-console route (hash routing). */
export function link(route, ...children) {
  return h('a', { href: '#' + route }, ...children);
}

/** A status badge. */
export function badge(text, tone = 'neutral') {
  return h(`span.badge.badge-${tone}`, text);
}

/** Offers `blob` for download as `filename`. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A key/value list. pairs: [[label, value]…] */
export function dl(pairs) {
  return h('dl.kv', pairs.filter(Boolean).map(([k, v]) => [h('dt', k), h('dd', v ?? '—')]));
}

/**
 * Lets a table made by `table()` show each row as a card at phone width (`.table-wrap.stack` in
 * console.css): every cell is labelled with its column's title. Returns the same element.
 */
export function stackOnPhone(wrap) {
  wrap.classList.add('stack');
  const titles = [...wrap.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of wrap.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => {
      if (!titles[i] || td.classList.contains('empty')) return;
      td.dataset.label = titles[i];
      // One box beside the label, however many nodes the cell holds.
      td.replaceChildren(h('div.cell', ...td.childNodes));
    });
  }
  return wrap;
}
