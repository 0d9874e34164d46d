// 总览: the proper-disposal rate (规范化处理率, protocol §8) and its breakdowns. Every figure is
// one answer of GET /v1/stats/disposal: the service keeps the sums, so the page never scans
// manifests and a ledger of millions of entries answers as fast as a small one. The calls are
// issued together and each section is drawn as soon as its own answers arrive, the headline
// first.

import { h, mount, field, fieldError, table, link } from '../../core/dom.js';
import { Api, listOrgs } from '../../core/api.js';
import { errorNotice, heading } from '../../core/ui.js';
import { formatQuantity, formatRate } from '../../core/units.js';
import { formatTime, todayCst, addDays, monthRange } from '../../core/time.js';
import { IMPROPER_KINDS, TICKET_KINDS, label } from '../../core/i18n.js';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const REGION_RE = /^\d{1,6}$/;
/** More rows than this in the region breakdown are grouped by city, then by province. */
const MAX_REGION_ROWS = 30;

/** The filters as the stats endpoint takes them, from the route's query. */
function filtersOf(query) {
  const f = {};
  if (DATE_RE.test(query.from || '')) f.from = query.from;
  if (DATE_RE.test(query.until || '')) f.to = addDays(query.until, 1);
  if (REGION_RE.test(query.region || '')) f.region = query.region;
  return f;
}

/** The twelve CST months ending with the month of `lastDay`, oldest first. */
function lastTwelveMonths(lastDay) {
  let year = Number(lastDay.slice(0, 4));
  let month = Number(lastDay.slice(5, 7));
  const out = [];
  for (let i = 0; i < 12; i++) {
    const [from, to] = monthRange(year, month);
    out.unshift({ label: from.slice(0, 7), from, to });
    month -= 1;
    if (month === 0) {
      month = 12;
      year -= 1;
    }
  }
  return out;
}

/** Intersection of a month with the period filter: null when they do not overlap. */
function clip(month, f) {
  const from = f.from && f.from > month.from ? f.from : month.from;
  const to = f.to && f.to < month.to ? f.to : month.to;
  return from < to ? { from, to } : null;
}

const total = (s) => s.proper_g + s.improper_g + s.pending_g + s.stored_g;

function figure(cls, value, labelText, hint) {
  return h(`div.figure${cls}`,
    h('div.value', value),
    h('div.label', labelText),
    hint ? h('div.hint', hint) : null);
}

