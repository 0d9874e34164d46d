// 开具联单: the generator opens a manifest for waste it holds. Lines offer only codes with stock
// free to reserve; receivers offered are only those the ledger says hold licences covering every
// line's code today, so the service's unlicensed_receiver refusal is the exception, not the rule.
// Waste declared in containers (一物一码) ships only by naming them: a line of such a code lists
// the containers ticked, and its quantity is their declared weights; waste declared without
// containers is taken by quantity, oldest lots first.
// A receiver opens onward manifests the same way from the lots it stored (收集 → 转移): it is the
// manifest's generator (移出人), its lots show the manifests they came from, and it is not offered
// as its own receiver.

import { h, mount, field, fieldError, notice, select, link, clearFieldErrors } from '../../core/dom.js';
import { ProblemError } from '../../core/api.js';
import { act, heading, loading, errorNotice } from '../../core/ui.js';
import { toGrams, fromGrams, formatQuantity, QuantityError, UNITS } from '../../core/units.js';
import { todayCst } from '../../core/time.js';
import { catalogueEntries, orgInfos } from '../shared/actions.js';

const MAX_LINES = 50;
const FORMS = ['固态', '半固态', '液态', '气态'];
const PACKAGING = ['桶', '袋', '吨袋', '箱', '罐', '散装'];

// The service answers which licences cover a code on a date; this repeats its rule (protocol §6
// Coverage: active, valid that day, a scope with the code or its category and an activity of
// receipt) so that a receiver is never offered on a looser reading.
const RECEIPT = ['store', 'utilize', 'dispose'];
function receives(l, code, date) {
  if (l.status && l.status !== 'active') return false;
  if ((l.valid_from && l.valid_from > date) || (l.valid_until && l.valid_until < date)) return false;
  const cat = 'HW' + code.slice(-2);
  return !l.scopes || l.scopes.some((s) => (s.codes.includes(code) || s.codes.includes(cat))
    && s.activities.some((a) => RECEIPT.includes(a)));
}

export async function render(ctx) {
  const body = h('div');
  mount(ctx.main,
    heading('开具联单', ctx.session.has('generator')
      ? '把本单位库存中的危险废物交给运输单位，运往有经营许可证的接收单位。开具后预留相应库存，运输单位起运前可以作废。'
      : '把本单位入库贮存的危险废物（后续转移）交给运输单位，运往有经营许可证的利用/处置单位。开具后预留相应库存，运输单位起运前可以作废。'),
    body);
  const today = todayCst();
  await loading(body, async () => {
    const [lots, carriers] = await Promise.all([
      ctx.api.all('/v1/stock', { generator: ctx.session.org }, 'lots'),
      // A failure here only empties the carrier list; the rest of the form still helps.
      ctx.api.all('/v1/orgs', { role: 'carrier' }, 'orgs').catch((e) => ({ error: e })),
    ]);
    // Loose stock (lots without containers) by code, and containers in stock by code.
    const free = new Map();
    const boxes = new Map();
    // code → the manifests its stored lots came from, oldest lot first (the order lines take them).
    const origins = new Map();
    for (const l of [...lots].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.seq - b.seq))) {
      if (l.origin && l.remaining_g > l.reserved_g) {
        if (!origins.has(l.code)) origins.set(l.code, new Map());
        origins.get(l.code).set(l.origin.number || l.origin.manifest, l.origin);
      }
      if (l.containers) {
        for (const c of l.containers) {
          if (c.status !== 'in_stock') continue;
          if (!boxes.has(l.code)) boxes.set(l.code, []);
          boxes.get(l.code).push({ ...c, lot: l.seq, date: l.date, origin: l.origin });
        }
        continue;
      }
      const f = l.remaining_g - l.reserved_g;
      if (f > 0) free.set(l.code, (free.get(l.code) || 0) + f);
    }
    const codes = [...new Set([...free.keys(), ...boxes.keys()])];
    const cat = await catalogueEntries(codes, today);
    return { free, boxes, origins, codes, carriers, cat };
  }, (data) => form(ctx, data, today));
}

