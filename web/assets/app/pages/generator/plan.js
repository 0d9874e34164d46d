// 年度管理计划 (HJ 1259-2022 §5): a generator files its plan for this CST year or the next
// (plan.filed): per waste code the quantity it plans to generate, optionally to treat on site,
// and to transfer to each receiver. Filing again for the same year replaces the plan (变更): the
// form opens with the plan in force filled in. The ledger judges manifests against it: a
// transfer to a receiver not in the plan opens 计划外转移, generation beyond it 超计划产生.

import { h, mount, field, fieldError, clearFieldErrors, notice, select, link } from '../../core/dom.js';
import { listOrgs, ProblemError } from '../../core/api.js';
import { errorNotice, heading, loading, orgIdError, setFlash } from '../../core/ui.js';
import { toGrams, fromGrams, QuantityError, UNITS } from '../../core/units.js';
import { formatTime, todayCst } from '../../core/time.js';
import { loadCatalogue } from '../shared/actions.js';

const MAX_LINES = 200;
const MAX_TRANSFERS = 50;
const CODE_RE = /^\d{3}-\d{3}-\d{2}$/;

export async function render(ctx) {
  const thisYear = +todayCst().slice(0, 4);
  const asked = +(ctx.query.year || 0);
  const year = asked === thisYear + 1 ? asked : thisYear;
  const body = h('div');
  mount(ctx.main,
    heading('年度管理计划', '填写本单位本年度或下一年度的危险废物管理计划：计划产生量、自行利用处置量，以及委托哪些持证单位接收多少。每年 3 月 31 日前备案；计划有变化的，重新备案即为变更，新计划替换原计划。'),
    body);
  await loading(body, async () => {
    const [cat, plan, receivers] = await Promise.all([
      // plan.filed checks codes against the catalogue edition in force on 1 January of the year.
      loadCatalogue(`${year}-01-01`),
      ctx.api.get(`/v1/plans/${encodeURIComponent(ctx.session.org)}/${year}`).catch((e) => {
        if (e instanceof ProblemError && e.status === 404) return null;
        throw e;
      }),
      listOrgs(ctx.api, { role: 'receiver' }).catch(() => null),
    ]);
    return { cat, plan, receivers };
  }, (data) => form(ctx, data, year, thisYear));
}

