// 计划执行情况: a unit's annual management plan (the plan.filed in force for the year) against
// what the ledger holds (GET /v1/plans/{org}/{year}): per waste code planned against declared
// generation, and per receiver planned against shipped. Where the actual figure passes the
// plan the row is marked; beyond the ledger's tolerance (plan_excess_bp, default 20%) the ledger
// opens a 超计划产生 ticket itself. Regulators read any unit's plan (?org=).

import { h, mount, field, fieldError, notice, select, table, dl, badge, link, stackOnPhone } from '../../core/dom.js';
import { Api, orgNames, ProblemError } from '../../core/api.js';
import { errorNotice, heading, orgIdError, proofHref, takeFlash } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime, todayCst } from '../../core/time.js';
import { catalogueEntries } from '../shared/actions.js';

function route(q) {
  const p = new URLSearchParams();
  for (const k of ['org', 'year']) if (q[k]) p.set(k, q[k]);
  const s = p.toString();
  return '/plan-status' + (s ? '?' + s : '');
}

/** "63%" of a plan; '—' when nothing was planned. */
function share(actual, planned) {
  if (!planned) return actual ? '计划为 0' : '—';
  return `${Math.round((actual * 100) / planned)}%`;
}

/** A mark beside an actual figure: over the plan, and over it beyond the tolerance. */
function overMark(actual, planned, toleranceBp) {
  if (actual <= planned) return null;
  if (toleranceBp !== null && actual * 10000 > planned * (10000 + toleranceBp)) {
    return badge(`超出计划 ${toleranceBp / 100}% 以上`, 'bad');
  }
  return badge('超出计划', 'warn');
}

function pickForm(ctx, org, year, thisYear) {
  const years = [];
  for (let y = thisYear + 1; y >= thisYear - 4; y--) years.push([String(y), `${y} 年`]);
  const yearSel = select(years, { value: String(year), 'data-testid': 'plan-year' });
  const orgInput = ctx.session.has('regulator')
    ? h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false', value: org || '' }) : null;
  const form = h('form.filters', { novalidate: true, 'aria-label': '选择年度' },
    orgInput ? field('单位（统一社会信用代码）', orgInput) : null,
    field('年度', yearSel),
    h('div.actions', h('button.primary', { type: 'submit' }, '查看')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let o = '';
    if (orgInput) {
      fieldError(orgInput, '');
      o = orgInput.value.trim().toUpperCase();
      const err = orgIdError(o);
      if (err) return fieldError(orgInput, err);
    }
    ctx.navigate(route({ org: o, year: yearSel.value }));
  });
  return form;
}

