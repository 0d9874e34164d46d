// 联单详情: one manifest as the ledger derives it, its signed history step by step (each with its
// proof of inclusion and the signed entry itself), and the next step the signed-in org may sign.
// A line shows where its waste came from (来源: the lots it took, and the manifests that stored
// them) and where it went on (贮存量, the lot, 后续转移: the onward manifests from that lot);
// 流向追溯 follows every portion to its final handling (#/chains/:id).

import { h, mount, badge, link, notice, dl } from '../../core/dom.js';
import { Api, ProblemError } from '../../core/api.js';
import { heading, errorNotice, proofHref } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime, cstDate } from '../../core/time.js';
import { spacedId } from '../../core/containers.js';
import { MANIFEST_STATUS, EVENT_TYPES, label } from '../../core/i18n.js';
import {
  availableActions, nextStep, orgInfos, catalogueEntries, loadMethods, stackTable,
} from './actions.js';

export const STATUS_TONE = {
  opened: 'neutral', picked_up: 'warn', received: 'warn', disposed: 'ok', stored: 'ok',
  cancelled: 'neutral', rejected: 'bad',
};

export function statusBadge(status) {
  return badge(label(MANIFEST_STATUS, status), STATUS_TONE[status] || 'neutral');
}

/** "名称（USCC）" for an org, or the code alone when the name could not be read. */
export function orgText(infos, org) {
  if (!org) return '—';
  const i = infos[org];
  return i ? [h('span.org-name', i.name), ' ', h('span.mono.muted', org)] : h('span.mono', org);
}

/**
 * Everything a manifest page shows: the manifest, its parties, the catalogue entries of its
 * codes (edition of the opening date), the method names, and the opening entry (form,
 * packaging and note live only there).
 */
export async function loadManifest(ctx, id) {
  const m = await ctx.api.get(`/v1/manifests/${encodeURIComponent(id)}`);
  const opening = (m.history || []).find((s) => s.type === 'manifest.opened');
  const openedOn = opening ? cstDate(opening.at) : undefined;
  const [infos, cat, methods, openEntry, ledger] = await Promise.all([
    orgInfos(ctx, [m.generator, m.carrier, m.receiver]),
    catalogueEntries(m.lines.map((l) => l.code), openedOn).catch(() => new Map()),
    loadMethods().catch(() => []),
    opening ? ctx.api.get(`/v1/entries/${opening.seq}`).catch(() => null) : null,
    Api.public('/v1/ledger').catch(() => null),
  ]);
  const extra = new Map();
  for (const l of openEntry?.event?.body?.lines || []) extra.set(l.code, l);
  return {
    m, infos, cat, extra, note: openEntry?.event?.body?.note || null,
    methods: new Map(methods.map((x) => [x.code, x])),
    limits: ledger?.limits || {},
  };
}

export function methodText(methods, code) {
  if (!code) return '—';
  const x = methods.get(code);
  return x ? `${code} ${x.name}` : code;
}

export async function render(ctx, flash) {
  const id = ctx.params.id;
  const body = h('div');
  mount(ctx.main, heading('联单详情'), body);
  mount(body, h('p.muted', '正在加载……'));
  let data;
  try {
    data = await loadManifest(ctx, id);
  } catch (e) {
    if (e instanceof ProblemError && e.status === 404) {
      mount(body, notice('error', h('strong', `没有编号为 ${id} 的联单，或本单位无权查看。（not_found）`)),
        h('p', link('/manifests', '返回联单查询')));
    } else {
      mount(body, errorNotice(e));
    }
    return;
  }
  mount(body, view(ctx, data, flash));
}

function view(ctx, { m, infos, cat, extra, note, methods, limits }, flash) {
  const reload = (entry) => {
    const type = entry?.event?.type;
    const text = `${label(EVENT_TYPES, type)}已记入账本，账本序号 ${entry.seq}。`;
    // A storing that packed lines in new containers links to their labels.
    render(ctx, entry.relabelled && entry.relabelled.length
      ? [text, ' ', link(`/labels?lot=${entry.seq}`, '打印新容器标签'), '　', link('/my-stock', '查看我的库存')]
      : text);
  };
  const actions = availableActions(ctx, m, reload, { catalogue: cat, shortfallBp: limits.shortfall_bp });
  const known = (v) => v !== undefined && v !== null;
  const anyStored = m.lines.some((l) => known(l.stored_g));
  const anyOrigin = m.lines.some((l) => (l.origin || []).some((o) => known(o.manifest)));
  const anyOnward = m.lines.some((l) => (l.onward || []).length);
  document.title = `联单 ${m.number} · 危险废物转移联单账本`;

  return [
    ctx.query.opened === '1' && !flash ? notice('ok', h('strong', `联单已开具，编号 ${m.number}。`),
      ' 请把编号或打印的联单交给运输单位。') : null,
    flash ? notice('ok', h('strong', flash)) : null,
    h('div.manifest-head',
      h('div',
        h('div.muted', '联单编号'),
        h('div.manifest-number.mono', { 'data-testid': 'manifest-number' }, m.number),
        h('div', statusBadge(m.status), ' ', h('span.muted', nextStep(m)))),
      h('div.actions',
        link(`/manifests/${m.number}/print`, '打印联单'),
        link(`/chains/${m.number}`, '流向追溯'),
        link('/manifests', '返回联单查询'))),
    h('h2', '单位与运输'),
    dl([
      ['产废单位（移出人）', orgText(infos, m.generator)],
      ['运输单位', orgText(infos, m.carrier)],
      ['接收单位', orgText(infos, m.receiver)],
      ['车辆号牌', m.vehicle || '—'],
      ['备注', note || '—'],
      ['联单标识', h('span.mono', m.manifest)],
    ]),
    h('h2', '废物明细'),
    stackTable([
      { title: '废物代码', get: (l) => h('span.mono', l.code) },
      { title: '名称', get: (l) => cat.get(l.code)?.description || '—' },
      { title: '形态/包装', get: (l) => [extra.get(l.code)?.form, extra.get(l.code)?.packaging].filter(Boolean).join(' / ') || '—' },
      { title: '运单数量', class: 'num', get: (l) => formatQuantity(l.quantity_g) },
      { title: '实收数量', class: 'num', get: (l) => formatQuantity(l.received_g) },
      { title: '利用/处置数量', class: 'num', get: (l) => formatQuantity(l.disposed_g) },
      anyStored ? { title: '贮存量', class: 'num', get: (l) => formatQuantity(l.stored_g) } : null,
      anyStored ? { title: '入库批次', get: (l) => (known(l.lot) ? h('span.mono', String(l.lot)) : '—') } : null,
      { title: '方式', get: (l) => methodText(methods, l.method) },
      anyOrigin ? { title: '来源', get: originCell } : null,
      anyOnward ? { title: '后续转移', get: onwardCell } : null,
    ].filter(Boolean), m.lines),
    containersSection(m),
    actions.length ? [
      h('h2', '办理'),
      actions.map((a) => h('div.card.action-card', { 'data-action': a.key }, a.form())),
    ] : null,
    h('h2', '签名记录'),
    h('p.muted', '每一步都由责任单位用自己的密钥签名，按顺序记入账本。账本序号和哈希可用于核验：“包含证明”说明这条记录在账本中，任何人都可复核。'),
    timeline(ctx, m.history || []),
  ];
}

