// 申报登记: the generator records waste it produced (waste.declared), which becomes a stock lot.
// The code is chosen from the catalogue edition in force today, since the ledger checks the code
// against the edition in force on the CST date of the event's time, not of the waste's date.

import { h, mount, field, fieldError, select, link, dl } from '../../core/dom.js';
import { Api } from '../../core/api.js';
import { act, heading, loading } from '../../core/ui.js';
import { toGrams, formatQuantity, QuantityError, UNITS } from '../../core/units.js';
import { todayCst, addDays } from '../../core/time.js';
import { loadCatalogue, hazardText } from '../shared/actions.js';

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
  await loading(body, () => Promise.all([loadCatalogue(today), Api.public('/v1/ledger')]),
    ([cat, ledger]) => form(ctx, cat, ledger, today));
}

function form(ctx, cat, ledger, today) {
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
    summary.textContent = chosen && g
      ? `将申报：${chosen.code} ${chosen.description}，${formatQuantity(g, unit.value)}（${g.toLocaleString('zh-CN')} 克），产生日期 ${date.value || '—'}。`
      : '';
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
  unit.addEventListener('change', updateSummary);
  date.addEventListener('change', updateSummary);

  const formEl = h('form.declare', { novalidate: true },
    field('废物代码', search, `按《国家危险废物名录》（${cat.edition} 年版，今日适用）查询：输入代码、类别（如 HW08）或名称、行业中的词语，然后从结果中选择。`),
    results, chosenEl,
    h('div.row',
      field('数量', quantity, '精确到克，例如 1.25 吨或 350 千克。'),
      field('单位', unit)),
    field('产生日期', date, `不得晚于今天（${today}），最早可补录到 ${earliest}。`),
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
    const entry = await act(button, out, () => ctx.api.submit('waste.declared', body), (e) => [
      h('strong', '申报已记入账本。'), ' ',
      `${body.code}，${formatQuantity(grams, unit.value)}，产生日期 ${d}，库存批次 ${e.seq}。`, ' ',
      link('/my-stock', '查看我的库存'), '　', link('/open', '开具联单'),
    ]);
    if (entry) {
      // Ready for the next declaration; the date and unit usually stay the same.
      chosen = null;
      search.value = '';
      quantity.value = '';
      mount(chosenEl);
      updateSummary();
      search.focus();
    }
  });

  return [formEl];
}

