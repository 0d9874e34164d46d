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

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/**
 * What is wrong with a unified social credit code as typed (GB 32100-2015, protocol §2), in
 * Chinese, or '' when it is well formed with the right check character. Checked in the page so
 * that a typo is pointed at the field before anything is signed.
 */
export function orgIdError(text) {
  const s = String(text || '').trim().toUpperCase();
  if (!s) return '请填写统一社会信用代码';
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(s)) {
    return '统一社会信用代码应为 18 位数字或大写字母（不含 I、O、S、V、Z）';
  }
  let sum = 0;
  let weight = 1;
  for (let i = 0; i < 17; i++) {
    sum += USCC_CHARS.indexOf(s[i]) * weight;
    weight = (weight * 3) % 31;
  }
  if (s[17] !== USCC_CHARS[(31 - (sum % 31)) % 31]) return '统一社会信用代码校验位不正确，请核对后重新填写';
  return '';
}

let flashText = null;

/** A message for the next page drawn (after a signed step navigates or refreshes), shown once. */
export function setFlash(text) {
  flashText = text;
}

/** The pending message as an ok notice, or null; clears it. */
export function takeFlash() {
  const text = flashText;
  flashText = null;
  return text ? notice('ok', text) : null;
}
