// 流向追溯: where the waste on a manifest went, portion by portion (protocol §6 Chains, §8), from
// GET /v1/chains/{id or number}. A portion is named by its first leg, the manifest line on which
// it left the generator that declared it; it may be stored by a collector (收集、贮存) and shipped
// on, any number of times. For each portion the page shows its generator, its pickup, the totals
// judged as the rate judges them at now (规范, 不规范 by kind, 在途/待处置, 计量误差), the legs
// that carried it as an indented tree (a leg taking from a lot an earlier leg stored sits under
// it), and the lots at collectors that took it, with what remains and whether it is overdue.
//   #/chains          a number to look up
//   #/chains/:id      the chains of one manifest (UUID or number)

import { h, mount, link, notice, badge, field, fieldError } from '../../core/dom.js';
import { ProblemError } from '../../core/api.js';
import { heading, errorNotice } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime } from '../../core/time.js';
import { TICKET_KINDS, IMPROPER_KINDS, label } from '../../core/i18n.js';
import { orgInfos, stackTable } from './actions.js';
import { statusBadge } from './manifest.js';

export async function render(ctx) {
  const id = ctx.params.id;
  const body = h('div', { 'data-testid': 'chains' });
  mount(ctx.main,
    heading('流向追溯', '按首程联单（废物离开产废单位的那张联单）追踪每一份废物：经收集单位贮存、再转移，直到利用/处置，以及各环节的规范、不规范和待处置数量。'),
    searchForm(ctx, id),
    body);
  if (!id) return;
  mount(body, h('p.muted', '正在加载……'));
  let data;
  try {
    data = await ctx.api.get(`/v1/chains/${encodeURIComponent(id)}`);
  } catch (e) {
    mount(body, await refusal(ctx, id, e));
    return;
  }
  const orgs = new Set();
  for (const c of data.chains) {
    orgs.add(c.first_leg.generator);
    for (const l of c.legs) {
      orgs.add(l.generator);
      orgs.add(l.receiver);
    }
    for (const l of c.lots) orgs.add(l.org);
  }
  const infos = await orgInfos(ctx, [...orgs]);
  document.title = `流向追溯 ${data.number} · 危险废物转移联单账本`;
  mount(body, view(data, infos));
}

function searchForm(ctx, id) {
  const input = h('input', {
    type: 'text', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false', maxlength: 40,
    value: id || '', 'data-testid': 'chain-search', placeholder: '例如 20253204000123',
  });
  const form = h('form.chain-search.no-print', { novalidate: true },
    field('联单编号', input, '14 位联单编号或联单标识（UUID）。可查本单位作为产废、运输或接收单位的联单。'),
    h('div.actions', h('button.primary', { type: 'submit' }, '追溯')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim().replace(/\s+/g, '');
    if (!v) return fieldError(input, '请输入联单编号');
    ctx.navigate(`/chains/${encodeURIComponent(v)}`);
  });
  return form;
}

/**
 * A 404 from /v1/chains means either no such manifest (or not the reader's), or a service that
 * does not serve chains yet: the manifest itself tells them apart.
 */
async function refusal(ctx, id, e) {
  if (!(e instanceof ProblemError) || e.status !== 404) return errorNotice(e);
  let manifest = null;
  try {
    manifest = await ctx.api.get(`/v1/manifests/${encodeURIComponent(id)}`);
  } catch {
    /* not found either: said below */
  }
  if (!manifest) {
    return [notice('error', h('strong', `没有找到联单 ${id}，或本单位无权查看。（not_found）`)),
      h('p', link('/manifests', '联单查询'))];
  }
  // Not the user's mistake: said as information, with the way to what the manifest itself shows.
  return [notice('info', h('strong', '本服务暂未提供流向追溯查询（GET /v1/chains 未找到，not_found）。'),
    h('div.detail', '请联系管理员升级服务。联单本身的来源和后续转移可在联单详情中查看。')),
  h('p', link(`/manifests/${manifest.number}`, `联单 ${manifest.number} 详情`))];
}

function orgText(infos, org) {
  const i = infos[org];
  return i ? i.name : org;
}

/** The improper grams by kind, in the protocol's order, in Chinese. */
function improperKinds(byKind) {
  const kinds = Object.keys(byKind || {}).filter((k) => byKind[k] > 0)
    .sort((a, b) => IMPROPER_KINDS.indexOf(a) - IMPROPER_KINDS.indexOf(b));
  if (!kinds.length) return null;
  return h('ul.plain.kinds', kinds.map((k) => h('li', `${label(TICKET_KINDS, k)} ${formatQuantity(byKind[k])}`)));
}

/**
 * Each leg's depth in the tree: a leg that took from a lot an earlier leg of the chain stored
 * hangs under that leg; the others (the first leg) are at the top.
 */
