// 库存: the stock lots one enterprise holds (a generator's declared waste, or what a receiver
// stored), with their age and the storage limit of protocol §7, so that lots kept too long are
// seen before, and after, the ledger opens its storage_overdue ticket.

import { h, mount, table, field, fieldError, notice, select, link, badge, stackOnPhone } from '../../core/dom.js';
import { Api, listOrgs, orgNames } from '../../core/api.js';
import { errorNotice, heading, orgIdError, proofHref } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { todayCst } from '../../core/time.js';
import { ROLES } from '../../core/i18n.js';

const DAY_MS = 86400 * 1000;
const CST_MS = 8 * 3600 * 1000;

/** Whole days from `date` to `today`, both CST dates. */
function daysBetween(date, today) {
  return Math.round((Date.parse(today + 'T00:00:00Z') - Date.parse(date + 'T00:00:00Z')) / DAY_MS);
}

/** The storage limit (seconds) of a lot: receivers' limit for stored lots, else the generators'. */
function limitOf(lot, limits) {
  if (lot.origin) return limits.storage_s;
  return limits.generator_storage_s ?? limits.storage_s;
}

/** The instant a lot's storage limit passes: its date 00:00 CST + the limit. */
function deadlineOf(lot, limits) {
  return Date.parse(lot.date + 'T00:00:00Z') - CST_MS + limitOf(lot, limits) * 1000;
}

function formatDeadline(ms) {
  // The CST wall clock of the deadline; limits are whole days in practice, so the date reads well.
  const d = new Date(ms + CST_MS);
  const p = (n) => String(n).padStart(2, '0');
  const date = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`;
  const time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
  return time === '00:00' ? date : `${date} ${time}`;
}

function pickForm(ctx, holders, current) {
  const control = holders && holders.length
    ? select([['', '请选择单位'], ...holders.map((o) => [o.org, `${o.name}（${o.org}）· ${o.roles.filter((r) => r === 'generator' || r === 'receiver').map((r) => ROLES[r]).join('、')}`])],
      { value: current || '' })
    : h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false', value: current || '' });
  const all = h('input', { type: 'checkbox', id: 'stock-all', checked: ctx.query.all === 'true' });
  const form = h('form.filters.wide', { novalidate: true, 'aria-label': '选择单位' },
    field(holders && holders.length ? '单位' : '单位（统一社会信用代码）', control),
    h('div.check', all, h('label', { for: 'stock-all' }, '也显示已清空的批次')),
    h('div.actions', h('button.primary', { type: 'submit' }, '查看库存')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(control, '');
    const o = control.value.trim().toUpperCase();
    if (!o) return fieldError(control, '请选择单位');
    const err = orgIdError(o);
    if (err) return fieldError(control, err);
    ctx.navigate(`/stock?generator=${o}${all.checked ? '&all=true' : ''}`);
  });
  return form;
}

export async function render(ctx) {
  const generator = (ctx.query.generator || '').toUpperCase();
  const pickEl = h('div', h('p.muted', '正在加载……'));
  const stockEl = h('div', { 'aria-live': 'polite' });
  mount(ctx.main,
    heading('库存', '某一单位在账本中的库存批次：产废单位申报登记的危险废物，接收单位贮存的危险废物。超过贮存期限的批次会被账本自动立案（贮存超期）。'),
    pickEl,
    stockEl);

  const holdersCall = Promise.all([
    listOrgs(ctx.api, { role: 'generator' }),
    listOrgs(ctx.api, { role: 'receiver' }),
  ]).then(([g, r]) => {
    if (g === null || r === null) return null;
    const seen = new Map();
    for (const o of [...g, ...r]) seen.set(o.org, o);
    return [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }).catch(() => null);

  const holders = await holdersCall;
  mount(pickEl, pickForm(ctx, holders, generator),
    holders === null ? h('p.muted', '本服务尚未提供单位名录，请直接填写统一社会信用代码。') : null);
  if (!generator) return;

  mount(stockEl, h('p.muted', '正在加载……'));
  try {
    const [lots, ledger, names] = await Promise.all([
      ctx.api.all('/v1/stock', { generator, all: ctx.query.all === 'true' ? 'true' : undefined }, 'lots', 100000),
      Api.public('/v1/ledger'),
      orgNames(ctx.api, [generator]),
    ]);
    const limits = ledger.limits || {};
    const today = todayCst();
    const now = Date.now();
    const rows = lots.map((l) => ({ ...l, age: daysBetween(l.date, today), deadline: deadlineOf(l, limits) }));
    const overdue = rows.filter((r) => r.remaining_g > 0 && now > r.deadline);
    const sum = (f) => rows.reduce((s, r) => s + r[f], 0);
    const limitDays = (s) => (s % 86400 === 0 ? `${s / 86400} 天` : `${s} 秒`);
    mount(stockEl,
      h('h2', names.get(generator) || generator),
      h('p.muted', `统一社会信用代码 ${generator}。贮存期限：产废单位 ${limitDays(limits.generator_storage_s ?? limits.storage_s)}，接收单位 ${limitDays(limits.storage_s)}（自批次日期起算）。`),
      h('div.grid.stock-figures',
        h('div.figure', h('div.value', formatQuantity(sum('remaining_g'), 't')), h('div.label', '库存合计')),
        h('div.figure', h('div.value', formatQuantity(sum('reserved_g'), 't')), h('div.label', '已开联单预留')),
        h('div.figure' + (overdue.length ? '.bad' : ''), h('div.value', String(overdue.length)), h('div.label', '超过贮存期限的批次'))),
      overdue.length ? notice('error', h('strong', `有 ${overdue.length} 个批次超过贮存期限，合计 ${formatQuantity(overdue.reduce((s, r) => s + r.remaining_g, 0), 't')}。`),
        ' ', link(`/tickets?kind=storage_overdue&org=${generator}`, '查看贮存超期问题')) : null,
      stackOnPhone(table([
        { title: '批次', get: (l) => h('a', { href: proofHref(l.seq), target: '_blank', rel: 'noopener', title: '该批次登记记录的包含证明' }, `#${l.seq}`) },
        { title: '废物代码', class: 'mono', get: (l) => l.code },
        { title: '来源', get: (l) => (l.origin ? ['贮存自联单 ', link(`/manifests/${l.origin.manifest}`, l.origin.number)] : '申报登记') },
        { title: '批次日期', get: (l) => l.date },
        { title: '数量', class: 'num', get: (l) => formatQuantity(l.quantity_g, 't') },
        { title: '剩余', class: 'num', get: (l) => formatQuantity(l.remaining_g, 't') },
        { title: '已预留', class: 'num', get: (l) => formatQuantity(l.reserved_g, 't') },
        { title: '库龄', class: 'num', get: (l) => `${l.age} 天` },
        {
          title: '贮存期限', get: (l) => {
            if (l.remaining_g <= 0) return h('span.muted', '已清空');
            if (now > l.deadline) return [badge('已超期', 'bad'), h('div.small', `期限 ${formatDeadline(l.deadline)}`)];
            const left = Math.ceil((l.deadline - now) / DAY_MS);
            return [left <= 30 ? badge(`还剩 ${left} 天`, 'warn') : h('span', `还剩 ${left} 天`), h('div.small.muted', `期限 ${formatDeadline(l.deadline)}`)];
          },
        },
      ], rows, { empty: '该单位没有库存', caption: `共 ${rows.length} 个批次，按登记顺序` })));
  } catch (e) {
    mount(stockEl, e.status === 404 ? notice('error', h('strong', `账本中没有 ${generator} 的库存记录，或该单位不存在。`)) : errorNotice(e));
  }
}
