// 定期申报 (HJ 1259-2022 §7, 附录C): the declaration report of a unit for a month, quarter or
// year, as the ledger computes it from the unit's own entries (protocol §6 Declarations): stock
// at the start, waste generated, treated on site by method, transferred by receiver and licence,
// stock at the end. The unit confirms it with one signed declaration.filed over the hash of the
// report just shown; when new entries changed the report meanwhile, the ledger refuses
// (report_mismatch) and the page shows the new report to confirm again.
// Regulators read any unit's report (?org=); only the unit itself declares.

import { h, mount, field, fieldError, notice, select, table, dl, download, link, stackOnPhone } from '../../core/dom.js';
import { orgNames, ProblemError } from '../../core/api.js';
import { errorNotice, heading, orgIdError, proofHref } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { todayCst, addDays, parsePeriod, periodText, lastEndedPeriods } from '../../core/time.js';
import { MANAGEMENT_CLASSES, CLASS_PERIODS, label } from '../../core/i18n.js';
import { catalogueEntries, loadMethods } from '../shared/actions.js';

const KINDS = [['month', '月度'], ['quarter', '季度'], ['year', '年度']];

/** Which kinds of period each class owes (protocol §6): key months and years, and so on. */
const OWED = { key: ['month', 'year'], simplified: ['quarter', 'year'], registered: ['year'] };

function route(q) {
  const p = new URLSearchParams();
  for (const k of ['org', 'period']) if (q[k]) p.set(k, q[k]);
  const s = p.toString();
  return '/declaration' + (s ? '?' + s : '');
}

function periodForm(ctx, current, org, today) {
  const thisYear = +today.slice(0, 4);
  const cur = parsePeriod(current) || parsePeriod(lastEndedPeriods(today).month);
  const kind = select(KINDS, { value: cur.kind, 'data-testid': 'period-kind' });
  const years = [];
  for (let y = thisYear; y >= thisYear - 5; y--) years.push([String(y), `${y} 年`]);
  const year = select(years, { value: String(cur.year), 'data-testid': 'period-year' });
  const months = select(Array.from({ length: 12 }, (_, i) => [String(i + 1).padStart(2, '0'), `${i + 1} 月`]),
    { value: cur.kind === 'month' ? String(cur.n).padStart(2, '0') : '01', 'data-testid': 'period-month' });
  const quarters = select([1, 2, 3, 4].map((q) => [String(q), `第 ${q} 季度`]),
    { value: cur.kind === 'quarter' ? String(cur.n) : '1', 'data-testid': 'period-quarter' });
  const monthField = field('月份', months);
  const quarterField = field('季度', quarters);
  const orgInput = ctx.session.has('regulator')
    ? h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false', value: org || '' }) : null;
  const showParts = () => {
    monthField.hidden = kind.value !== 'month';
    quarterField.hidden = kind.value !== 'quarter';
  };
  kind.addEventListener('change', showParts);
  showParts();
  const form = h('form.filters', { novalidate: true, 'aria-label': '申报期间' },
    orgInput ? field('单位（统一社会信用代码）', orgInput) : null,
    field('申报周期', kind),
    field('年份', year),
    monthField,
    quarterField,
    h('div.actions', h('button.primary', { type: 'submit' }, '生成报表')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let o = org;
    if (orgInput) {
      fieldError(orgInput, '');
      o = orgInput.value.trim().toUpperCase();
      const err = orgIdError(o);
      if (err) return fieldError(orgInput, err);
    }
    const period = kind.value === 'month' ? `${year.value}-${months.value}`
      : kind.value === 'quarter' ? `${year.value}-Q${quarters.value}` : year.value;
    ctx.navigate(route({ org: orgInput ? o : '', period }));
  });
  const ended = lastEndedPeriods(today);
  const quick = h('div.actions', h('span.muted', '快捷选择：'),
    [['上月', ended.month], ['上季度', ended.quarter], ['上年', ended.year]].map(([text, p]) => h('button', {
      type: 'button', on: { click: () => ctx.navigate(route({ org: orgInput ? org : '', period: p })) },
    }, `${text}（${periodText(p)}）`)));
  return [form, org || !orgInput ? quick : null];
}

/** "本单位（重点监管）按月、按年申报；本期无须申报" and the like. */
function classLine(cls, period) {
  const owed = (OWED[cls] || []).includes(period.kind);
  return [
    h('strong', { 'data-testid': 'report-class' }, label(MANAGEMENT_CLASSES, cls)),
    `：${CLASS_PERIODS[cls] || ''}`,
    owed ? '' : h('span.muted', `（${KINDS.find(([k]) => k === period.kind)[1]}申报不是该类别的义务，可自愿申报）`),
  ];
}