function form(ctx, { free, boxes, origins, codes: stockCodes, carriers, cat }, today) {
  if (!stockCodes.length) {
    return [notice('info', h('strong', '本单位没有可开单的库存。'), ' 请先',
      ctx.session.has('generator') ? link('/declare', '申报登记') : '在“扫码作业”中把签收的联单入库贮存',
      '；已预留给其他联单的库存不能重复开单。')];
  }
  const codes = [...stockCodes].sort();
  const boxSum = (list) => list.reduce((a, c) => a + c.quantity_g, 0);
  const codeLabel = (c) => {
    const parts = [];
    if (free.get(c)) parts.push(`散装可开 ${formatQuantity(free.get(c))}`);
    if (boxes.get(c)) parts.push(`${boxes.get(c).length} 个容器 ${formatQuantity(boxSum(boxes.get(c)))}`);
    return `${c} ${cat.get(c)?.description || ''}（${parts.join('，')}）`;
  };
  const unit = select(Object.entries(UNITS).map(([k, u]) => [k, u.label]), { value: 't', 'data-testid': 'unit' });
  const lines = [];
  const linesEl = h('div.lines');
  const addButton = h('button', { type: 'button', 'data-testid': 'add-line' }, '添加一行');

  const carrierError = carriers.error;
  const carrierList = carrierError ? [] : carriers;
  const carrier = select([['', carrierError ? '无法查询运输单位' : '请选择运输单位'],
    ...carrierList.map((o) => [o.org, `${o.name}（${o.org}）`])], { 'data-testid': 'carrier' });
  const receiver = h('select', { 'data-testid': 'receiver', disabled: true }, h('option', { value: '' }, '请先填写废物明细'));
  const receiverInfo = h('div.receiver-info', { 'aria-live': 'polite' });
  const note = h('textarea', { maxlength: 2000, rows: 2, 'data-testid': 'note' });
  const button = h('button.primary', { type: 'submit' }, '签名并开具联单');
  const out = h('div.out', { 'aria-live': 'polite' });

  function addLine(code) {
    if (lines.length >= MAX_LINES) return;
    const used = new Set(lines.map((l) => l.code.value));
    const pick = code || codes.find((c) => !used.has(c)) || '';
    const n = lines.length + 1;
    const line = {
      code: select([['', '请选择废物代码'], ...codes.map((c) => [c, codeLabel(c)])], { value: pick, 'data-testid': `line-code-${n}` }),
      quantity: h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', 'data-testid': `line-quantity-${n}` }),
      form: h('input', { type: 'text', maxlength: 100, list: 'forms-list', autocomplete: 'off', 'data-testid': `line-form-${n}` }),
      packaging: h('input', { type: 'text', maxlength: 100, list: 'packaging-list', autocomplete: 'off', 'data-testid': `line-packaging-${n}` }),
    };
    line.remove = h('button.link', { type: 'button', on: { click: () => removeLine(line) } }, '删除此行');
    line.picker = h('div');
    line.origin = h('div.hint', { 'data-testid': `line-origin-${n}` });
    line.ticks = [];
    line.code.addEventListener('change', () => {
      showContainers(line, n);
      receiversChanged();
    });
    showContainers(line, n);
    lines.push(line);
    renderLines();
    receiversChanged();
  }

  /** The containers of the line's code in stock, to tick; the quantity follows their weights. */
  function showContainers(line, n) {
    const from = origins.get(line.code.value);
    mount(line.origin, from && from.size ? ['来源（入库贮存的联单，按批次先后）：',
      [...from.values()].map((o, i) => [i ? '、' : '', link(`/manifests/${o.number || o.manifest}`, h('span.mono', o.number || o.manifest))])] : null);
    const list = boxes.get(line.code.value) || [];
    line.ticks = [];
    line.update = null;
    line.quantity.readOnly = false;
    if (!list.length) {
      mount(line.picker);
      return;
    }
    const sum = h('span.muted', { 'aria-live': 'polite' });
    const update = () => {
      const ticked = line.ticks.filter((t) => t.input.checked);
      line.quantity.readOnly = ticked.length > 0;
      if (ticked.length) {
        line.quantity.value = fromGrams(boxSum(ticked.map((t) => t.c)), unit.value).replace(/,/g, '');
        sum.textContent = `已选 ${ticked.length} 个容器，合计 ${formatQuantity(boxSum(ticked.map((t) => t.c)))}。`;
      } else {
        sum.textContent = free.get(line.code.value) ? '不选容器时按数量从散装库存开单。' : '请勾选要转移的容器。';
      }
    };
    line.ticks = list.map((c, i) => {
      const input = h('input', { type: 'checkbox', value: c.id, 'data-testid': `line-container-${n}-${i + 1}`, 'data-container': c.id });
      input.id = `pick-${n}-${i}-${Math.random().toString(36).slice(2, 7)}`;
      input.addEventListener('change', update);
      const from = c.origin ? `，来源联单 ${c.origin.number || c.origin.manifest}` : '';
      return { input, c, el: h('div.check', input, h('label', { for: input.id }, `${c.id}　${formatQuantity(c.quantity_g)}（${c.date}${from}）`)) };
    });
    const all = h('button.link', { type: 'button', on: { click: () => { line.ticks.forEach((t) => { t.input.checked = true; }); update(); } } }, '全选');
    const none = h('button.link', { type: 'button', on: { click: () => { line.ticks.forEach((t) => { t.input.checked = false; }); update(); } } }, '全不选');
    line.update = update;
    mount(line.picker, h('fieldset.field', { 'data-testid': `line-containers-${n}` },
      h('legend', '容器（一物一码）'),
      h('div.hint', '按容器申报的废物须列明容器才能转移，数量为所选容器的申报重量之和。'),
      h('div.pick-containers', line.ticks.map((t) => t.el)),
      h('div', all, ' ', none, ' ', sum),
      h('div.field-error', { role: 'alert', 'aria-live': 'polite' })));
    update();
  }

  function removeLine(line) {
    lines.splice(lines.indexOf(line), 1);
    renderLines();
    receiversChanged();
    (lines[0]?.code || addButton).focus();
  }

  function renderLines() {
    mount(linesEl, lines.map((l, i) => h('fieldset.line',
      h('legend', `第 ${i + 1} 行`),
      field('废物代码', l.code, '只列出本单位有可开单库存的代码。'),
      l.origin,
      l.picker,
      h('div.row',
        field('数量', l.quantity),
        field('物理形态（可选）', l.form),
        field('包装方式（可选）', l.packaging)),
      lines.length > 1 ? l.remove : null)));
    addButton.hidden = lines.length >= MAX_LINES || lines.length >= codes.length;
  }

  // Receivers: the holders of licences covering each line's code today, intersected.
  const coverCache = new Map();
  function covering(code) {
    if (!coverCache.has(code)) {
      coverCache.set(code, ctx.api.get('/v1/licenses', { covers: code, date: today })
        .then((r) => r.licenses.filter((l) => receives(l, code, today)))
        .catch((e) => { coverCache.delete(code); throw e; }));
    }
    return coverCache.get(code);
  }
  let receiverRound = 0;
  async function receiversChanged() {
    const round = ++receiverRound;
    const chosen = [...new Set(lines.map((l) => l.code.value).filter(Boolean))];
    const previous = receiver.value;
    if (!chosen.length) {
      mount(receiver, h('option', { value: '' }, '请先填写废物明细'));
      receiver.disabled = true;
      mount(receiverInfo);
      return;
    }
    mount(receiver, h('option', { value: '' }, '正在查询持证接收单位……'));
    receiver.disabled = true;
    try {
      const lists = await Promise.all(chosen.map(covering));
      if (round !== receiverRound) return;
      const byHolder = new Map();
      lists.forEach((licences, i) => {
        for (const l of licences) {
          if (!byHolder.has(l.holder)) byHolder.set(l.holder, new Map());
          const m = byHolder.get(l.holder);
          if (!m.has(chosen[i])) m.set(chosen[i], l.license);
        }
      });
      // The opener is never its own receiver (a collector holds a licence covering its stock).
      const holders = [...byHolder].filter(([o, m]) => m.size === chosen.length && o !== ctx.session.org).map(([o]) => o);
      const infos = await orgInfos(ctx, holders);
      if (round !== receiverRound) return;
      if (!holders.length) {
        mount(receiver, h('option', { value: '' }, '没有可选的接收单位'));
        mount(receiverInfo, notice('info', '今天没有一家接收单位的有效许可证同时覆盖所选的全部废物代码。可分开开具联单，每张联单只含同一接收单位可接收的废物。'));
        return;
      }
      mount(receiver, h('option', { value: '' }, '请选择接收单位'),
        holders.map((o) => h('option', { value: o, selected: o === previous }, `${infos[o]?.name || o}（${o}）`)));
      receiver.disabled = false;
      const show = () => {
        const m = byHolder.get(receiver.value);
        mount(receiverInfo, m ? h('p.muted', '许可证：', [...new Set(m.values())].join('、')) : null);
      };
      receiver.onchange = show;
      show();
    } catch (e) {
      if (round !== receiverRound) return;
      mount(receiver, h('option', { value: '' }, '无法查询接收单位'));
      mount(receiverInfo, errorNotice(e));
    }
  }

  unit.addEventListener('change', () => lines.forEach((l) => l.update && l.update()));

  addButton.addEventListener('click', () => {
    addLine();
    lines[lines.length - 1].code.focus();
  });
  addLine(codes[0]);

  const formEl = h('form.open-manifest', { novalidate: true },
    h('datalist#forms-list', FORMS.map((f) => h('option', { value: f }))),
    h('datalist#packaging-list', PACKAGING.map((f) => h('option', { value: f }))),
    h('h2', '废物明细'),
    field('数量单位', unit, '各行数量都用这个单位，精确到克。'),
    linesEl,
    h('div.actions', addButton),
    h('h2', '运输与接收'),
    field('运输单位', carrier, carrierList.length || carrierError ? null : '账本中还没有登记运输单位。'),
    carrierError ? errorNotice(carrierError) : null,
    field('接收单位', receiver, '只列出经营许可证今天覆盖全部所选废物代码的单位。'),
    receiverInfo,
    field('备注（可选）', note),
    h('div.actions', button),
    out);

  formEl.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(formEl);
    const body = check();
    if (!body) {
      mount(out);
      return;
    }
    const entry = await act(button, out, () => ctx.api.submit('manifest.opened', body), () => '联单已开具，正在打开联单……');
    if (!entry) return;
    let number = null;
    try {
      number = (await ctx.api.get(`/v1/manifests/${body.manifest}`)).number;
    } catch (e) {
      if (!(e instanceof ProblemError)) throw e;
    }
    mount(out, notice('ok', h('strong', `联单已开具，编号 ${number || body.manifest}。`), ' ',
      link(`/manifests/${number || body.manifest}`, '查看联单')));
    ctx.navigate(`/manifests/${number || body.manifest}?opened=1`);
  });

  function check() {
    const out = [];
    const seen = new Set();
    for (const l of lines) {
      const code = l.code.value;
      if (!code) return fieldError(l.code, '请选择废物代码'), null;
      if (seen.has(code)) return fieldError(l.code, `废物代码 ${code} 已在前面的行中，每个代码只能填一行`), null;
      seen.add(code);
      const ticked = l.ticks.filter((t) => t.input.checked).map((t) => t.c);
      let g;
      if (ticked.length) {
        g = boxSum(ticked);
      } else {
        if (!free.get(code)) {
          const box = l.ticks[0]?.input;
          return fieldError(box || l.code, `${code} 是按容器申报的，请勾选要转移的容器`), null;
        }
        try {
          g = toGrams(l.quantity.value, unit.value);
        } catch (e) {
          if (e instanceof QuantityError) return fieldError(l.quantity, e.message), null;
          throw e;
        }
        if (g > free.get(code)) {
          return fieldError(l.quantity, `超过散装可开单库存 ${fromGrams(free.get(code), unit.value)} ${UNITS[unit.value].label}`), null;
        }
      }
      const line = { code, quantity_g: g };
      if (ticked.length) line.containers = ticked.map((c) => c.id);
      if (l.form.value.trim()) line.form = l.form.value.trim();
      if (l.packaging.value.trim()) line.packaging = l.packaging.value.trim();
      out.push(line);
    }
    if (!out.length) return fieldError(addButton, '请至少填写一行'), null;
    if (!carrier.value) return fieldError(carrier, '请选择运输单位'), null;
    if (!receiver.value) {
      fieldError(receiver, receiver.disabled ? '没有可选的接收单位，请调整废物明细' : '请选择接收单位');
      return null;
    }
    const body = {
      manifest: crypto.randomUUID(),
      generator: ctx.session.org,
      carrier: carrier.value,
      receiver: receiver.value,
      lines: out,
    };
    if (note.value.trim()) body.note = note.value.trim();
    return body;
  }

  return [formEl];
}