/**
 * Where a line's waste came from: each lot it took, with the manifest that stored it (a link),
 * or the opener's own declared lot.
 */
function originCell(l) {
  const list = l.origin || [];
  if (!list.length) return '—';
  return h('ul.plain', { 'data-testid': `origin-${l.code}` }, list.map((o) => h('li',
    o.manifest
      ? [link(`/manifests/${o.number || o.manifest}`, h('span.mono', o.number || o.manifest)), h('span.muted', ` 批次 ${o.lot}`)]
      : h('span.muted', `申报批次 ${o.lot}`),
    ' ', formatQuantity(o.quantity_g))));
}

/** The onward manifests that took from the lot a line was stored into, each a link. */
function onwardCell(l) {
  const list = l.onward || [];
  if (!list.length) return '—';
  return h('ul.plain', { 'data-testid': `onward-${l.code}` }, list.map((o) => h('li',
    link(`/manifests/${o.number || o.manifest}`, h('span.mono', o.number || o.manifest)), ' ', formatQuantity(o.quantity_g))));
}

/** The containers each line names, each linking to its trace (容器详情). */
function containersSection(m) {
  const known = (v) => v !== null && v !== undefined;
  // A receipt line that weighed its containers one by one gives each listed one a weight; the
  // ones it left out (or weighed at 0) are missing.
  const rows = m.lines.flatMap((l) => {
    const weighed = (l.containers || []).some((c) => known(c.received_g));
    return (l.containers || []).map((c) => ({ ...c, code: l.code, received: known(l.received_g), weighed }));
  });
  if (!rows.length) return null;
  const weight = (c) => {
    if (!c.received) return '—';
    if (!c.weighed) return '未逐个称重';
    if (!c.received_g) return h('span.text-bad', { 'data-testid': 'container-missing' }, '缺失（未到）');
    return formatQuantity(c.received_g);
  };
  return [
    h('h2', `容器（${rows.length} 个）`),
    h('div', { 'data-testid': 'manifest-containers' }, stackTable([
      { title: '容器识别码', get: (c) => link(`/containers/${c.id}`, h('span.mono', spacedId(c.id))) },
      { title: '废物代码', get: (c) => h('span.mono', c.code) },
      { title: '申报重量', class: 'num', get: (c) => formatQuantity(c.quantity_g) },
      { title: '实收重量', class: 'num', get: weight },
    ], rows)),
  ];
}

function timeline(ctx, history) {
  return h('ol.timeline', { 'data-testid': 'timeline' }, history.map((s) => {
    const pre = h('pre.entry-json');
    const det = h('details.entry',
      h('summary', '签名的原始记录（JSON）'),
      pre);
    let loaded = false;
    det.addEventListener('toggle', async () => {
      if (!det.open || loaded) return;
      loaded = true;
      pre.textContent = '正在加载……';
      try {
        const entry = await ctx.api.get(`/v1/entries/${s.seq}`);
        pre.textContent = JSON.stringify(entry, null, 2);
      } catch (e) {
        loaded = false;
        pre.replaceChildren(errorNotice(e));
      }
    });
    return h('li',
      h('div.step-title', h('strong', label(EVENT_TYPES, s.type))),
      h('div', '时间 ', formatTime(s.at), '（北京时间）',
        s.recorded_at && formatTime(s.recorded_at) !== formatTime(s.at) ? h('span.muted', `　记账 ${formatTime(s.recorded_at)}`) : null),
      h('div.muted', '账本序号 ', h('span.mono', String(s.seq)), '　哈希 ', h('span.mono.hash', s.hash)),
      h('div', h('a', { href: proofHref(s.seq), target: '_blank', rel: 'noopener' }, '包含证明（JSON）')),
      det);
  }));
}
