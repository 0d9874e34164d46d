// 容器查询: one container (一物一码) by its 37-character code and its whole trace as the ledger
// derives it (GET /v1/containers/{id}): declared into a lot, reserved by a manifest, scanned at
// pickup, weighed at receipt or found missing, returned, stored, treated. A regulator reads every
// container; another org the ones it packed or that a manifest of its names (protocol §9).
//   #/containers        the search box (a typed or scanned code), and the generator's containers
//   #/containers/:id    one container

import { h, mount, field, fieldError, link, notice, dl, badge } from '../../core/dom.js';
import { ProblemError } from '../../core/api.js';
import { errorNotice, heading, proofHref } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime } from '../../core/time.js';
import { containerRef, parseContainerId, spacedId, CONTAINER_LEN } from '../../core/containers.js';
import { CONTAINER_STATUS, EVENT_TYPES, label } from '../../core/i18n.js';
import { catalogueEntries, hazardText, orgInfos, stackTable } from './actions.js';

export const CONTAINER_TONE = {
  in_stock: 'ok', reserved: 'neutral', shipped: 'warn', received: 'ok', missing: 'bad', treated: 'ok',
};

export function containerBadge(status) {
  return badge(label(CONTAINER_STATUS, status), CONTAINER_TONE[status] || 'neutral');
}

function searchForm(ctx, value) {
  const input = h('input.mono', {
    type: 'search', maxlength: 120, autocomplete: 'off', spellcheck: 'false', value: value || '',
    'data-testid': 'container-search', placeholder: '37 位容器识别码，可用扫码枪扫描标签',
  });
  const form = h('form.filters.wide', { novalidate: true, role: 'search', 'aria-label': '查询容器' },
    field('容器识别码', input, '印在容器标签上，也是标签二维码的内容。'),
    h('div.actions', h('button.primary', { type: 'submit' }, '查询')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(input, '');
    const raw = input.value.trim();
    if (!raw) return fieldError(input, '请输入或扫描容器识别码');
    const id = containerRef(raw);
    if (!id) {
      const n = raw.replace(/[\s-]/g, '').length;
      return fieldError(input, `容器识别码为 ${CONTAINER_LEN} 位（18 位单位代码、8 位废物代码、8 位日期、3 位序号），现在是 ${n} 位`);
    }
    ctx.navigate(`/containers/${id}`);
  });
  return form;
}

export async function render(ctx) {
  if (ctx.params.id) return renderOne(ctx, ctx.params.id);
  const mine = h('div');
  mount(ctx.main,
    heading('容器查询', '按容器识别码（一物一码）查询容器的来源、所在批次和每一步流转记录。'),
    searchForm(ctx, ''),
    mine);
  if (!ctx.session.has('generator')) return;
  mount(mine, h('p.muted', '正在加载……'));
  try {
    const lots = (await ctx.api.all('/v1/stock', { generator: ctx.session.org }, 'lots'))
      .filter((l) => l.containers && l.containers.length);
    const rows = lots.flatMap((l) => l.containers.map((c) => ({ ...c, lot: l.seq, code: l.code, date: l.date })));
    mount(mine,
      h('h2', '本单位库存中的容器'),
      stackTable([
        { title: '容器识别码', get: (c) => link(`/containers/${c.id}`, h('span.mono', spacedId(c.id))) },
        { title: '废物代码', get: (c) => h('span.mono', c.code) },
        { title: '批次', class: 'num', get: (c) => String(c.lot) },
        { title: '重量', class: 'num', get: (c) => formatQuantity(c.quantity_g) },
        { title: '状态', get: (c) => containerBadge(c.status) },
      ], rows, { empty: '库存中没有按容器申报的废物。' }),
      lots.length ? h('p.actions', lots.map((l) => link(`/labels?lot=${l.seq}`, `打印批次 ${l.seq} 的标签`))) : null);
  } catch (e) {
    mount(mine, errorNotice(e));
  }
}

async function renderOne(ctx, id) {
  const body = h('div');
  mount(ctx.main, heading('容器详情'), searchForm(ctx, id), body);
  mount(body, h('p.muted', '正在加载……'));
  let c;
  try {
    c = await ctx.api.get(`/v1/containers/${encodeURIComponent(id)}`);
  } catch (e) {
    mount(body, e instanceof ProblemError && e.status === 404
      ? notice('error', h('strong', `没有识别码为 ${id} 的容器，或本单位无权查看（只能查看本单位包装的容器和本单位参与的联单所列容器）。（not_found）`))
      : errorNotice(e));
    return;
  }
  const seg = parseContainerId(c.container);
  const manifests = [...new Set(c.trace.map((s) => s.manifest).filter(Boolean))];
  const [infos, cat, numbers] = await Promise.all([
    orgInfos(ctx, [c.org]),
    catalogueEntries([c.code], c.date).catch(() => new Map()),
    Promise.all(manifests.map((m) => ctx.api.get(`/v1/manifests/${m}`).then((v) => [m, v.number]).catch(() => [m, null])))
      .then((pairs) => new Map(pairs)),
  ]);
  const entry = cat.get(c.code);
  document.title = `容器 ${c.container} · 危险废物转移联单账本`;
  mount(body,
    h('section.card', { 'data-testid': 'container' },
      h('div.manifest-head',
        h('div',
          h('div.muted', '容器识别码'),
          h('div.manifest-number.mono.container-id', { 'data-testid': 'container-id' }, spacedId(c.container)),
          h('div', containerBadge(c.status))),
        h('div.actions', link(`/labels?id=${c.container}`, '打印标签'))),
      dl([
        ['包装单位', [infos[c.org]?.name || '', ' ', h('span.mono.muted', c.org)]],
        ['废物代码', [h('span.mono', c.code), entry ? ` ${entry.category} ${entry.description}` : '']],
        entry ? ['危险特性', hazardText(entry.hazard) || '—'] : null,
        ['包装日期', c.date],
        ['序号', seg ? String(seg.serial).padStart(3, '0') : '—'],
        ['所在批次', `第 ${c.lot} 条记录形成的批次`],
        ['重量', formatQuantity(c.quantity_g)],
      ])),
    h('h2', '流转记录'),
    h('p.muted', '账本中涉及该容器的每一条记录，按记账顺序；数量为该记录给出的重量（申报或签收称重）。'),
    stackTable([
      { title: '账本序号', class: 'num', get: (s) => h('a', { href: proofHref(s.seq), target: '_blank', rel: 'noopener' }, String(s.seq)) },
      { title: '步骤', get: (s) => label(EVENT_TYPES, s.type) },
      { title: '时间（北京时间）', get: (s) => formatTime(s.at) },
      { title: '联单', get: (s) => (s.manifest ? link(`/manifests/${numbers.get(s.manifest) || s.manifest}`, numbers.get(s.manifest) || s.manifest) : '—') },
      { title: '数量', class: 'num', get: (s) => formatQuantity(s.quantity_g) },
    ], c.trace, { empty: '暂无记录' }));
  body.querySelector('table')?.setAttribute('data-testid', 'container-trace');
}