function depths(legs) {
  const byLot = new Map();
  const out = [];
  legs.forEach((l, i) => {
    const parents = (l.from_lots || []).filter((lot) => byLot.has(lot)).map((lot) => out[byLot.get(lot)]);
    out.push(parents.length ? Math.max(...parents) + 1 : 0);
    if (l.lot !== null && l.lot !== undefined) byLot.set(l.lot, i);
  });
  return out;
}

function view(data, infos) {
  if (!data.chains.length) {
    return [manifestLine(data),
      notice('info', h('strong', '这张联单还没有可追溯的废物。'),
        ' 联单起运后（未被拒收），其废物才按首程联单追溯。')];
  }
  return [manifestLine(data), data.chains.map((c, i) => chainCard(c, i, data, infos))];
}

function manifestLine(data) {
  return h('p', '联单 ', link(`/manifests/${data.number}`, h('span.mono', { 'data-testid': 'chain-number' }, data.number)),
    `：共 ${data.chains.length} 份废物（按首程联单和废物代码）。`);
}

function chainCard(c, i, data, infos) {
  const f = c.first_leg;
  const depth = depths(c.legs);
  const fig = (value, title) => h('div.figure',
    h('div.value', formatQuantity(value)), h('div.label', title));
  const mine = f.manifest === data.manifest;
  return h('section.card.chain', { 'data-testid': 'chain', 'aria-label': `首程联单 ${f.number} ${f.code}` },
    h('h2', `第 ${i + 1} 份：`, h('span.mono', f.code), ' ', mine ? '（本联单为首程）' : ['，首程联单 ', link(`/manifests/${f.number}`, h('span.mono', f.number))]),
    h('dl.kv',
      h('dt', '产废单位'), h('dd', orgText(infos, f.generator), ' ', h('span.mono.muted', f.generator)),
      h('dt', '首程起运时间'), h('dd', formatTime(f.picked_up_at), '（北京时间）'),
      h('dt', '首程数量'), h('dd', formatQuantity(c.quantity_g))),
    h('div.grid.chain-figures',
      fig(c.proper_g, '规范利用/处置'),
      h('div.figure', h('div.value', formatQuantity(c.improper_g)), h('div.label', '不规范'), improperKinds(c.improper_by_kind)),
      fig(c.pending_g, '在途/贮存/待处置'),
      fig(c.left_out_g, '计量误差（不计入）')),
    h('h3', '转移环节'),
    h('div', { 'data-testid': 'chain-legs' }, stackTable([
      {
        title: '联单',
        get: (l) => {
          const d = depth[c.legs.indexOf(l)];
          return h('span.chain-leg', { 'data-depth': String(Math.min(d, 5)) },
            d ? h('span.muted', { 'aria-hidden': 'true' }, '└ ') : null,
            link(`/manifests/${l.number}`, h('span.mono', l.number)),
            h('div.muted.small', d ? `第 ${d + 1} 程（后续转移）` : '首程'));
        },
      },
      { title: '移出单位 → 接收单位', get: (l) => [orgText(infos, l.generator), ' → ', orgText(infos, l.receiver)] },
      { title: '状态', get: (l) => statusBadge(l.status) },
      { title: '取自批次', get: (l) => (l.from_lots || []).join('、') || '—' },
      { title: '运单数量', class: 'num', get: (l) => formatQuantity(l.quantity_g) },
      { title: '实收', class: 'num', get: (l) => formatQuantity(l.counted_g) },
      { title: '入库贮存', class: 'num', get: (l) => (l.stored_g === null || l.stored_g === undefined ? '—' : [formatQuantity(l.stored_g), l.lot !== null && l.lot !== undefined ? h('div.muted.small', `批次 ${l.lot}`) : null]) },
      { title: '规范', class: 'num', get: (l) => formatQuantity(l.proper_g) },
      { title: '不规范', get: (l) => improperKinds(l.improper_by_kind) || '—' },
      { title: '待处置', class: 'num', get: (l) => formatQuantity(l.pending_g) },
      { title: '计量误差', class: 'num', get: (l) => formatQuantity(l.left_out_g) },
    ], c.legs, { empty: '暂无转移环节' })),
    c.lots.length ? [
      h('h3', '收集单位贮存批次'),
      h('div', { 'data-testid': 'chain-lots' }, stackTable([
        { title: '单位', get: (l) => [orgText(infos, l.org), h('div.mono.muted.small', l.org)] },
        { title: '批次', class: 'num', get: (l) => String(l.lot) },
        { title: '批次日期', get: (l) => l.date },
        { title: '入库数量', class: 'num', get: (l) => formatQuantity(l.quantity_g) },
        { title: '剩余', class: 'num', get: (l) => formatQuantity(l.remaining_g) },
        {
          title: '状态',
          get: (l) => (l.overdue ? h('span', { 'data-testid': 'lot-overdue' }, badge('贮存超期', 'bad'))
            : l.remaining_g > 0 ? badge('贮存中', 'warn') : badge('已转出', 'ok')),
        },
      ], c.lots)),
    ] : null);
}
