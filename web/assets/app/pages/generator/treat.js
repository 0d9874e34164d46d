// 自行利用/处置: a generator treats its own waste in one of its own utilize or dispose
// facilities (HJ 1259 B.4), signing waste.treated. The waste leaves its lots at once: loose
// stock by quantity, waste declared in containers by naming the containers. No licence is
// needed; the facility's methods and yearly capacity apply, and the service judges them.

import { h, mount, field, fieldError, clearFieldErrors, notice, select, link, dl } from '../../core/dom.js';
import { Api } from '../../core/api.js';
import { act, heading, loading } from '../../core/ui.js';
import { toGrams, fromGrams, formatQuantity, QuantityError, UNITS } from '../../core/units.js';
import { todayCst, addDays } from '../../core/time.js';
import { spacedId } from '../../core/containers.js';
import { FACILITY_KINDS, label } from '../../core/i18n.js';
import { catalogueEntries, loadMethods } from '../shared/actions.js';

export async function render(ctx) {
  const body = h('div');
  mount(ctx.main,
    heading('自行利用处置', '在本单位登记的利用或处置设施内，利用或处置本单位申报的危险废物。签名后相应库存立即减少，计入规范化处理量。'),
    body);
  const today = todayCst();
  await loading(body, async () => {
    const [facilities, lots, methods, ledger] = await Promise.all([
      ctx.api.get('/v1/facilities', { org: ctx.session.org })
        .then((r) => r.facilities.filter((f) => f.kind !== 'storage' && f.status === 'active')),
      ctx.api.all('/v1/stock', { generator: ctx.session.org }, 'lots'),
      loadMethods(),
      Api.public('/v1/ledger'),
    ]);
    const own = lots.filter((l) => !l.origin);
    const cat = await catalogueEntries([...new Set(own.map((l) => l.code))], today);
    return { facilities, lots: own, methods: new Map(methods.map((m) => [m.code, m])), ledger, cat };
  }, (data) => form(ctx, data, today));
}

