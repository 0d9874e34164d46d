// Small pieces every page uses: running a signed action with feedback, loading states, and
// the page heading.

import { h, mount, notice } from './dom.js';
import { ProblemError } from './api.js';

/**
 * Runs `fn` (which usually signs and submits an event) while `button` is disabled, then shows
 * the outcome in `out`: `success(result)` on success, the problem's Chinese text and code on a
 * refusal. Returns the result, or undefined after a refusal.
 */
export async function act(button, out, fn, success) {
  if (button) button.disabled = true;
  mount(out, notice('info', '正在签名并提交……'));
  try {
    const result = await fn();
    mount(out, notice('ok', success ? success(result) : '已记入账本'));
    return result;
  } catch (e) {
    mount(out, errorNotice(e));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A refusal as a notice: the problem's Chinese meaning and code, and the service's detail. */
export function errorNotice(e) {
  if (e instanceof ProblemError) {
    return notice('error', h('strong', e.message), e.detail ? h('div.detail', e.detail) : null);
  }
  return notice('error', h('strong', e.message || String(e)));
}

/** Renders a page section while `load()` runs, then `render(data)`; errors shown in place. */
export async function loading(el, load, render) {
  mount(el, h('p.muted', '正在加载……'));
  try {
    const data = await load();
    mount(el, render(data));
  } catch (e) {
    mount(el, errorNotice(e));
  }
}

/** The page's heading and optional lead paragraph. */
export function heading(title, lead) {
  document.title = `${title} · 危险废物转移联单账本`;
  return [h('h1', title), lead ? h('p.lead', lead) : null];
}

/** A link to an entry's inclusion proof (public JSON). */
export function proofHref(seq) {
  return `/v1/proofs/inclusion?seq=${encodeURIComponent(seq)}`;
}
