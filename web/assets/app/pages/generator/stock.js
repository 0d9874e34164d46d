// 我的库存: the org's lots, how long each has been held and how close it is to the storage limit
// in the ledger's limits: for a generator's declared lots generator_storage_s where set, else
// storage_s; for lots a receiver stored from a manifest (收集、贮存) storage_s, counted from the
// receipt. A lot past its limit is what the ledger tickets as storage_overdue, so it is shown
// before that happens. A stored lot links to its origin manifest; 开具联单 ships lots on.

import { h, mount, badge, link, notice } from '../../core/dom.js';
import { Api } from '../../core/api.js';
import { heading, loading } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { todayCst, formatTime } from '../../core/time.js';
import { catalogueEntries, stackTable } from '../shared/actions.js';

const DAY_MS = 86400 * 1000;
const NEAR_DAYS = 30;

function daysBetween(from, to) {
  return Math.round((Date.parse(to + 'T00:00:00Z') - Date.parse(from + 'T00:00:00Z')) / DAY_MS);
}

/** A lot's deadline: its date 00:00 CST plus the limit, as an instant (protocol §7). */
export function lotDeadline(date, limitS) {
  return new Date(Date.parse(date + 'T00:00:00+08:00') + limitS * 1000);
}

export function lotState(lot, limitS, now = new Date()) {
  if (lot.remaining_g === 0) return { tone: 'neutral', text: '已清空' };
  const deadline = lotDeadline(lot.date, limitS);
  if (now > deadline) return { tone: 'bad', text: '已超期' };
  const left = Math.ceil((deadline - now) / DAY_MS);
  if (left <= NEAR_DAYS) return { tone: 'warn', text: `临近期限（剩 ${left} 天）` };
  return { tone: 'ok', text: '正常' };
}

export async function render(ctx) {
  const showAll = ctx.query.all === '1';
  const generator = ctx.session.has('generator');
  const body = h('div');
  mount(ctx.main,
    heading('我的库存', generator
      ? '本单位申报后（以及接收后入库贮存的）尚未转移出去的危险废物，按批次列出。已预留的部分属于已开具、尚未起运的联单。'
      : '本单位接收后入库贮存、尚未转移出去的危险废物，按批次列出，每批注明来源联单。已预留的部分属于已开具、尚未起运的联单。'),
    h('div.actions.no-print',
      generator ? link('/declare', '申报登记') : null, link('/open', '开具联单'),
      h('a', { href: showAll ? '#/my-stock' : '#/my-stock?all=1' }, showAll ? '只看有剩余的批次' : '也显示已清空的批次')),
    body);
  await loading(body, async () => {
    const [ledger, lots] = await Promise.all([
      Api.public('/v1/ledger'),
      ctx.api.all('/v1/stock', { generator: ctx.session.org, all: showAll ? 'true' : undefined }, 'lots'),
    ]);
    const cat = await catalogueEntries([...new Set(lots.map((l) => l.code))], todayCst());
    return { ledger, lots, cat };
  }, ({ ledger, lots, cat }) => view(ledger, lots, cat, generator));
}

/** The storage limit of a lot: storage_s for one stored from a manifest, else the generator's. */
export function lotLimit(lot, limits) {
  return lot.origin ? limits.storage_s : (limits.generator_storage_s ?? limits.storage_s);
}