async function loadReport(ctx, org, period) {
  const report = await ctx.api.get('/v1/reports/declaration', { org, period });
  const p = parsePeriod(period);
  const receivers = report.lines.flatMap((l) => l.transferred.map((t) => t.receiver));
  const [names, methods, cat, filed] = await Promise.all([
    orgNames(ctx.api, receivers),
    loadMethods().catch(() => []),
    catalogueEntries(report.lines.map((l) => l.code), addDays(p.to, -1)).catch(() => new Map()),
    ctx.api.get(`/v1/declarations/${encodeURIComponent(org)}`).then(
      (d) => d.declarations.find((x) => x.period === report.period) || null,
      () => undefined),
  ]);
  return { report, names, methods: new Map(methods.map((m) => [m.code, m.name])), cat, filed };
}

/** 已申报 / 未申报, and whether the filed hash is still the report's. */
function filedLine(filed, report) {
  if (filed === undefined) return '—';
  if (!filed) return h('span', { 'data-testid': 'declaration-status' }, '未申报');
  const same = filed.report_sha256 === report.report_sha256;
  return h('span', { 'data-testid': 'declaration-status' },
    h('strong', `已申报（账本第 ${filed.seq} 条，${filed.at.replace('T', ' ').replace('Z', ' UTC')}）`),
    same ? '，与当前报表一致'
      : h('span.muted', '；申报之后账本有影响本期的新记录，当前报表与申报时不同，可重新确认申报'));
}

function reportTable({ report, names, methods, cat }) {
  const list = (items, text) => (items.length
    ? h('ul.plain', items.map((x) => h('li', text(x))))
    : '—');
  return stackOnPhone(table([
    { title: '废物代码', class: 'nowrap', get: (l) => h('span.mono', l.code) },
    { title: '废物名称', get: (l) => cat.get(l.code)?.description || '—' },
    { title: '上期末库存', class: 'num', get: (l) => formatQuantity(l.opening_stock_g, 't') },
    { title: '产生量', class: 'num', get: (l) => formatQuantity(l.generated_g, 't') },
    {
      title: '自行利用处置（方式：数量）',
      get: (l) => list(l.treated_onsite, (t) => `${t.method}${methods.get(t.method) ? ' ' + methods.get(t.method) : ''}：${formatQuantity(t.quantity_g, 't')}`),
    },
    {
      title: '委托转移（接收单位、许可证：数量）',
      get: (l) => list(l.transferred, (t) => [
        names.get(t.receiver) || t.receiver,
        h('span.muted', `（许可证 ${t.license}）`),
        `：${formatQuantity(t.quantity_g, 't')}`,
      ]),
    },
    { title: '本期末库存', class: 'num', get: (l) => formatQuantity(l.closing_stock_g, 't') },
  ], report.lines, {
    empty: '本期没有产生、贮存、自行利用处置或转移危险废物',
    caption: `${periodText(report.period)}危险废物申报表`,
  }));
}

export async function render(ctx) {
  const regulator = ctx.session.has('regulator');
  const own = ctx.session.has('generator');
  const org = (ctx.query.org || (own ? ctx.session.org : '')).toUpperCase();
  const today = todayCst();
  // By default the last period the unit's class asks for: 重点监管 a month, 简化管理 a quarter,
  // 登记管理 a year (a regulator looking at another unit: last month).
  const ended = lastEndedPeriods(today);
  const cls = org === ctx.session.org && ctx.session.orgInfo.class ? ctx.session.orgInfo.class.class : 'key';
  const byClass = { key: ended.month, simplified: ended.quarter, registered: ended.year };
  const period = ctx.query.period || (org ? byClass[cls] || ended.month : '');
  const out = h('div', { 'aria-live': 'polite' });
  mount(ctx.main,
    heading('定期申报', '按《危险废物管理计划和管理台账制定技术导则》（HJ 1259-2022），由账本记录生成本单位的申报表：期初库存、产生量、自行利用处置量、委托转移量和期末库存。核对无误后一键确认申报。'),
    periodForm(ctx, period, org, today),
    out);
  if (!org) {
    mount(out, notice('info', '请填写要查看的单位。'));
    return;
  }
  const p = parsePeriod(period);
  if (!p) {
    mount(out, notice('error', h('strong', `“${period}” 不是有效的申报期间：应为月份（如 2026-03）、季度（如 2026-Q1）或年份（如 2026）。`)));
    return;
  }
  await showReport(ctx, out, org, period, today, null);
}

