// 本单位指标: the proper-disposal rate (规范化处理率) of the signed-in generator's own waste, as the
// ledger computes it (protocol §8), for a period chosen by dates.

import { h, mount, field, fieldError, table, link } from '../../core/dom.js';
import { heading, errorNotice } from '../../core/ui.js';
import { formatQuantity, formatRate } from '../../core/units.js';
import { formatTime, todayCst } from '../../core/time.js';
import { TICKET_KINDS, IMPROPER_KINDS, label } from '../../core/i18n.js';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export async function render(ctx) {
  const q = ctx.query;
  const from = h('input', { type: 'date', value: q.from || '', 'data-testid': 'from' });
  const to = h('input', { type: 'date', value: q.to || '', 'data-testid': 'to' });
  const year = todayCst().slice(0, 4);
  const quick = (text, f, t) => h('button', {
    type: 'button', on: { click: () => go(f, t) },
  }, text);
  const go = (f, t) => {
    const qs = new URLSearchParams(Object.entries({ from: f, to: t }).filter(([, v]) => v)).toString();
    ctx.navigate('/figures' + (qs ? '?' + qs : ''));
  };
  const button = h('button.primary', { type: 'submit' }, '查询');
  const form = h('form.filters', { novalidate: true, 'aria-label': '统计期间' },
    field('自（含）', from),
    field('至（不含）', to),
    h('div.field.buttons', h('div.actions', button,
      quick(`${year} 年`, `${year}-01-01`, `${+year + 1}-01-01`),
      quick('全部', '', ''))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(from, '');
    fieldError(to, '');
    if (from.value && !DATE_RE.test(from.value)) return fieldError(from, '请填写有效日期');
    if (to.value && !DATE_RE.test(to.value)) return fieldError(to, '请填写有效日期');
    if (from.value && to.value && from.value >= to.value) return fieldError(to, '结束日期应晚于开始日期');
    go(from.value, to.value);
  });

  const out = h('div', { 'aria-live': 'polite' });
  mount(ctx.main,
    heading('本单位指标', '本单位产生的危险废物去向：规范化处理率 = 规范处理量 ÷（规范处理量 + 不规范处理量）。尚在途、待处置和在库的废物不计入比率。'),
    form, out);
  mount(out, h('p.muted', '正在加载……'));
  let s;
  try {
    s = await ctx.api.get('/v1/stats/disposal', { org: ctx.session.org, from: q.from, to: q.to });
  } catch (e) {
    mount(out, errorNotice(e));
    return;
  }
  mount(out, view(s, q));
}

function view(s, q) {
  const period = q.from || q.to ? `${q.from || '最早'} 至 ${q.to ? q.to + '（不含）' : '今天'}` : '全部期间';
  const kinds = IMPROPER_KINDS.map((k) => ({ kind: k, g: s.improper_by_kind?.[k] ?? 0 }));
  const compliance = Object.entries(s.compliance_by_kind || {});
  const figure = (value, text, cls = '') => h(`div.figure${cls}`, h('div.value', value), h('div.label', text));
  return [
    h('p.muted', `统计期间：${period}；按产生日期（库存）、起运日期（已转移）选取；截至 ${formatTime(s.as_of)}（账本第 ${s.size} 条）。`),
    h('div.grid',
      figure(formatRate(s.rate), '规范化处理率', '.big'),
      figure(formatQuantity(s.proper_g), '规范处理量（含自行利用/处置）'),
      figure(formatQuantity(s.improper_g), '不规范处理量'),
      figure(formatQuantity(s.pending_g), '在途或待处置'),
      figure(formatQuantity(s.stored_g), '本单位贮存中'),
      s.treated_onsite_g !== undefined ? figure(formatQuantity(s.treated_onsite_g), '其中自行利用/处置') : null),
    h('h2', '不规范处理，按问题类型'),
    table([
      { title: '问题类型', get: (r) => label(TICKET_KINDS, r.kind) },
      { title: '数量', class: 'num', get: (r) => formatQuantity(r.g) },
    ], kinds),
    compliance.length ? [
      h('h2', '合规事项（次数）'),
      table([
        { title: '事项', get: ([k]) => label(TICKET_KINDS, k) },
        { title: '次数', class: 'num', get: ([, n]) => String(n) },
      ], compliance),
    ] : null,
    h('p', link('/tickets', '查看本单位的问题清单'), h('span.muted', '：每一项不规范处理都对应一条自动立案的问题。')),
  ];
}
