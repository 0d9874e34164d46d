// 联单查询: find one manifest by its 14-digit number, or list manifests by status, party and
// opening date. The service only lists what the token's org may read, so a generator, carrier or
// receiver starts from its own part; a regulator sees all.

import { h, mount, field, fieldError, select, link, notice } from '../../core/dom.js';
import { ProblemError } from '../../core/api.js';
import { heading, errorNotice } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime } from '../../core/time.js';
import { MANIFEST_STATUS, ROLES } from '../../core/i18n.js';
import { orgInfos, stackTable } from './actions.js';
import { statusBadge } from './manifest.js';

const PAGE_SIZE = 50;
const ORG_RE = /^[0-9A-HJ-NPQRTUWXY]{18}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const FILTERS = ['status', 'generator', 'carrier', 'receiver', 'from', 'to'];
const PARTIES = ['generator', 'carrier', 'receiver'];

/** The filter a non-regulator starts from: its own part in its first role that has one. */
function defaultFilter(session) {
  if (session.has('regulator')) return {};
  const role = PARTIES.find((r) => session.has(r));
  return role ? { [role]: session.org } : {};
}

export async function render(ctx) {
  const q = ctx.query;
  const hasFilter = q.all === '1' || FILTERS.some((k) => q[k]);
  const filter = hasFilter ? Object.fromEntries(FILTERS.map((k) => [k, q[k] || ''])) : defaultFilter(ctx.session);

  // By number.
  const number = h('input', {
    type: 'text', inputmode: 'numeric', autocomplete: 'off', maxlength: 14, 'data-testid': 'number',
    placeholder: '例如 20263204000001',
  });
  const findButton = h('button.primary', { type: 'submit' }, '查找');
  const byNumber = h('form.by-number', { novalidate: true, role: 'search' },
    h('div.row', field('联单编号', number, '14 位数字：年份 4 位、地市 4 位、流水号 6 位。'), h('div.field', findButton)));
  byNumber.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(number, '');
    const n = number.value.replace(/\s+/g, '');
    if (!/^\d{14}$/.test(n)) return fieldError(number, '联单编号应为 14 位数字');
    findButton.disabled = true;
    try {
      const m = await ctx.api.get(`/v1/manifests/${n}`);
      ctx.navigate(`/manifests/${m.number}`);
    } catch (e) {
      if (e instanceof ProblemError && e.status === 404) fieldError(number, `没有编号为 ${n} 的联单，或本单位无权查看。（not_found）`);
      else fieldError(number, e.message || String(e));
    } finally {
      findButton.disabled = false;
    }
  });

  // The list's filters.
  const status = select([['', '全部状态'], ...Object.entries(MANIFEST_STATUS)], { value: filter.status || '', 'data-testid': 'status' });
  const orgInput = (k) => h('input', {
    type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 18, value: filter[k] || '',
    'data-testid': `filter-${k}`, placeholder: '统一社会信用代码',
  });
  const parties = Object.fromEntries(PARTIES.map((k) => [k, orgInput(k)]));
  const from = h('input', { type: 'date', value: filter.from || '', 'data-testid': 'from' });
  const to = h('input', { type: 'date', value: filter.to || '', 'data-testid': 'to' });
  const filterButton = h('button.primary', { type: 'submit' }, '查询');
  const clear = h('button', { type: 'button' }, '清除条件');
  const filters = h('form.filters', { novalidate: true, role: 'search', 'aria-label': '按条件查询联单' },
    field('状态', status),
    field(ROLES.generator, parties.generator),
    field(ROLES.carrier, parties.carrier),
    field(ROLES.receiver, parties.receiver),
    field('开具日期 自', from),
    field('至（不含）', to),
    h('div.field.buttons', h('div.actions', filterButton, clear)));
  const scopeNote = ctx.session.has('regulator') ? null
    : h('p.muted', '只显示本单位作为产废、运输或接收一方的联单。');

  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = { status: status.value };
    for (const k of PARTIES) {
      fieldError(parties[k], '');
      const v = parties[k].value.trim().toUpperCase();
      if (v && !ORG_RE.test(v)) return fieldError(parties[k], '统一社会信用代码应为 18 位数字或大写字母（不含 I、O、S、V、Z）');
      next[k] = v;
    }
    fieldError(from, '');
    fieldError(to, '');
    if (from.value && !DATE_RE.test(from.value)) return fieldError(from, '请填写有效日期');
    if (to.value && !DATE_RE.test(to.value)) return fieldError(to, '请填写有效日期');
    if (from.value && to.value && from.value >= to.value) return fieldError(to, '结束日期应晚于开始日期');
    next.from = from.value;
    next.to = to.value;
    const qs = new URLSearchParams(Object.entries(next).filter(([, v]) => v)).toString();
    // An empty filter is written as all=1 so that it does not fall back to the default one.
    ctx.navigate('/manifests?' + (qs || 'all=1'));
  });
  clear.addEventListener('click', () => ctx.navigate('/manifests?all=1'));

  const listEl = h('div', { 'aria-live': 'polite' });
  mount(ctx.main,
    heading('联单查询', '按联单编号查找，或按条件列出联单。'),
    byNumber,
    h('h2', '按条件列出'),
    scopeNote,
    filters,
    listEl);

  const params = {};
  for (const k of FILTERS) if (filter[k]) params[k] = filter[k];
  const cursors = [undefined];
  await page(ctx, listEl, params, cursors);
}