/**
 * Loads and shows the report, with `before` (a notice) above it; the confirm button signs
 * declaration.filed over exactly the hash shown.
 */
async function showReport(ctx, out, org, period, today, before) {
  mount(out, before, h('p.muted', '正在加载……'));
  let data;
  try {
    data = await loadReport(ctx, org, period);
  } catch (e) {
    mount(out, before, e instanceof ProblemError && e.status === 404
      ? notice('error', h('strong', `没有统一社会信用代码为 ${org} 的单位，或无权查看其申报表。`)) : errorNotice(e));
    return;
  }
  const { report } = data;
  const p = parsePeriod(report.period);
  const ended = today >= report.to;
  const mine = org === ctx.session.org && ctx.session.has('generator');

  const csvButton = h('button', { type: 'button', 'data-testid': 'report-csv' }, '下载 CSV（附录C 格式）');
  const csvOut = h('div');
  csvButton.addEventListener('click', async () => {
    csvButton.disabled = true;
    mount(csvOut);
    try {
      const blob = await ctx.api.blob('/v1/reports/declaration.csv', { org, period: report.period, size: report.size });
      download(blob, `危险废物申报表-${org}-${report.period}.csv`);
    } catch (e) {
      mount(csvOut, errorNotice(e));
    } finally {
      csvButton.disabled = false;
    }
  });

  const fileOut = h('div.out', { 'aria-live': 'polite' });
  const fileButton = h('button.primary', { type: 'button', 'data-testid': 'file-declaration', disabled: !ended }, '确认申报');
  fileButton.addEventListener('click', async () => {
    fileButton.disabled = true;
    mount(fileOut, notice('info', '正在签名并提交……'));
    try {
      const entry = await ctx.api.submit('declaration.filed', { org, period: report.period, report_sha256: report.report_sha256 });
      mount(fileOut, notice('ok', h('div', { 'data-testid': 'declaration-filed' },
        h('strong', `已申报${periodText(report.period)}，记入账本第 ${entry.seq} 条。`), ' ',
        h('a', { href: proofHref(entry.seq), target: '_blank', rel: 'noopener' }, '查看包含证明'),
        h('div.detail', '如需更正，可在账本记录变更后重新确认申报，新的申报替换原申报。'))));
    } catch (e) {
      if (e instanceof ProblemError && e.code === 'report_mismatch') {
        await showReport(ctx, out, org, period, today, notice('error', h('div', { 'data-testid': 'report-changed' },
          h('strong', '申报未被接受：在您查看报表之后，账本中新增了影响本期报表的记录（如补录的申报登记、自行利用处置或联单），报表已经变化。'),
          h('div.detail', '下面是按最新账本重新生成的报表，请核对后再确认申报。（report_mismatch）'))));
        return;
      }
      if (e instanceof ProblemError && e.code === 'bad_date') {
        mount(fileOut, notice('error', h('strong', `${periodText(report.period)}尚未结束，期满后（${report.to} 起）才能申报。（bad_date）`)));
      } else {
        mount(fileOut, errorNotice(e));
      }
    } finally {
      fileButton.disabled = !ended;
    }
  });

  mount(out,
    before,
    h('section.card', { 'data-testid': 'report-head' }, dl([
      ['单位', h('span', data.names.get(org) || (org === ctx.session.org ? ctx.session.orgInfo.name : ''), ' ', h('span.mono', org))],
      ['申报期间', `${periodText(report.period)}（${report.from} 至 ${addDays(report.to, -1)}）`],
      ['管理类别', classLine(report.class, p)],
      ['依据', `账本前 ${report.size} 条记录`],
      ['申报状态', filedLine(data.filed, report)],
      ['报表摘要（SHA-256）', h('span.mono.small', { 'data-testid': 'report-sha256' }, report.report_sha256)],
    ])),
    reportTable(data),
    h('p.muted.small', '数量单位：吨（精确到克）。期末库存 = 期初库存 + 产生量 − 自行利用处置量 − 委托转移量。委托转移按运输单位起运日期计入。'),
    h('div.actions', csvButton, mine ? fileButton : null),
    csvOut,
    mine && !ended ? notice('info', `${periodText(report.period)}尚未结束，期满后（${report.to} 起）才能确认申报；现在显示的是截至目前的数字。`) : null,
    mine ? fileOut : null,
    !mine ? h('p.muted', '申报由该单位自行签名确认。') : null,
    h('p', link(`/compliance${ctx.session.has('regulator') ? `?org=${org}` : ''}`, '查看合规问题（逾期未申报等）')));
}