/** The columns every breakdown table shares. */
function statColumns(first) {
  return [
    first,
    { title: '规范化处理率', class: 'num', get: (r) => (r.stats ? formatRate(r.stats.rate) : '…') },
    { title: '规范处置', class: 'num', get: (r) => (r.stats ? formatQuantity(r.stats.proper_g, 't') : '') },
    { title: '不规范', class: 'num', get: (r) => (r.stats ? formatQuantity(r.stats.improper_g, 't') : '') },
    { title: '在途及待处置', class: 'num', get: (r) => (r.stats ? formatQuantity(r.stats.pending_g, 't') : '') },
    { title: '产废单位贮存', class: 'num', get: (r) => (r.stats ? formatQuantity(r.stats.stored_g, 't') : '') },
  ];
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The monthly trend as an ECharts chart: tonnage bars and the rate as a line. */
function drawTrend(el, months) {
  if (!window.echarts) {
    mount(el, h('p.muted', '图表组件未能加载，请查看下方的按月数据表。'));
    return;
  }
  el.classList.add('chart');
  const chart = window.echarts.init(el, null, { renderer: 'canvas' });
  const tonnes = (g) => g / 1e6; // for bar heights only; every number shown is exact
  chart.setOption({
    animation: false,
    grid: { left: 56, right: 56, top: 40, bottom: 40 },
    legend: { top: 0, data: ['规范处置', '不规范', '规范化处理率'] },
    tooltip: {
      trigger: 'axis',
      // Our own text, escaped, without the default markers (their inline styles break the CSP).
      formatter: (items) => {
        const m = months[items[0].dataIndex];
        return [
          escapeHtml(m.label),
          `规范化处理率：${escapeHtml(formatRate(m.stats.rate))}`,
          `规范处置：${escapeHtml(formatQuantity(m.stats.proper_g, 't'))}`,
          `不规范：${escapeHtml(formatQuantity(m.stats.improper_g, 't'))}`,
        ].join('<br>');
      },
    },
    xAxis: { type: 'category', data: months.map((m) => m.label) },
    yAxis: [
      { type: 'value', name: '吨', minInterval: 0 },
      { type: 'value', name: '%', min: 0, max: 100, splitLine: { show: false } },
    ],
    series: [
      { name: '规范处置', type: 'bar', stack: 't', color: '#1a7f37', data: months.map((m) => tonnes(m.stats.proper_g)) },
      { name: '不规范', type: 'bar', stack: 't', color: '#b42318', data: months.map((m) => tonnes(m.stats.improper_g)) },
      {
        name: '规范化处理率', type: 'line', yAxisIndex: 1, color: '#1f4e9c', connectNulls: false,
        data: months.map((m) => (m.stats.rate === null ? null : Math.floor(m.stats.rate * 10000) / 100)),
      },
    ],
  });
  // Follow the layout (menu collapsing at phone width); stop once the page has been left.
  const ro = new ResizeObserver(() => {
    if (!el.isConnected) {
      ro.disconnect();
      chart.dispose();
      return;
    }
    chart.resize();
  });
  ro.observe(el);
}

/** Distinct regions of the generators, grouped coarser while there are too many rows. */
function regionGroups(orgs, prefix) {
  const regions = [...new Set(orgs.map((o) => o.region).filter((r) => r.startsWith(prefix || '')))].sort();
  for (const len of [6, 4, 2]) {
    if (len < (prefix || '').length) break;
    const groups = new Map();
    for (const r of regions) {
      const key = r.slice(0, len);
      groups.set(key, (groups.get(key) || 0) + orgs.filter((o) => o.region === r).length);
    }
    if (groups.size <= MAX_REGION_ROWS || len === 2) return { len, groups };
  }
  return { len: 6, groups: new Map() };
}

function filterForm(ctx, query) {
  const from = h('input', { type: 'date', value: query.from || '', name: 'from' });
  const until = h('input', { type: 'date', value: query.until || '', name: 'until' });
  const region = h('input', {
    type: 'text', inputmode: 'numeric', maxlength: 6, value: query.region || '', name: 'region',
    autocomplete: 'off', placeholder: '如 3204',
  });
  const form = h('form.filters', { novalidate: true, 'aria-label': '筛选' },
    field('开始日期', from),
    field('结束日期（含当天）', until),
    field('地区代码', region),
    h('div.actions',
      h('button.primary', { type: 'submit' }, '查询'),
      h('button', { type: 'button', on: { click: () => ctx.navigate('/overview') } }, '清除筛选')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const c of [from, until, region]) fieldError(c, '');
    const r = region.value.trim();
    if (r && !REGION_RE.test(r)) return fieldError(region, '地区代码应为 1 至 6 位数字（行政区划代码的前几位，如 32 江苏省、3204 常州市、320404 钟楼区）');
    if (from.value && until.value && until.value < from.value) return fieldError(until, '结束日期不能早于开始日期');
    const q = new URLSearchParams();
    if (from.value) q.set('from', from.value);
    if (until.value) q.set('until', until.value);
    if (r) q.set('region', r);
    const s = q.toString();
    ctx.navigate('/overview' + (s ? '?' + s : ''));
  });
  return form;
}

function describePeriod(query) {
  const parts = [];
  if (query.from || query.until) parts.push(`期间 ${query.from || '开始'} 至 ${query.until || '今天'}`);
  else parts.push('全部期间');
  if (query.region) parts.push(`地区代码以 ${query.region} 开头`);
  return parts.join('，');
}