async function page(ctx, el, params, cursors) {
  const after = cursors[cursors.length - 1];
  mount(el, h('p.muted', '正在加载……'));
  let res;
  try {
    res = await ctx.api.get('/v1/manifests', { ...params, limit: PAGE_SIZE, after });
  } catch (e) {
    mount(el, errorNotice(e));
    return;
  }
  const list = res.manifests;
  const infos = await orgInfos(ctx, list.flatMap((m) => [m.generator, m.carrier, m.receiver]));
  const name = (o) => (infos[o]?.name ? [infos[o].name, h('div.mono.muted.small', o)] : h('span.mono', o || '—'));
  const openedAt = (m) => m.opened_at || m.history?.find((s) => s.type === 'manifest.opened')?.at;
  const showOpened = list.some(openedAt);

  const prev = h('button', { type: 'button', disabled: cursors.length <= 1 }, '上一页');
  const next = h('button', { type: 'button', disabled: !res.next }, '下一页');
  prev.addEventListener('click', () => { cursors.pop(); page(ctx, el, params, cursors); });
  next.addEventListener('click', () => { cursors.push(res.next); page(ctx, el, params, cursors); });

  mount(el,
    stackTable([
      { title: '联单编号', get: (m) => link(`/manifests/${m.number}`, h('span.mono', m.number)) },
      { title: '状态', get: (m) => statusBadge(m.status) },
      showOpened ? { title: '开具时间', get: (m) => formatTime(openedAt(m)) } : null,
      { title: '产废单位', get: (m) => name(m.generator) },
      { title: '运输单位', get: (m) => name(m.carrier) },
      { title: '接收单位', get: (m) => name(m.receiver) },
      { title: '废物代码', get: (m) => m.lines.map((l) => h('div.mono', l.code)) },
      { title: '运单数量', class: 'num', get: (m) => formatQuantity(m.lines.reduce((a, l) => a + l.quantity_g, 0)) },
    ].filter(Boolean), list, { empty: '没有符合条件的联单', caption: `第 ${cursors.length} 页，本页 ${list.length} 张` }),
    cursors.length > 1 || res.next ? h('div.actions.pager', prev, next) : null,
    !list.length && ctx.session.has('generator') ? notice('info', '开具的联单会出现在这里。', link('/open', '开具联单')) : null);
}
