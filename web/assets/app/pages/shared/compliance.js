// 合规问题: the tickets of the six compliance kinds of protocol §7 (计划外转移, 超计划产生,
// 未备案管理计划, 逾期未申报, 利用处置量少于接收量, 贮存超能力): duties missed, which the ledger
// finds itself and which do not count in the proper-disposal rate. Kept apart from the waste-loss
// kinds of 问题清单. Regulators see every unit's (optionally one unit's), others their own.

import { h, mount, field, fieldError, select, table, notice, link, badge, stackOnPhone } from '../../core/dom.js';
import { orgNames } from '../../core/api.js';
import { errorNotice, heading, orgIdError } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime, periodText } from '../../core/time.js';
import { COMPLIANCE_KINDS, TICKET_KINDS, TICKET_STATUS, label } from '../../core/i18n.js';
import { statusBadge, orgLabel } from './tickets.js';

/** What each kind means, in a line, for the people who must act on it. */
const MEANING = {
  unplanned_transfer: '开具联单转移的废物不在当时有效的管理计划中（未备案计划，或计划中没有该接收单位）。',
  plan_exceeded: '当年实际申报登记的产生量超出管理计划产生量的允许幅度。',
  plan_missing: '上年或当年产生危险废物，但 3 月 31 日前未备案当年管理计划。',
  declaration_overdue: '按管理类别应申报的月度、季度或年度申报，到期未申报。',
  disposal_short: '接收单位利用处置的数量少于签收的数量。',
  storage_over_capacity: '贮存设施的贮存量超过登记的贮存能力。',
};

function route(q) {
  const p = new URLSearchParams();
  for (const k of ['kind', 'status', 'org']) if (q[k]) p.set(k, q[k]);
  const s = p.toString();
  return '/compliance' + (s ? '?' + s : '');
}

/** The subject of a compliance ticket: unit, year or period, code, manifest, facility. */
function subjectOf(s, names, numbers) {
  const parts = [];
  if (s.org) parts.push(h('div', orgLabel(names, s.org)));
  if (s.year !== null && s.year !== undefined) parts.push(h('div', `年度 ${s.year}`));
  if (s.period) parts.push(h('div', `申报期间 ${periodText(s.period)}`));
  if (s.code) parts.push(h('div', '废物代码 ', h('span.mono', s.code)));
  if (s.facility) parts.push(h('div', '设施 ', s.org ? link(`/facilities/${s.org}/${s.facility}`, s.facility) : s.facility));
  if (s.manifest) {
    const number = numbers.get(s.manifest);
    parts.push(h('div.nowrap', '联单 ', link(`/manifests/${s.manifest}`, number || h('span.mono', s.manifest.slice(0, 8) + '…'))));
  }
  return parts.length ? parts : '—';
}

/** Where to act on a ticket: the plan, the declaration, the manifest. */
function nextStep(t, session) {
  const s = t.subject || {};
  const q = session.has('regulator') && s.org ? `org=${s.org}&` : '';
  if ((t.kind === 'plan_exceeded' || t.kind === 'plan_missing') && s.year) {
    return link(`/plan-status?${q}year=${s.year}`, '计划执行情况');
  }
  if (t.kind === 'declaration_overdue' && s.period) return link(`/declaration?${q}period=${s.period}`, '查看申报表');
  return null;
}