function form(ctx, { facilities, lots, methods, ledger, cat }, today) {
  if (!facilities.length) {
    return [notice('info', h('strong', '本单位没有在用的利用或处置设施。'),
      ' 自行利用/处置设施由生态环境局登记，可在', link(`/facilities?org=${ctx.session.org}`, '贮存设施'), '中查看本单位的设施。')];
  }
  const backdateDays = Math.floor((ledger.limits?.max_backdate_s ?? 14 * 86400) / 86400);
  const earliest = addDays(today, -backdateDays);

  // Stock by code: loose grams (lots without containers) and containers in stock, with dates,
  // since a treatment takes only lots dated on or before its date.
  const byCode = new Map();
  for (const l of lots) {
    const s = byCode.get(l.code) || { loose: [], boxes: [] };
    if (l.containers) {
      for (const c of l.containers) if (c.status === 'in_stock') s.boxes.push({ ...c, date: l.date, lot: l.seq });
    } else if (l.remaining_g - l.reserved_g > 0) {
      s.loose.push({ date: l.date, free: l.remaining_g - l.reserved_g });
    }
    if (s.loose.length || s.boxes.length) byCode.set(l.code, s);
  }
  const codes = [...byCode.keys()].sort();
  if (!codes.length) {
    return [notice('info', h('strong', '本单位没有可利用/处置的库存。'), ' 请先', link('/declare', '申报登记'), '。')];
  }

  const facility = select(facilities.map((f) => [f.facility,
    `${f.name}（${f.facility}，${label(FACILITY_KINDS, f.kind)}，本年已 ${formatQuantity(f.treated_g ?? 0)} / ${formatQuantity(f.capacity_g)}）`]),
  { 'data-testid': 'treat-facility', value: ctx.query.facility || facilities[0].facility });
  const code = select(codes.map((c) => [c, `${c} ${cat.get(c)?.description || ''}`]), { 'data-testid': 'treat-code' });
  const method = h('select', { 'data-testid': 'treat-method' });
  const date = h('input', { type: 'date', value: today, max: today, min: earliest, 'data-testid': 'treat-date' });
  const quantity = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', 'data-testid': 'treat-quantity' });
  const unit = select(Object.entries(UNITS).map(([k, u]) => [k, u.label]), { value: 't', 'data-testid': 'unit' });
  const stockInfo = h('div.hint', { 'aria-live': 'polite' });
  const picker = h('div');
  let ticks = [];
  const button = h('button.primary', { type: 'submit' }, '签名并记录');
  const out = h('div.out', { 'aria-live': 'polite' });
  const summary = h('p.summary', { 'aria-live': 'polite' });

  const chosenFacility = () => facilities.find((f) => f.facility === facility.value);

  function showMethods() {
    const f = chosenFacility();
    const previous = method.value;
    mount(method, (f.methods || []).map((m) => h('option', { value: m, selected: m === previous },
      `${m} ${methods.get(m)?.name || ''}`)));
  }

  function grams() {
    const t = ticks.filter((x) => x.input.checked);
    if (t.length) return t.reduce((a, x) => a + x.c.quantity_g, 0);
    try {
      return toGrams(quantity.value, unit.value);
    } catch {
      return null;
    }
  }

  function update() {
    const s = byCode.get(code.value);
    const loose = s.loose.filter((x) => x.date <= date.value).reduce((a, x) => a + x.free, 0);
    stockInfo.textContent = `散装可用 ${formatQuantity(loose)}；容器 ${s.boxes.length} 个。只能利用/处置产生日期不晚于本次日期的库存。`;
    const t = ticks.filter((x) => x.input.checked);
    quantity.readOnly = t.length > 0;
    if (t.length) quantity.value = fromGrams(grams(), unit.value).replace(/,/g, '');
    const g = grams();
    const f = chosenFacility();
    summary.textContent = g ? `将记录：在 ${f.name} 以 ${method.value} 方式${f.kind === 'utilize' ? '利用' : '处置'} ${code.value} ${formatQuantity(g)}${t.length ? `（${t.length} 个容器）` : ''}，日期 ${date.value}。` : '';
  }

  function showContainers() {
    const s = byCode.get(code.value);
    ticks = s.boxes.map((c, i) => {
      const input = h('input', { type: 'checkbox', value: c.id, 'data-testid': `treat-container-${i + 1}`, 'data-container': c.id });
      input.id = `treat-c-${i}-${Math.random().toString(36).slice(2, 7)}`;
      input.addEventListener('change', update);
      return { c, input, el: h('div.check', input, h('label', { for: input.id }, `${spacedId(c.id)}　${formatQuantity(c.quantity_g)}（${c.date}）`)) };
    });
    mount(picker, ticks.length ? h('fieldset.field', { 'data-testid': 'treat-containers' },
      h('legend', '容器（一物一码）'),
      h('div.hint', '按容器申报的废物须勾选容器，数量为所选容器的申报重量之和；散装库存填写数量即可。'),
      h('div.pick-containers', ticks.map((t) => t.el)),
      h('div.field-error', { role: 'alert', 'aria-live': 'polite' })) : null);
    update();
  }

  facility.addEventListener('change', () => { showMethods(); update(); });
  code.addEventListener('change', showContainers);
  for (const c of [quantity, date, method]) c.addEventListener('input', update);
  method.addEventListener('change', update);
  unit.addEventListener('change', update);
  showMethods();
  showContainers();

  const formEl = h('form.treat', { novalidate: true },
    field('利用/处置设施', facility, '本单位登记的、在用的利用或处置设施。'),
    field('废物代码', code, '只列出本单位有库存的代码。'),
    stockInfo,
    picker,
    h('div.row', field('数量', quantity, '精确到克。'), field('单位', unit)),
    field('利用/处置方式', method, '只列出该设施登记的方式。'),
    field('日期', date, `利用/处置的日期，不得晚于今天（${today}），最早可补录到 ${earliest}。`),
    summary,
    h('div.actions', button),
    out);

  formEl.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(formEl);
    const t = ticks.filter((x) => x.input.checked);
    let g;
    if (t.length) {
      g = t.reduce((a, x) => a + x.c.quantity_g, 0);
    } else {
      if (!byCode.get(code.value).loose.length && ticks.length) return fieldError(ticks[0].input, '请勾选要利用/处置的容器');
      try {
        g = toGrams(quantity.value, unit.value);
      } catch (e) {
        if (e instanceof QuantityError) return fieldError(quantity, e.message);
        throw e;
      }
    }
    if (!method.value) return fieldError(method, '该设施没有登记利用/处置方式');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date.value)) return fieldError(date, '请填写日期');
    const body = {
      generator: ctx.session.org, facility: facility.value, code: code.value,
      quantity_g: g, method: method.value, date: date.value,
    };
    if (t.length) body.containers = t.map((x) => x.c.id);
    const f = chosenFacility();
    const entry = await act(button, out, () => ctx.api.submit('waste.treated', body), (e) => [
      h('strong', '已记入账本。'), ' ',
      `${f.name}：${body.code} ${formatQuantity(g)}，${body.method}，账本序号 ${e.seq}。`, ' ',
      link('/my-stock', '查看我的库存'),
    ]);
    if (entry) {
      for (const x of t) {
        x.input.checked = false;
        x.input.disabled = true;
      }
      quantity.value = '';
      update();
    }
  });

  return [
    formEl,
    h('h2', '本单位的利用/处置设施'),
    dl(facilities.map((f) => [`${f.name}（${f.facility}）`,
      `${label(FACILITY_KINDS, f.kind)}；方式 ${(f.methods || []).join('、')}；年能力 ${formatQuantity(f.capacity_g)}，本年已 ${formatQuantity(f.treated_g ?? 0)}`])),
  ];
}
