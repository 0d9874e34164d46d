// 申报登记: the generator records waste it produced (waste.declared), which becomes a stock lot.
// The code is chosen from the catalogue edition in force today, since the ledger checks the code
// against the edition in force on the CST date of the event's time, not of the waste's date.
// The lot may be kept in one of the generator's storage facilities, and packed in containers
// (一物一码): the page proposes the next free 37-character codes of that day and code, shows them
// with each container's weight before anything is signed, and links to their labels after.

import { h, mount, field, fieldError, select, link, dl, table } from '../../core/dom.js';
import { Api } from '../../core/api.js';
import { act, heading, loading, errorNotice } from '../../core/ui.js';
import { toGrams, fromGrams, formatQuantity, QuantityError, UNITS } from '../../core/units.js';
import { todayCst, addDays } from '../../core/time.js';
import { nextFreeIds, evenSplit, spacedId } from '../../core/containers.js';
import { STORAGE_TYPES, label } from '../../core/i18n.js';
import { loadCatalogue, hazardText } from '../shared/actions.js';

const MAX_CONTAINERS = 999;

const MAX_RESULTS = 40;

/** Case- and hyphen-insensitive search over code, category, name, description and industry. */
export function searchCodes(codes, text) {
  const q = text.trim().toLowerCase();
  if (!q) return [];
  const words = q.split(/\s+/);
  const digits = q.replace(/[^0-9]/g, '');
  const cat = /^hw\s*(\d{1,2})$/.exec(q);
  return codes.filter((c) => {
    if (cat) return c.category === 'HW' + cat[1].padStart(2, '0');
    if (/^[0-9-]+$/.test(q)) return c.code.replace(/-/g, '').includes(digits);
    const hay = `${c.code} ${c.category} ${c.category_name} ${c.industry} ${c.description}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

function codeCard(c) {
  return h('div.card.code-card', { 'data-testid': 'chosen-code' },
    h('div.code-card-head', h('span.mono.code-big', c.code), ' ', h('span.badge.badge-neutral', `${c.category} ${c.category_name}`)),
    dl([
      ['行业来源', c.industry || '—'],
      ['危险废物', c.description],
      ['危险特性', hazardText(c.hazard) || '—'],
    ]));
}

export async function render(ctx) {
  const main = ctx.main;
  const body = h('div');
  mount(main, heading('申报登记', '记录本单位产生的危险废物。申报后形成一个库存批次，可在“我的库存”查看，并可用于开具联单。'), body);
  const today = todayCst();
  await loading(body, () => Promise.all([
    loadCatalogue(today),
    Api.public('/v1/ledger'),
    ctx.api.get('/v1/facilities', { org: ctx.session.org })
      .then((r) => r.facilities.filter((f) => f.kind === 'storage' && f.status === 'active'))
      .catch(() => []),
  ]), ([cat, ledger, stores]) => form(ctx, cat, ledger, today, stores));
}

function storeLabel(f) {
  const left = f.capacity_g - (f.stock_g ?? 0);
  return `${f.name}（${f.facility}，${label(STORAGE_TYPES, f.storage_type)}，尚可贮存 ${formatQuantity(Math.max(0, left))}）`;
}

function form(ctx, cat, ledger, today, stores) {
  let chosen = null;
  const backdateDays = Math.floor((ledger.limits?.max_backdate_s ?? 14 * 86400) / 86400);
  const earliest = addDays(today, -backdateDays);

  const search = h('input', {
    type: 'search', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'code-search',
    placeholder: '例如 900-249-08、HW08、废矿物油、电镀',
    'aria-controls': 'code-results',
  });
  const results = h('div.code-results#code-results', { role: 'group', 'aria-label': '查询结果' });
  const chosenEl = h('div', { 'aria-live': 'polite' });

  const quantity = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', 'data-testid': 'quantity' });
  const unit = select(Object.entries(UNITS).map(([k, u]) => [k, u.label]), { value: 't', 'data-testid': 'unit' });
  const date = h('input', { type: 'date', value: today, max: today, min: earliest, 'data-testid': 'date' });
  const button = h('button.primary', { type: 'submit' }, '签名并申报');
  const out = h('div.out', { 'aria-live': 'polite' });
  const summary = h('p.summary', { 'aria-live': 'polite' });
  const preset = ctx.query.facility && stores.some((f) => f.facility === ctx.query.facility) ? ctx.query.facility : '';
  const facility = select([['', stores.length ? '不指定贮存设施' : '本单位没有登记贮存设施'],
    ...stores.map((f) => [f.facility, storeLabel(f)])], { value: preset || (stores.length === 1 ? stores[0].facility : ''), 'data-testid': 'facility' });
  const count = h('input', { type: 'number', min: 0, max: MAX_CONTAINERS, step: 1, value: '0', inputmode: 'numeric', 'data-testid': 'container-count' });
  const codesEl = h('div.container-codes', { 'aria-live': 'polite', 'data-testid': 'container-codes' });
  // The proposed containers: {key, ids, weights: [input]}; `key` says what they were made for.
  let boxes = null;
  let weightsEdited = false;
  let round = 0;

  function choose(c) {
    chosen = c;
    fieldError(search, '');
    mount(chosenEl, codeCard(c));
    mount(results);
    search.value = c.code;
    updateSummary();
  }

  function showResults() {
    const found = searchCodes(cat.codes, search.value);
    if (!search.value.trim()) {
      mount(results);
      return;
    }
    if (!found.length) {
      mount(results, h('p.muted', '没有找到符合的废物代码。可输入代码、类别（如 HW08）或名称中的词语。'));
      return;
    }
    mount(results,
      h('p.muted', found.length > MAX_RESULTS ? `共 ${found.length} 条，显示前 ${MAX_RESULTS} 条，请输入更多字词缩小范围。` : `共 ${found.length} 条`),
      h('ul.choices', found.slice(0, MAX_RESULTS).map((c) => h('li',
        h('button.choice', { type: 'button', 'data-code': c.code, on: { click: () => { choose(c); quantity.focus(); } } },
          h('span.mono', c.code), ' ',
          h('span.choice-cat', `${c.category} ${c.category_name}`), ' ',
          h('span.choice-desc', c.description))))));
  }

  function updateSummary() {
    let g = null;
    try {
      g = toGrams(quantity.value, unit.value);
    } catch { /* shown on submit */ }
    const n = containerCount();
    const where = facility.value ? `，存入 ${stores.find((f) => f.facility === facility.value)?.name || facility.value}` : '';
    summary.textContent = chosen && g
      ? `将申报：${chosen.code} ${chosen.description}，${formatQuantity(g, unit.value)}（${g.toLocaleString('zh-CN')} 克），产生日期 ${date.value || '—'}${where}${n ? `，装入 ${n} 个容器` : ''}。`
      : '';
    refreshContainers();
  }

  function containerCount() {
    const n = Number(count.value);
    return Number.isInteger(n) && n > 0 && n <= MAX_CONTAINERS ? n : 0;
  }

  function quantityGrams() {
    try {
      return toGrams(quantity.value, unit.value);
    } catch {
      return null;
    }
  }

  /** Fills the weights with an even split of the quantity, unless the user typed them. */
  function splitWeights() {
    if (!boxes || weightsEdited) return;
    const g = quantityGrams();
    const parts = g && g >= boxes.ids.length ? evenSplit(g, boxes.ids.length) : null;
    boxes.weights.forEach((w, i) => {
      w.value = parts ? fromGrams(parts[i], unit.value).replace(/,/g, '') : '';
    });
  }

  /** Proposes codes for the chosen code, date and number of containers (the next free serials). */
  async function refreshContainers() {
    const n = containerCount();
    const key = chosen && n && /^\d{4}-\d{2}-\d{2}$/.test(date.value) ? `${chosen.code}|${date.value}|${n}` : '';
    if (!key) {
      boxes = null;
      mount(codesEl, n && !chosen ? h('p.muted', '选择废物代码后生成容器识别码。') : null);
      return;
    }
    if (boxes && boxes.key === key) {
      splitWeights();
      return;
    }
    const mine = ++round;
    boxes = null;
    mount(codesEl, h('p.muted', '正在生成容器识别码……'));
    try {
      const ids = await nextFreeIds(ctx.api, ctx.session.org, chosen.code, date.value, n);
      if (mine !== round) return;
      const weights = ids.map((id, i) => {
        const w = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', 'data-testid': `container-weight-${i + 1}`, 'aria-label': `容器 ${i + 1} 的重量` });
        w.addEventListener('input', () => { weightsEdited = true; });
        return w;
      });
      boxes = { key, ids, weights };
      weightsEdited = false;
      splitWeights();
      mount(codesEl,
        h('p.muted', `按 HJ 1276-2022 生成的容器识别码：本单位统一社会信用代码 + 废物代码 + 包装日期 + 序号（取当天该废物尚未使用的序号）。各容器重量默认平均分配，可按实际称重修改，合计须等于申报数量（单位：${UNITS[unit.value].label}）。`),
        table([
          { title: '序号', class: 'num', get: (r) => String(r.i + 1) },
          { title: '容器识别码', get: (r) => h('span.mono.container-id', { 'data-container': r.id }, spacedId(r.id)) },
          { title: `重量（${UNITS[unit.value].label}）`, get: (r) => r.w },
        ], ids.map((id, i) => ({ i, id, w: weights[i] }))));
    } catch (e) {
      if (mine !== round) return;
      mount(codesEl, errorNotice(e));
    }
  }

  search.addEventListener('input', () => {
    if (chosen && search.value !== chosen.code) {
      chosen = null;
      mount(chosenEl);
    }
    showResults();
    updateSummary();
  });
  // Enter in the search box picks the only match (or an exact code) instead of submitting.
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      const first = results.querySelector('button.choice');
      if (first) { ev.preventDefault(); first.focus(); }
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      const found = searchCodes(cat.codes, search.value);
      const exact = cat.byCode.get(search.value.trim());
      if (exact) choose(exact);
      else if (found.length === 1) choose(found[0]);
    }
  });
  results.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
    const all = [...results.querySelectorAll('button.choice')];
    const i = all.indexOf(document.activeElement);
    if (i < 0) return;
    ev.preventDefault();
    if (ev.key === 'ArrowDown' && all[i + 1]) all[i + 1].focus();
    else if (ev.key === 'ArrowUp') (all[i - 1] || search).focus();
  });
  quantity.addEventListener('input', updateSummary);
  unit.addEventListener('change', () => {
    weightsEdited = false;
    if (boxes) boxes.key = '';
    updateSummary();
  });
  date.addEventListener('change', updateSummary);
  facility.addEventListener('change', updateSummary);
  count.addEventListener('input', updateSummary);

  const formEl = h('form.declare', { novalidate: true },
    field('废物代码', search, `按《国家危险废物名录》（${cat.edition} 年版，今日适用）查询：输入代码、类别（如 HW08）或名称、行业中的词语，然后从结果中选择。`),
    results, chosenEl,
    h('div.row',
      field('数量', quantity, '精确到克，例如 1.25 吨或 350 千克。'),
      field('单位', unit)),
    field('产生日期', date, `不得晚于今天（${today}），最早可补录到 ${earliest}。容器识别码中的包装日期即此日期。`),
    field('贮存设施', facility, stores.length ? '本单位登记的、在用的贮存设施。' : '设施由生态环境局在“贮存设施”中登记；未登记时可不指定。'),
    field('容器数量', count, '按容器申报（一物一码）时填写容器个数，每个容器生成一个识别码和标签；0 表示不按容器申报。'),
    codesEl,
    summary,
    h('div.actions', button),
    out);

  formEl.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const c of [search, quantity, date]) fieldError(c, '');
    if (!chosen) {
      const exact = cat.byCode.get(search.value.trim());
      if (exact) choose(exact);
      else return fieldError(search, search.value.trim() ? '请从查询结果中选择一个废物代码' : '请选择废物代码');
    }
    let grams;
    try {
      grams = toGrams(quantity.value, unit.value);
    } catch (e) {
      if (e instanceof QuantityError) return fieldError(quantity, e.message);
      throw e;
    }
    const d = date.value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) return fieldError(date, '请填写产生日期');
    if (d > todayCst()) return fieldError(date, `产生日期不得晚于今天（${todayCst()}）`);
    const body = { generator: ctx.session.org, code: chosen.code, quantity_g: grams, date: d };
    if (facility.value) body.facility = facility.value;
    const n = containerCount();
    if (String(count.value).trim() !== '' && String(count.value) !== '0' && !n) {
      return fieldError(count, `容器数量为 0 到 ${MAX_CONTAINERS} 的整数`);
    }
    if (n) {
      const key = `${chosen.code}|${d}|${n}`;
      if (!boxes || boxes.key !== key) {
        await refreshContainers();
        if (!boxes) return fieldError(count, '容器识别码尚未生成，请稍候再提交');
      }
      const containers = [];
      for (let i = 0; i < boxes.ids.length; i++) {
        let w;
        try {
          w = toGrams(boxes.weights[i].value, unit.value);
        } catch (e) {
          if (e instanceof QuantityError) return fieldError(count, `第 ${i + 1} 个容器的重量：${e.message}`), boxes.weights[i].focus();
          throw e;
        }
        containers.push({ id: boxes.ids[i], quantity_g: w });
      }
      const sum = containers.reduce((a, c) => a + c.quantity_g, 0);
      if (sum !== grams) {
        return fieldError(count, `各容器重量合计 ${formatQuantity(sum, unit.value)}，与申报数量 ${formatQuantity(grams, unit.value)} 不一致`);
      }
      body.containers = containers;
    }
    const entry = await act(button, out, () => ctx.api.submit('waste.declared', body), (e) => [
      h('strong', '申报已记入账本。'), ' ',
      `${body.code}，${formatQuantity(grams, unit.value)}，产生日期 ${d}，库存批次 ${e.seq}${n ? `，${n} 个容器` : ''}。`, ' ',
      n ? [link(`/labels?lot=${e.seq}`, '打印容器标签'), '　'] : null,
      link('/my-stock', '查看我的库存'), '　', link('/open', '开具联单'),
    ]);
    if (entry) {
      // Ready for the next declaration; the date, unit and facility usually stay the same.
      chosen = null;
      search.value = '';
      quantity.value = '';
      count.value = '0';
      boxes = null;
      mount(chosenEl);
      updateSummary();
      search.focus();
    }
  });

  return [formEl];
}