export async function render(ctx) {
  const q = ctx.query;
  const regulator = ctx.session.has('regulator');
  const kind = select([['', '全部合规问题'], ...COMPLIANCE_KINDS.map((k) => [k, TICKET_KINDS[k]])], { value: q.kind || '', 'data-testid': 'compliance-kind' });
  const status = select([['', '全部'], ...Object.entries(TICKET_STATUS)], { value: q.status || '' });
  const org = h('input', { type: 'text', value: q.org || '', maxlength: 18, autocomplete: 'off', spellcheck: 'false' });
  const form = h('form.filters', { novalidate: true, 'aria-label': '筛选' },
    field('类型', kind),
    field('状态', status),
    regulator ? field('单位（统一社会信用代码）', org) : null,
    h('div.actions',
      h('button.primary', { type: 'submit' }, '筛选'),
      h('button', { type: 'button', on: { click: () => ctx.navigate('/compliance') } }, '清除')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(org, '');
    const o = org.value.trim().toUpperCase();
    if (o) {
      const err = orgIdError(o);
      if (err) return fieldError(org, err);
    }
    ctx.navigate(route({ kind: kind.value, status: status.value, org: o }));
  });
  const out = h('div', { 'aria-live': 'polite' }, h('p.muted', '正在加载……'));
  mount(ctx.main,
    heading('合规问题', regulator
      ? '账本自动发现的管理计划、申报、利用处置和贮存方面的问题。这些问题反映未履行的管理义务，不计入规范化处理率；废物短缺、无证、超期等不规范处理问题见“问题清单”。'
      : '与本单位有关的管理计划、申报、利用处置和贮存方面的问题，由账本自动发现。废物短缺、无证、超期等问题见“问题清单”。'),
    form,
    out);

  const kinds = q.kind && COMPLIANCE_KINDS.includes(q.kind) ? [q.kind] : COMPLIANCE_KINDS;
  let tickets;
  try {
    const lists = await Promise.all(kinds.map((k) => ctx.api.all('/v1/tickets', { kind: k, status: q.status, org: q.org }, 'tickets')));
    tickets = lists.flat().sort((a, b) => (a.opened_at < b.opened_at ? 1 : a.opened_at > b.opened_at ? -1 : 0));
  } catch (e) {
    mount(out, errorNotice(e));
    return;
  }
  const subjects = tickets.map((t) => t.subject || {});
  const [names, numbers] = await Promise.all([
    orgNames(ctx.api, [...subjects.map((s) => s.org), ...tickets.map((t) => t.responsible)]),
    Promise.all([...new Set(subjects.map((s) => s.manifest).filter(Boolean))]
      .map((id) => ctx.api.get(`/v1/manifests/${id}`).then((m) => [id, m.number], () => null)))
      .then((pairs) => new Map(pairs.filter(Boolean))),
  ]);
  const counts = new Map(COMPLIANCE_KINDS.map((k) => [k, 0]));
  for (const t of tickets) counts.set(t.kind, (counts.get(t.kind) || 0) + 1);
  const open = tickets.filter((t) => t.status !== 'closed').length;
  mount(out,
    h('div.grid.compliance-figures', { 'data-testid': 'compliance-counts' }, kinds.map((k) => h('a.figure.compliance-figure', {
      href: '#' + route({ kind: k, status: q.status, org: q.org }),
      'aria-current': q.kind === k ? 'true' : null,
    },
    h('div.value', String(counts.get(k))),
    h('div.label', TICKET_KINDS[k]),
    h('div.hint', MEANING[k])))),
    tickets.length
      ? h('p.muted', `共 ${tickets.length} 项，其中未销号 ${open} 项。`)
      : notice('ok', q.kind || q.status || q.org ? '没有符合条件的合规问题。' : '没有合规问题。'),
    stackOnPhone(table([
      { title: '编号', class: 'nowrap', get: (t) => h('a.mono', { href: `#/tickets/${t.ticket}`, title: t.ticket, 'aria-label': `问题 ${t.ticket}` }, t.ticket.slice(0, 8)) },
      { title: '类型', class: 'nowrap', get: (t) => [badge(label(TICKET_KINDS, t.kind), 'warn'), h('div.muted.small', '合规事项')] },
      { title: '状态', class: 'nowrap', get: statusBadge },
      { title: '对象', get: (t) => subjectOf(t.subject || {}, names, numbers) },
      { title: '摘要', class: 'ticket-summary', get: (t) => t.summary },
      { title: '数量', class: 'num', get: (t) => formatQuantity(t.quantity_g) },
      { title: '立案时间', get: (t) => formatTime(t.opened_at) },
      { title: '处理', class: 'nowrap', get: (t) => nextStep(t, ctx.session) || '—' },
    ], tickets, { empty: '没有合规问题', caption: '合规问题' })),
    h('p', link('/tickets', '问题清单'), h('span.muted', '：全部问题，包括交办、整改和销号。')));
}