export async function render(ctx) {
  const query = ctx.query;
  const f = filtersOf(query);
  const stats = (extra) => ctx.api.get('/v1/stats/disposal', { ...f, ...extra });

  const headEl = h('section.overview-head', { 'aria-live': 'polite' }, h('p.muted', '正在加载……'));
  const trendChart = h('div.trend-chart');
  const trendTable = h('div');
  const regionEl = h('div', h('p.muted', '正在加载……'));
  const categoryEl = h('div', h('p.muted', '正在加载……'));
  const kindEl = h('div.overview-kinds', h('p.muted', '正在加载……'));

  mount(ctx.main,
    heading('总览', '规范化处理率 = 规范处置量 ÷（规范处置量 + 不规范量）。所有数字由账本服务按《协议》第 8 节计算，任何人持有账本均可复算。'),
    filterForm(ctx, query),
    h('p.muted.filter-summary', describePeriod(query)),
    headEl,
    h('h2', '按月趋势（近 12 个月）'),
    trendChart,
    h('details.overview-data', h('summary', '按月数据表'), trendTable),
    h('h2', '按不规范类型'),
    kindEl,
    h('h2', '按地区'),
    regionEl,
    h('h2', '按废物类别'),
    categoryEl);

  // The headline goes out first, so that it is first in the browser's queue.
  const headline = stats();
  const lastDay = f.to ? addDays(f.to, -1) : todayCst();
  const months = lastTwelveMonths(lastDay);
  const monthCalls = months.map((m) => {
    const range = clip(m, f);
    return range ? stats(range) : Promise.resolve(null);
  });
  const orgsCall = listOrgs(ctx.api, { role: 'generator' });
  // The categories of the catalogue edition in force at the end of the period.
  const codesCall = Api.public('/v1/catalogue/codes', { date: lastDay });

  const sections = [];

  sections.push(headline.then((s) => {
    mount(headEl, h('div.overview-figures',
      figure('.big.rate', formatRate(s.rate), '规范化处理率'),
      h('div.grid.overview-tonnage',
        figure('.ok', formatQuantity(s.proper_g, 't'), '规范处置'),
        figure('.bad', formatQuantity(s.improper_g, 't'), '不规范'),
        figure('', formatQuantity(s.pending_g, 't'), '在途及待处置', '运输中、已接收待处置、接收单位贮存中'),
        figure('', formatQuantity(s.stored_g, 't'), '产废单位贮存', '尚未转移、仍在贮存期限内'))),
    h('p.muted', `截至 ${formatTime(s.as_of)}（中国标准时间），账本共 ${s.size} 条记录。`));
    const kinds = IMPROPER_KINDS.map((k) => ({ kind: k, grams: (s.improper_by_kind || {})[k] || 0 }));
    mount(kindEl, table([
      { title: '类型', get: (r) => link(`/tickets?kind=${r.kind}`, label(TICKET_KINDS, r.kind)) },
      { title: '数量', class: 'num', get: (r) => formatQuantity(r.grams, 't') },
      {
        title: '占不规范量', class: 'num', get: (r) => {
          const pct = s.improper_g ? (r.grams * 100) / s.improper_g : 0;
          const bar = h('span.share-bar', { 'aria-hidden': 'true' });
          bar.style.width = `${pct}%`;
          return h('span.share', h('span.share-track', bar), s.improper_g ? formatRate(r.grams / s.improper_g) : '—');
        },
      },
    ], kinds, { caption: `不规范合计 ${formatQuantity(s.improper_g, 't')}` }));
  }).catch((e) => {
    mount(headEl, errorNotice(e));
    mount(kindEl);
  }));

  sections.push(Promise.all(monthCalls).then((answers) => {
    months.forEach((m, i) => {
      m.stats = answers[i] || { proper_g: 0, improper_g: 0, pending_g: 0, stored_g: 0, rate: null };
    });
    drawTrend(trendChart, months);
    mount(trendTable, table(statColumns({ title: '月份', get: (r) => r.label }), months));
  }).catch((e) => mount(trendChart, errorNotice(e))));

  sections.push(orgsCall.then(async (orgs) => {
    if (orgs === null) {
      mount(regionEl, h('p.muted', '本服务尚未提供单位名录（GET /v1/orgs），暂不能按地区分列。可在上方“地区代码”中输入代码，查看某一地区的数字。'));
      return;
    }
    const { len, groups } = regionGroups(orgs, f.region);
    const rows = [...groups].map(([region, count]) => ({ region, count, stats: null }));
    const level = { 6: '区县', 4: '地市', 2: '省份' }[len];
    const draw = () => mount(regionEl, table(statColumns({
      title: `地区（${level}代码）`,
      get: (r) => link(`/overview?${new URLSearchParams({ ...(query.from ? { from: query.from } : {}), ...(query.until ? { until: query.until } : {}), region: r.region })}`, r.region),
    }).concat([{ title: '产废单位', class: 'num', get: (r) => String(r.count) }]), rows,
    { empty: '该地区没有登记的产废单位' }));
    draw();
    await Promise.all(rows.map(async (r) => {
      r.stats = await stats({ region: r.region });
    }));
    draw();
  }).catch((e) => mount(regionEl, errorNotice(e))));

  sections.push(codesCall.then(async (cat) => {
    const names = new Map();
    for (const c of cat.codes) if (!names.has(c.category)) names.set(c.category, c.category_name);
    const rows = [...names].sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([category, name]) => ({ category, name, stats: null }));
    await Promise.all(rows.map(async (r) => {
      r.stats = await stats({ category: r.category });
    }));
    const shown = rows.filter((r) => total(r.stats) > 0);
    mount(categoryEl,
      table(statColumns({ title: '类别', get: (r) => [h('strong.nowrap', r.category), ' ', h('span.category-name', r.name)] }), shown,
        { empty: '所选范围内没有危险废物记录' }),
      h('p.muted', `《国家危险废物名录》（${cat.edition} 年版）共 ${rows.length} 个类别，其余 ${rows.length - shown.length} 个类别在所选范围内没有记录。`));
  }).catch((e) => mount(categoryEl, errorNotice(e))));

  // Not awaited: the shell focuses the page at once, and each section fills in by itself.
  // `data-ready` tells a reader (and the browser tests) when every section has its answer.
  Promise.allSettled(sections).then(() => {
    headEl.dataset.ready = 'all';
  });
}