function form(ctx, { cat, plan, receivers }, year, thisYear) {
  const yearSel = select([[String(thisYear), `${thisYear} 年`], [String(thisYear + 1), `${thisYear + 1} 年`]],
    { value: String(year), 'data-testid': 'plan-year' });
  yearSel.addEventListener('change', () => ctx.navigate(`/plan?year=${yearSel.value}`));
  const unit = select(Object.entries(UNITS).map(([k, u]) => [k, u.label]), { value: 't', 'data-testid': 'unit' });
  let unitNow = unit.value;
  const receiverList = (receivers || []).filter((o) => o.org !== ctx.session.org);
  const lines = [];
  const linesEl = h('div.lines');
  const addLineButton = h('button', { type: 'button', 'data-testid': 'plan-add-line' }, '添加废物代码');
  const button = h('button.primary', { type: 'submit' }, '签名并备案');
  const out = h('div.out', { 'aria-live': 'polite' });
  let serial = 0;

  const quantityInput = (testid, grams) => h('input', {
    type: 'text', inputmode: 'decimal', autocomplete: 'off', 'data-testid': testid,
    value: grams === null || grams === undefined ? '' : fromGrams(grams, unit.value).replace(/,/g, ''),
  });

  function receiverControl(testid, value) {
    if (receivers === null) {
      return h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false', value: value || '', 'data-testid': testid });
    }
    const known = receiverList.some((o) => o.org === value);
    return select([['', '请选择接收单位'],
      ...(value && !known ? [[value, value]] : []),
      ...receiverList.map((o) => [o.org, `${o.name}（${o.org}）`])], { value: value || '', 'data-testid': testid });
  }

  function addTransfer(line, t) {
    if (line.transfers.length >= MAX_TRANSFERS) return;
    const m = ++line.transferSerial;
    const tr = {
      receiver: receiverControl(`plan-receiver-${line.n}-${m}`, t && t.receiver),
      quantity: quantityInput(`plan-transfer-${line.n}-${m}`, t && t.quantity_g),
    };
    tr.remove = h('button.link', { type: 'button', on: { click: () => { line.transfers.splice(line.transfers.indexOf(tr), 1); renderTransfers(line); } } }, '删除');
    line.transfers.push(tr);
    renderTransfers(line);
  }

  function renderTransfers(line) {
    mount(line.transfersEl, line.transfers.length
      ? line.transfers.map((tr) => h('div.row.transfer-row',
        field(receivers === null ? '接收单位（统一社会信用代码）' : '接收单位', tr.receiver),
        field('计划转移量', tr.quantity),
        h('div.field', tr.remove)))
      : h('p.muted', '不委托转移（全部自行利用处置或贮存）。'));
    line.addTransfer.hidden = line.transfers.length >= MAX_TRANSFERS;
  }

  function describe(line) {
    const c = cat.byCode.get(line.code.value.trim());
    line.codeInfo.textContent = c ? `${c.category} ${c.category_name}：${c.description}` : '';
  }

  function addLine(l) {
    if (lines.length >= MAX_LINES) return;
    const n = ++serial;
    const line = {
      n,
      code: h('input', { type: 'text', list: 'plan-codes', autocomplete: 'off', spellcheck: 'false', maxlength: 10, placeholder: '如 900-249-08', value: l ? l.code : '', 'data-testid': `plan-code-${n}` }),
      codeInfo: h('div.hint.code-info', { 'aria-live': 'polite' }),
      generate: quantityInput(`plan-generate-${n}`, l && l.generate_g),
      treat: quantityInput(`plan-treat-${n}`, l && l.treat_onsite_g),
      transfers: [],
      transferSerial: 0,
      transfersEl: h('div'),
    };
    line.addTransfer = h('button', { type: 'button', 'data-testid': `plan-add-transfer-${n}`, on: { click: () => { addTransfer(line); line.transfers.at(-1).receiver.focus(); } } }, '添加接收单位');
    line.remove = h('button.link', { type: 'button', on: { click: () => { lines.splice(lines.indexOf(line), 1); renderLines(); addLineButton.focus(); } } }, '删除此废物代码');
    line.code.addEventListener('input', () => describe(line));
    describe(line);
    lines.push(line);
    for (const t of (l && l.transfers) || []) addTransfer(line, t);
    if (!l) addTransfer(line);
    renderTransfers(line);
    renderLines();
  }

  function renderLines() {
    mount(linesEl, lines.map((l, i) => h('fieldset.line', { 'data-testid': `plan-line-${i + 1}` },
      h('legend', `第 ${i + 1} 项`),
      field('废物代码', l.code, `《国家危险废物名录》${cat.edition ? `（${cat.edition} 年版）` : ''}中的 8 位代码，可输入代码或名称查找。`),
      l.codeInfo,
      h('div.row',
        field('计划产生量', l.generate),
        field('计划自行利用处置量（可选）', l.treat)),
      h('fieldset.group', h('legend', '委托转移'), l.transfersEl, h('div.actions', l.addTransfer)),
      lines.length > 1 ? l.remove : null)));
    addLineButton.hidden = lines.length >= MAX_LINES;
  }

  unit.addEventListener('change', () => {
    // Quantities already typed keep their value in the new unit.
    const all = lines.flatMap((l) => [l.generate, l.treat, ...l.transfers.map((t) => t.quantity)]);
    for (const input of all) {
      try {
        if (input.value.trim()) input.value = fromGrams(toGrams(input.value, unitNow, { allowZero: true }), unit.value).replace(/,/g, '');
      } catch {
        /* left as typed; checked on submit */
      }
    }
    unitNow = unit.value;
  });
  addLineButton.addEventListener('click', () => {
    addLine();
    lines.at(-1).code.focus();
  });
  if (plan) for (const l of plan.lines) addLine(l);
  else addLine();

  function grams(input, { optional = false } = {}) {
    if (optional && !input.value.trim()) return undefined;
    try {
      return toGrams(input.value, unit.value, { allowZero: true });
    } catch (e) {
      if (e instanceof QuantityError) {
        fieldError(input, input.value.trim() ? e.message : '请填写数量（可以为 0）');
        return null;
      }
      throw e;
    }
  }

  function check() {
    const out = [];
    const seen = new Set();
    for (const l of lines) {
      const code = l.code.value.trim();
      if (!CODE_RE.test(code)) return fieldError(l.code, '废物代码的格式为 NNN-NNN-NN，例如 900-249-08'), null;
      if (!cat.byCode.has(code)) return fieldError(l.code, `${code} 不在 ${year} 年 1 月 1 日施行的《国家危险废物名录》中`), null;
      if (seen.has(code)) return fieldError(l.code, `废物代码 ${code} 已在前面填写，每个代码只填一项`), null;
      seen.add(code);
      const generate = grams(l.generate);
      if (generate === null) return null;
      const treat = grams(l.treat, { optional: true });
      if (treat === null) return null;
      const line = { code, generate_g: generate, transfers: [] };
      if (treat !== undefined) line.treat_onsite_g = treat;
      const receiversSeen = new Set();
      for (const t of l.transfers) {
        const r = t.receiver.value.trim().toUpperCase();
        if (!r) return fieldError(t.receiver, '请选择接收单位，或删除这一行'), null;
        const err = orgIdError(r);
        if (err) return fieldError(t.receiver, err), null;
        if (receiversSeen.has(r)) return fieldError(t.receiver, '同一废物代码下，每个接收单位只填一行'), null;
        receiversSeen.add(r);
        const q = grams(t.quantity);
        if (q === null) return null;
        line.transfers.push({ receiver: r, quantity_g: q });
      }
      out.push(line);
    }
    if (!out.length) return fieldError(addLineButton, '请至少填写一个废物代码'), null;
    return { org: ctx.session.org, year, lines: out };
  }

  const formEl = h('form.plan', { novalidate: true },
    h('datalist#plan-codes', cat.codes.map((c) => h('option', { value: c.code, label: `${c.category} ${c.description}` }))),
    field('计划年度', yearSel, '可以填写本年度或下一年度的计划。'),
    plan ? notice('info', h('div', { 'data-testid': 'plan-existing' },
      h('strong', `本单位已备案 ${year} 年管理计划（${formatTime(plan.at)}，账本第 ${plan.seq} 条）。`),
      ' 下面已填入该计划；修改后重新签名备案即为变更。', link(`/plan-status?year=${year}`, '查看执行情况'))) : null,
    receivers !== null && !receiverList.length ? notice('info', '账本中还没有登记接收单位，暂时只能填写产生量和自行利用处置量。') : null,
    field('数量单位', unit, '各项数量都用这个单位，精确到克；没有的填 0。'),
    linesEl,
    h('div.actions', addLineButton),
    h('div.actions', button),
    out);

  formEl.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(formEl);
    mount(out);
    const body = check();
    if (!body) return;
    button.disabled = true;
    mount(out, notice('info', '正在签名并提交……'));
    try {
      const entry = await ctx.api.submit('plan.filed', body);
      setFlash(`已备案 ${year} 年管理计划（${body.lines.length} 个废物代码），记入账本第 ${entry.seq} 条。`);
      ctx.navigate(`/plan-status?year=${year}`);
    } catch (e) {
      if (e instanceof ProblemError && e.code === 'bad_date') {
        mount(out, notice('error', h('strong', `只能备案本年度或下一年度的计划（${year} 年不在其中）。（bad_date）`)));
      } else {
        mount(out, errorNotice(e));
      }
    } finally {
      button.disabled = false;
    }
  });
  return [formEl];
}