function view(ledger, lots, cat, generator) {
  const limits = ledger.limits || {};
  const anyStored = lots.some((l) => l.origin);
  const anyDeclared = lots.some((l) => !l.origin) || generator;
  const limitS = anyDeclared ? (limits.generator_storage_s ?? limits.storage_s) : limits.storage_s;
  const limitDays = Math.round(limitS / 86400);
  const storedDays = Math.round(limits.storage_s / 86400);
  const limitText = anyStored && anyDeclared && storedDays !== limitDays
    ? `申报批次 ${limitDays} 天，入库贮存批次 ${storedDays} 天` : `${anyDeclared ? limitDays : storedDays} 天`;
  const today = todayCst();
  const now = new Date();
  const rows = lots.map((l) => ({ ...l, limitS: lotLimit(l, limits), state: lotState(l, lotLimit(l, limits), now), age: daysBetween(l.date, today) }));
  const live = rows.filter((r) => r.remaining_g > 0);
  const sum = (f) => live.reduce((a, r) => a + f(r), 0);
  const overdue = live.filter((r) => r.state.tone === 'bad');
  const near = live.filter((r) => r.state.tone === 'warn');

  // Totals by code: what a manifest line can take now.
  const byCode = new Map();
  for (const r of live) {
    const t = byCode.get(r.code) || { code: r.code, remaining: 0, reserved: 0, lots: 0 };
    t.remaining += r.remaining_g;
    t.reserved += r.reserved_g;
    t.lots += 1;
    byCode.set(r.code, t);
  }
  const desc = (code) => cat.get(code)?.description || '';

  return [
    overdue.length ? notice('error', h('strong', `有 ${overdue.length} 个批次已超过贮存期限（${limitText}）。`),
      ' 请尽快开具联单转移，超期贮存将被自动立案（贮存超期）。') : null,
    !overdue.length && near.length ? notice('info', h('strong', `有 ${near.length} 个批次将在 ${NEAR_DAYS} 天内到达贮存期限。`)) : null,
    h('div.grid',
      h('div.figure', h('div.value', formatQuantity(sum((r) => r.remaining_g))), h('div.label', '库存合计')),
      h('div.figure', h('div.value', formatQuantity(sum((r) => r.reserved_g))), h('div.label', '其中已预留（待起运）')),
      h('div.figure', h('div.value', String(live.length)), h('div.label', '有剩余的批次')),
      h('div.figure', h('div.value', anyStored && anyDeclared && storedDays !== limitDays ? `${limitDays} / ${storedDays} 天` : `${anyDeclared ? limitDays : storedDays} 天`),
        h('div.label', anyStored ? '贮存期限（自产生或签收日期起）' : '贮存期限（自产生日期起）'))),
    h('h2', '按废物代码'),
    stackTable([
      { title: '废物代码', get: (t) => h('span.mono', t.code) },
      { title: '名称', get: (t) => desc(t.code) },
      { title: '批次', class: 'num', get: (t) => String(t.lots) },
      { title: '库存', class: 'num', get: (t) => formatQuantity(t.remaining) },
      { title: '已预留', class: 'num', get: (t) => formatQuantity(t.reserved) },
      { title: '可开单', class: 'num', get: (t) => formatQuantity(t.remaining - t.reserved) },
    ], [...byCode.values()].sort((a, b) => (a.code < b.code ? -1 : 1)), { empty: '暂无库存' }),
    h('h2', '按批次'),
    stackTable([
      { title: '批次', class: 'num', get: (r) => String(r.seq) },
      { title: '废物代码', get: (r) => [h('span.mono', r.code), h('div.muted.small', desc(r.code))] },
      anyStored ? {
        title: '来源',
        get: (r) => (r.origin
          ? h('span', { 'data-testid': `lot-origin-${r.seq}-${r.code}` }, '联单 ', link(`/manifests/${r.origin.number || r.origin.manifest}`, h('span.mono', r.origin.number || r.origin.manifest)))
          : '本单位申报'),
      } : null,
      { title: anyStored ? '批次日期' : '产生日期', get: (r) => r.date },
      { title: '已存天数', class: 'num', get: (r) => `${r.age} 天` },
      { title: '期限', get: (r) => formatTime(lotDeadline(r.date, r.limitS).toISOString()).slice(0, 16) },
      { title: '申报量', class: 'num', get: (r) => formatQuantity(r.quantity_g) },
      { title: '剩余', class: 'num', get: (r) => formatQuantity(r.remaining_g) },
      { title: '已预留', class: 'num', get: (r) => formatQuantity(r.reserved_g) },
      { title: '容器', get: (r) => (r.containers && r.containers.length
        ? link(`/labels?lot=${r.seq}&code=${r.code}`, `${r.containers.length} 个 · 标签`) : '—') },
      { title: '状态', get: (r) => badge(r.state.text, r.state.tone) },
    ].filter(Boolean), rows.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.seq - b.seq)),
    { empty: generator ? '暂无库存批次。申报登记后会在这里出现。' : '暂无库存批次。签收后在“扫码作业”中入库贮存，会在这里出现。', caption: `贮存期限 ${limitText}；距期限 ${NEAR_DAYS} 天内标为“临近期限”。` }),
    h('p.muted', `期限按${anyStored ? '批次日期（申报的产生日期，或入库贮存批次的签收日期）' : '产生日期'} 00:00（北京时间）起算；数据截至 ${formatTime(now.toISOString())}。`),
  ];
}