export async function render(ctx) {
  const shown = takeFlash();
  const own = ctx.session.has('generator');
  const org = (ctx.query.org || (own ? ctx.session.org : '')).toUpperCase();
  const thisYear = +todayCst().slice(0, 4);
  const year = /^\d{4}$/.test(ctx.query.year || '') ? +ctx.query.year : thisYear;
  const out = h('div', { 'aria-live': 'polite' });
  mount(ctx.main,
    heading('计划执行情况', '年度管理计划与账本记录的对比：计划产生量与实际申报登记量，计划转移量与实际转移量（按起运日期计入当年）。'),
    shown,
    pickForm(ctx, org, year, thisYear),
    out);
  if (!org) {
    mount(out, notice('info', '请填写要查看的单位。'));
    return;
  }
  mount(out, h('p.muted', '正在加载……'));
  let plan;
  let ledger;
  try {
    [plan, ledger] = await Promise.all([
      ctx.api.get(`/v1/plans/${encodeURIComponent(org)}/${year}`),
      Api.public('/v1/ledger').catch(() => null),
    ]);
  } catch (e) {
    if (e instanceof ProblemError && e.status === 404) {
      const mine = org === ctx.session.org && own;
      mount(out, notice('info', h('div', { 'data-testid': 'no-plan' },
        h('strong', `${mine ? '本单位' : `单位 ${org} `}没有备案 ${year} 年的管理计划。`),
        mine && year >= thisYear ? [' ', link(`/plan?year=${year}`, `填写 ${year} 年管理计划`)] : null)));
    } else {
      mount(out, errorNotice(e));
    }
    return;
  }
  const tolerance = ledger && ledger.limits ? (ledger.limits.plan_excess_bp ?? 2000) : null;
  // Plans are judged only for years that begin on or after compliance_from (protocol §7).
  const from = ledger && ledger.limits ? ledger.limits.compliance_from : undefined;
  const judged = from === undefined ? null : Boolean(from) && `${year}-01-01` >= from;
  const receivers = plan.lines.flatMap((l) => l.transfers.map((t) => t.receiver));
  const [names, cat] = await Promise.all([
    orgNames(ctx.api, [org, ...receivers]),
    catalogueEntries(plan.lines.map((l) => l.code), `${year}-01-01`).catch(() => new Map()),
  ]);
  const over = plan.lines.filter((l) => l.declared_g > l.generate_g).length
    + plan.lines.flatMap((l) => l.transfers).filter((t) => t.shipped_g > t.quantity_g).length;
  const transfers = plan.lines.flatMap((l) => l.transfers.map((t) => ({ ...t, code: l.code })));
  const mine = org === ctx.session.org && own;
  mount(out,
    h('section.card', dl([
      ['单位', h('span', names.get(org) || '', ' ', h('span.mono', org))],
      ['年度', `${plan.year} 年`],
      ['备案记录', h('span', `${formatTime(plan.at)}，`, h('a', { href: proofHref(plan.seq), target: '_blank', rel: 'noopener' }, `账本第 ${plan.seq} 条`))],
    ])),
    over ? notice('error', h('strong', { 'data-testid': 'plan-over' }, `有 ${over} 项实际数量超出计划。`),
      tolerance !== null ? h('div.detail', judged === false
        ? `${year} 年开始于账本启用合规检查（${from || '未启用'}）之前，本年度超出计划不自动立案。计划有变化的，仍应及时变更管理计划。`
        : `实际产生量超出计划产生量 ${tolerance / 100}% 以上时，账本自动立案“超计划产生”；向计划外的接收单位转移时自动立案“计划外转移”。计划有变化的，请及时变更管理计划。`) : null)
      : notice('ok', '各项实际数量均未超出计划。'),
    h('h2', '产生与自行利用处置'),
    stackOnPhone(table([
      { title: '废物代码', class: 'nowrap', get: (l) => h('span.mono', l.code) },
      { title: '废物名称', get: (l) => cat.get(l.code)?.description || '—' },
      { title: '计划产生量', class: 'num', get: (l) => formatQuantity(l.generate_g, 't') },
      { title: '实际产生量（申报登记）', class: 'num', get: (l) => [h('span', formatQuantity(l.declared_g, 't')), ' ', overMark(l.declared_g, l.generate_g, tolerance)] },
      { title: '完成比例', class: 'num', get: (l) => share(l.declared_g, l.generate_g) },
      { title: '计划自行利用处置量', class: 'num', get: (l) => (l.treat_onsite_g === null || l.treat_onsite_g === undefined ? '—' : formatQuantity(l.treat_onsite_g, 't')) },
    ], plan.lines, { caption: `${plan.year} 年计划产生量与实际产生量` })),
    h('h2', '委托转移'),
    stackOnPhone(table([
      { title: '废物代码', class: 'nowrap', get: (t) => h('span.mono', t.code) },
      { title: '接收单位', get: (t) => [names.get(t.receiver) || '', ' ', h('span.mono.small', t.receiver)] },
      { title: '计划转移量', class: 'num', get: (t) => formatQuantity(t.quantity_g, 't') },
      { title: '实际转移量', class: 'num', get: (t) => [h('span', formatQuantity(t.shipped_g, 't')), ' ', overMark(t.shipped_g, t.quantity_g, null)] },
      { title: '完成比例', class: 'num', get: (t) => share(t.shipped_g, t.quantity_g) },
    ], transfers, { empty: '计划中没有委托转移', caption: `${plan.year} 年计划转移量与实际转移量` })),
    h('p.muted.small', '实际转移量只计本单位申报登记的废物在当年起运、未被拒收的部分。向计划外接收单位的转移不在此表，见合规问题中的“计划外转移”。'),
    h('div.actions',
      mine && plan.year >= thisYear ? link(`/plan?year=${plan.year}`, '变更管理计划') : null,
      link(`/compliance${ctx.session.has('regulator') ? `?org=${org}` : ''}`, '查看合规问题')));
}
