// 打印联单: the manifest on one A4 sheet (危险废物转移联单), with its number as a QR code for the
// carrier's and receiver's phones, and each signed step's time, seq and entry hash so that the
// paper can be checked against the ledger by anyone.

import qrcode from '../../../vendor/qrcode.mjs';
import { h, mount, link, notice } from '../../core/dom.js';
import { ProblemError } from '../../core/api.js';
import { errorNotice } from '../../core/ui.js';
import { fromGrams } from '../../core/units.js';
import { formatTime } from '../../core/time.js';
import { MANIFEST_STATUS, EVENT_TYPES, label } from '../../core/i18n.js';
import { loadManifest, methodText } from './manifest.js';

const SVG = 'http://www.w3.org/2000/svg';

/** The QR code of `text` as an SVG built node by node (no markup strings, no inline script). */
export function qrSvg(text, { margin = 2, title } = {}) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const size = n + 2 * margin;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title || text);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', size);
  bg.setAttribute('height', size);
  bg.setAttribute('fill', '#fff');
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += `M${c + margin} ${r + margin}h1v1h-1z`;
    }
  }
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}

const PARTY_OF_STEP = {
  'manifest.opened': 'generator',
  'manifest.cancelled': 'generator',
  'manifest.picked_up': 'carrier',
  'manifest.received': 'receiver',
  'manifest.rejected': 'receiver',
  'manifest.disposed': 'receiver',
  'manifest.stored': 'receiver',
};

const t = (g) => (g === null || g === undefined ? '' : fromGrams(g, 't'));

export async function render(ctx) {
  const id = ctx.params.id;
  const body = h('div.print-wrap');
  mount(ctx.main, body);
  document.title = '打印联单 · 危险废物转移联单账本';
  mount(body, h('p.muted', '正在加载……'));
  let data;
  try {
    data = await loadManifest(ctx, id);
  } catch (e) {
    mount(body, e instanceof ProblemError && e.status === 404
      ? notice('error', h('strong', `没有编号为 ${id} 的联单，或本单位无权查看。（not_found）`))
      : errorNotice(e));
    return;
  }
  document.title = `危险废物转移联单 ${data.m.number}`;
  mount(body, sheet(data));
}

function party(title, infos, org, extra) {
  const i = infos[org];
  return h('section.party',
    h('h3', title),
    h('table.kv-print', h('tbody',
      h('tr', h('th', { scope: 'row' }, '单位名称'), h('td', i?.name || '')),
      h('tr', h('th', { scope: 'row' }, '统一社会信用代码'), h('td.mono', org || '')),
      h('tr', h('th', { scope: 'row' }, '行政区划'), h('td.mono', i?.region || '')),
      extra || null)));
}

function sheet({ m, infos, cat, extra, note, methods }) {
  const history = m.history || [];
  const total = m.lines.reduce((a, l) => a + l.quantity_g, 0);
  const anyReceived = m.lines.some((l) => l.received_g !== null && l.received_g !== undefined);
  const anyDisposed = m.lines.some((l) => l.disposed_g !== null && l.disposed_g !== undefined);
  return [
    h('div.actions.no-print',
      h('button.primary', { type: 'button', 'data-testid': 'print', on: { click: () => window.print() } }, '打印'),
      link(`/manifests/${m.number}`, '返回联单详情')),
    h('article.print-sheet', { 'data-testid': 'print-sheet' },
      h('header.sheet-head',
        h('div.sheet-title',
          h('h1', '危险废物转移联单'),
          h('dl.sheet-meta',
            h('dt', '联单编号'), h('dd.mono.sheet-number', m.number),
            h('dt', '状态'), h('dd', label(MANIFEST_STATUS, m.status)),
            h('dt', '联单标识'), h('dd.mono.small', m.manifest))),
        h('div.qr', { 'data-testid': 'qr' }, qrSvg(m.number, { title: `联单编号 ${m.number} 的二维码` }),
          h('div.small', '扫码核对联单编号'))),
      h('div.parties',
        party('第一部分　移出人（产废单位）', infos, m.generator),
        party('第二部分　承运人（运输单位）', infos, m.carrier,
          h('tr', h('th', { scope: 'row' }, '车辆号牌'), h('td', m.vehicle || ''))),
        party('第三部分　接收人（接收单位）', infos, m.receiver)),
      h('section',
        h('h3', '危险废物明细'),
        h('table.lines-print',
          h('thead', h('tr',
            ['序号', '废物代码', '废物类别', '废物名称', '形态', '包装', '运单数量（吨）', '实收数量（吨）', '利用/处置数量（吨）', '利用/处置方式']
              .map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', m.lines.map((l, i) => {
            const c = cat.get(l.code);
            const e = extra.get(l.code) || {};
            return h('tr',
              h('td.num', String(i + 1)),
              h('td.mono', l.code),
              h('td', c ? `${c.category} ${c.category_name}` : `HW${l.code.slice(-2)}`),
              h('td', c?.description || ''),
              h('td', e.form || ''),
              h('td', e.packaging || ''),
              h('td.num', t(l.quantity_g)),
              h('td.num', anyReceived ? t(l.received_g) : ''),
              h('td.num', anyDisposed ? t(l.disposed_g) : ''),
              h('td', l.method ? methodText(methods, l.method) : ''));
          })),
          h('tfoot', h('tr',
            h('th', { colspan: 6, scope: 'row' }, '合计'),
            h('td.num', t(total)),
            h('td.num', anyReceived ? t(m.lines.reduce((a, l) => a + (l.received_g || 0), 0)) : ''),
            h('td.num', anyDisposed ? t(m.lines.reduce((a, l) => a + (l.disposed_g || 0), 0)) : ''),
            h('td'))))),
      note ? h('section', h('h3', '备注'), h('p.note', note)) : null,
      h('section',
        h('h3', '流转记录（各步骤均经责任单位签名记入账本）'),
        h('table.steps-print',
          h('thead', h('tr', ['步骤', '签名单位', '时间（北京时间）', '账本序号', '记录哈希（SHA-256）']
            .map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', history.length ? history.map((s) => {
            const org = m[PARTY_OF_STEP[s.type]];
            return h('tr',
              h('td', label(EVENT_TYPES, s.type)),
              h('td', infos[org]?.name || org || ''),
              h('td', formatTime(s.at)),
              h('td.num', String(s.seq)),
              h('td.mono.hash', s.hash));
          }) : h('tr', h('td', { colspan: 5 }, '—'))))),
      h('footer.sheet-foot',
        h('p', '本联单内容取自危险废物转移联单账本。核验：以账本序号查询包含证明（/v1/proofs/inclusion?seq=序号），其叶哈希应与上表记录哈希一致。'),
        h('p', `打印时间 ${formatTime(new Date().toISOString())}（北京时间）`))),
  ];
}
