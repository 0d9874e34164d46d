// 容器标签: printable labels of hazardous waste containers (危险废物标签, HJ 1276-2022) on A4
// sheets, eight to a page: the waste's name, category and code, its hazards, the packing date,
// the producing unit, the weight, and the container's 37-character 数字识别码 in text and as a QR
// code (read back by the dock's scanner and by 容器查询).
//   #/labels?lot=<seq>   every container of one of the org's lots (a regulator adds &org=; a
//                        storing makes one lot per line, all of one seq, so &code= picks one)
//   #/labels?id=<code>   one container

import { h, mount, link, notice } from '../../core/dom.js';
import { ProblemError } from '../../core/api.js';
import { errorNotice } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime } from '../../core/time.js';
import { spacedId } from '../../core/containers.js';
import { catalogueEntries, hazardText, orgInfos } from './actions.js';
import { qrSvg } from './print.js';

/** The containers to label: [{id, code, date, quantity_g, org}], and what they are, for the title. */
async function load(ctx) {
  const q = ctx.query;
  if (q.id) {
    const c = await ctx.api.get(`/v1/containers/${encodeURIComponent(q.id)}`);
    return { what: `容器 ${c.container}`, items: [{ id: c.container, code: c.code, date: c.date, quantity_g: c.quantity_g, org: c.org }] };
  }
  if (q.lot) {
    const holder = q.org || ctx.session.org;
    const lots = await ctx.api.all('/v1/stock', { generator: holder, all: 'true' }, 'lots', 100000);
    // A storing makes one lot per line, all named by its seq: every one of them, or `code`'s.
    const found = lots.filter((l) => String(l.seq) === String(q.lot) && (!q.code || l.code === q.code));
    if (!found.length) {
      const err = new Error(`单位 ${holder} 没有批次 ${q.lot}，或本单位无权查看。`);
      err.notFound = true;
      throw err;
    }
    const boxed = found.filter((l) => l.containers && l.containers.length);
    if (!boxed.length) {
      const err = new Error(`批次 ${q.lot} 不是按容器申报的，没有容器标签。`);
      err.notFound = true;
      throw err;
    }
    return {
      what: `批次 ${q.lot}`,
      items: boxed.flatMap((lot) => lot.containers.map((c) => ({ id: c.id, code: lot.code, date: lot.date, quantity_g: c.quantity_g, org: c.id.slice(0, 18) }))),
    };
  }
  const err = new Error('请从“申报登记”“容器查询”或“我的库存”打开标签：地址中需要批次（lot）或容器识别码（id）。');
  err.notFound = true;
  throw err;
}

export async function render(ctx) {
  const body = h('div.print-wrap');
  mount(ctx.main, body);
  document.title = '容器标签 · 危险废物转移联单账本';
  mount(body, h('p.muted', '正在加载……'));
  let data;
  try {
    data = await load(ctx);
  } catch (e) {
    mount(body,
      e.notFound ? notice('error', h('strong', e.message))
        : e instanceof ProblemError && e.status === 404
          ? notice('error', h('strong', `没有识别码为 ${ctx.query.id} 的容器，或本单位无权查看。（not_found）`))
          : errorNotice(e),
      h('p', link('/containers', '容器查询')));
    return;
  }
  const orgs = [...new Set(data.items.map((i) => i.org))];
  const codes = [...new Set(data.items.map((i) => i.code))];
  const [infos, cat] = await Promise.all([
    orgInfos(ctx, orgs),
    catalogueEntries(codes, data.items[0].date).catch(() => new Map()),
  ]);
  document.title = `危险废物标签 ${data.what}`;
  mount(body,
    h('div.actions.no-print',
      h('button.primary', { type: 'button', 'data-testid': 'print', on: { click: () => window.print() } }, '打印'),
      link('/containers', '容器查询'),
      h('span.muted', `共 ${data.items.length} 张标签，A4 纸每页 8 张。打印时请选择“实际大小”。`)),
    h('div.label-sheet', { 'data-testid': 'label-sheet' }, data.items.map((i) => labelOf(i, cat.get(i.code), infos[i.org]))),
    h('p.muted.no-print', `生成时间 ${formatTime(new Date().toISOString())}（北京时间）`));
}

function row(title, value, cls) {
  return h('tr', h('th', { scope: 'row' }, title), h(cls ? `td.${cls}` : 'td', value));
}

function labelOf(item, entry, org) {
  return h('article.hw-label', { 'data-testid': 'label', 'data-container': item.id },
    h('header.hw-label-head', '危险废物'),
    h('div.hw-label-body',
      h('table.hw-label-facts', h('tbody',
        row('废物名称', entry ? entry.description : '', 'hw-name'),
        row('废物类别', entry ? `${entry.category} ${entry.category_name}` : `HW${item.code.slice(-2)}`),
        row('废物代码', item.code, 'mono'),
        row('危险特性', entry ? hazardText(entry.hazard) : ''),
        row('产生日期', item.date),
        row('重量', formatQuantity(item.quantity_g)),
        row('产生单位', org ? org.name : item.org),
        row('单位代码', item.org, 'mono'))),
      h('div.hw-label-qr', qrSvg(item.id, { title: `容器识别码 ${item.id} 的二维码` }))),
    h('footer.hw-label-id',
      h('span.hw-label-id-title', '数字识别码'),
      h('span.mono', spacedId(item.id))));
}
