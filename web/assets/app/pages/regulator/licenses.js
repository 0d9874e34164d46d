// 经营许可证: hazardous-waste operating licences (危险废物经营许可证) of receivers. What a licence
// covers decides whether a receipt, storing or disposal is proper (protocol §6 Coverage), so
// its scopes are edited code by code and activity by activity. Issuing, amending, suspending,
// reinstating and revoking are each one signed event.

import { h, mount, table, field, fieldError, notice, select, link, badge, dl, stackOnPhone } from '../../core/dom.js';
import { listOrgs, orgNames, rememberOrgNames } from '../../core/api.js';
import { act, errorNotice, heading, orgIdError, proofHref, setFlash, takeFlash } from '../../core/ui.js';
import { formatQuantity, fromGrams, toGrams, QuantityError, UNITS } from '../../core/units.js';
import { todayCst } from '../../core/time.js';
import { ACTIVITIES, LICENCE_STATUS, label } from '../../core/i18n.js';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const CODE_RE = /^(\d{3}-\d{3}-\d{2}|HW\d{2})$/;
const MAX_SCOPES = 100;
const STATUS_TONE = { active: 'ok', suspended: 'warn', revoked: 'bad' };

function route(q) {
  const p = new URLSearchParams();
  for (const k of ['holder', 'license']) if (q[k]) p.set(k, q[k]);
  const s = p.toString();
  return '/licenses' + (s ? '?' + s : '');
}

function scopeText(scope) {
  return `${scope.codes.join('、')}：${scope.activities.map((a) => label(ACTIVITIES, a)).join('、')}`;
}

function holderLabel(names, org) {
  const n = names.get(org);
  return n ? `${n}（${org}）` : org;
}

/**
 * An editable list of scopes: each a set of codes or categories and the activities allowed for
 * them. `value()` returns the scopes, or null after marking what is wrong.
 */
function scopesEditor(initial) {
  const rows = [];
  const list = h('div.scopes');
  const addButton = h('button', { type: 'button' }, '添加一项经营范围');
  const status = h('div.visually-hidden', { 'aria-live': 'polite' });

  function renumber() {
    rows.forEach((r, i) => {
      r.legend.textContent = `经营范围 ${i + 1}`;
      r.remove.hidden = rows.length === 1;
    });
    addButton.disabled = rows.length >= MAX_SCOPES;
  }

  function addRow(scope) {
    const codes = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: scope ? scope.codes.join(', ') : '' });
    const boxes = Object.entries(ACTIVITIES).map(([a, l]) => {
      const box = h('input', { type: 'checkbox', value: a, checked: scope ? scope.activities.includes(a) : false });
      box.id = 'act-' + Math.random().toString(36).slice(2, 9);
      return { a, box, el: h('div.check', box, h('label', { for: box.id }, l)) };
    });
    const legend = h('legend');
    const acts = h('fieldset.field.activities', h('legend', '经营方式'), boxes.map((b) => b.el),
      h('div.field-error', { role: 'alert', 'aria-live': 'polite' }));
    const remove = h('button.link', { type: 'button' }, '删除此项');
    const row = { codes, boxes, acts, legend, remove };
    row.el = h('fieldset.scope', legend,
      field('废物代码或类别', codes, '用逗号或空格分隔，如 HW08, HW17, 900-041-49（填类别即覆盖该类别全部代码）'),
      acts, remove);
    remove.addEventListener('click', () => {
      const i = rows.indexOf(row);
      rows.splice(i, 1);
      row.el.remove();
      renumber();
      (rows[Math.max(0, i - 1)] || {}).codes?.focus();
      status.textContent = '已删除一项经营范围';
    });
    rows.push(row);
    list.append(row.el);
    renumber();
    return row;
  }

  addButton.addEventListener('click', () => {
    addRow(null).codes.focus();
    status.textContent = `已添加经营范围 ${rows.length}`;
  });
  for (const s of initial && initial.length ? initial : [null]) addRow(s);

  function value() {
    const out = [];
    let firstBad = null;
    for (const r of rows) {
      fieldError(r.codes, '');
      r.acts.classList.remove('has-error');
      r.acts.querySelector('.field-error').textContent = '';
      const codes = [...new Set(r.codes.value.split(/[\s,，、;；]+/).map((c) => c.trim().toUpperCase()).filter(Boolean))];
      const activities = r.boxes.filter((b) => b.box.checked).map((b) => b.a);
      const bad = codes.find((c) => !CODE_RE.test(c));
      if (!codes.length || bad) {
        // The message is set without focusing, so that the first error of the form gets it.
        const f = r.codes.closest('.field');
        f.classList.add('has-error');
        f.querySelector('.field-error').textContent = codes.length
          ? `“${bad}” 不是废物代码或类别：代码为 NNN-NNN-NN，类别为 HW 加两位数字`
          : '请填写至少一个废物代码或类别';
        firstBad = firstBad || r.codes;
      }
      if (!activities.length) {
        r.acts.classList.add('has-error');
        r.acts.querySelector('.field-error').textContent = '请至少选择一种经营方式';
        firstBad = firstBad || r.boxes[0].box;
      }
      out.push({ codes, activities });
    }
    return firstBad ? { error: firstBad } : { scopes: out };
  }

  return { el: h('div.scopes-editor', list, h('div.actions', addButton), status), value };
}

function capacityFields(initialGrams) {
  const qty = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', value: initialGrams ? fromGrams(initialGrams, 't').replace(/,/g, '') : '' });
  const unit = select(Object.entries(UNITS).map(([u, d]) => [u, d.label]), { value: 't' });
  return {
    qty, unit,
    el: h('div.row', field('年经营规模', qty, '每个自然年可接收的数量'), field('计量单位', unit)),
    grams() {
      try {
        return toGrams(qty.value, unit.value);
      } catch (e) {
        return { error: e instanceof QuantityError ? e.message : String(e.message || e) };
      }
    },
  };
}

function issueForm(ctx, receivers) {
  const number = h('input', { type: 'text', maxlength: 200, autocomplete: 'off', spellcheck: 'false' });
  const holder = receivers && receivers.length
    ? select([['', '请选择接收单位'], ...receivers.map((o) => [o.org, `${o.name}（${o.org}）`])], { value: '' })
    : h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false' });
  const cap = capacityFields(null);
  const from = h('input', { type: 'date', value: todayCst() });
  const until = h('input', { type: 'date' });
  const scopes = scopesEditor(null);
  const button = h('button.primary', { type: 'submit' }, '签名并核发');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true },
    field('许可证编号', number, '与纸质许可证上印的编号一致，例如 JS0411OOD001-1'),
    field('持证单位', holder, receivers ? '只能核发给具有“接收单位”角色的单位' : '接收单位的统一社会信用代码'),
    cap.el,
    h('div.row', field('有效期自', from), field('有效期至（含当天）', until)),
    scopes.el,
    h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const c of [number, holder, cap.qty, from, until]) fieldError(c, '');
    const body = {
      license: number.value.trim(),
      holder: holder.value.trim().toUpperCase(),
      valid_from: from.value,
      valid_until: until.value,
    };
    const errs = [];
    if (!body.license) errs.push([number, '请填写许可证编号']);
    if (!body.holder) errs.push([holder, '请选择持证单位']);
    else if (orgIdError(body.holder)) errs.push([holder, orgIdError(body.holder)]);
    const g = cap.grams();
    if (typeof g === 'object') errs.push([cap.qty, g.error]);
    else body.capacity_g = g;
    if (!DATE_RE.test(body.valid_from)) errs.push([from, '请选择有效期起始日期']);
    if (!DATE_RE.test(body.valid_until)) errs.push([until, '请选择有效期截止日期']);
    else if (body.valid_until < body.valid_from) errs.push([until, '截止日期不能早于起始日期']);
    const sc = scopes.value();
    for (const [c, m] of errs.slice().reverse()) fieldError(c, m);
    if (errs.length) return;
    if (sc.error) return sc.error.focus();
    body.scopes = sc.scopes;
    const entry = await act(button, out, () => ctx.api.submit('license.issued', body),
      (e) => `已核发，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`已核发许可证 ${body.license}，记入账本第 ${entry.seq} 条。`);
      ctx.navigate(route({ license: body.license }));
    }
  });
  return form;
}

function amendForm(ctx, l) {
  const cap = capacityFields(l.capacity_g);
  const until = h('input', { type: 'date', value: l.valid_until });
  const scopes = scopesEditor(l.scopes);
  const button = h('button.primary', { type: 'submit' }, '签名并变更');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true },
    cap.el,
    field('有效期至（含当天）', until, '延续时改为新的截止日期'),
    scopes.el,
    h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(cap.qty, '');
    fieldError(until, '');
    const body = { license: l.license, valid_until: until.value };
    const g = cap.grams();
    const errs = [];
    if (typeof g === 'object') errs.push([cap.qty, g.error]);
    else body.capacity_g = g;
    if (!DATE_RE.test(body.valid_until)) errs.push([until, '请选择有效期截止日期']);
    else if (body.valid_until < l.valid_from) errs.push([until, `截止日期不能早于有效期起始日期 ${l.valid_from}`]);
    const sc = scopes.value();
    for (const [c, m] of errs.slice().reverse()) fieldError(c, m);
    if (errs.length) return;
    if (sc.error) return sc.error.focus();
    body.scopes = sc.scopes;
    const entry = await act(button, out, () => ctx.api.submit('license.amended', body),
      (e) => `已变更，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`许可证已变更，记入账本第 ${entry.seq} 条。`);
      ctx.refresh();
    }
  });
  return form;
}

function reasonForm(ctx, l, { type, submitLabel, danger, intro, done }) {
  const reason = h('textarea', { rows: 2, maxlength: 2000 });
  const button = h(danger ? 'button.danger' : 'button.primary', { type: 'submit' }, submitLabel);
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true }, intro ? h('p.muted', intro) : null,
    field('理由', reason), h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(reason, '');
    if (!reason.value.trim()) return fieldError(reason, '请填写理由');
    const entry = await act(button, out, () => ctx.api.submit(type, { license: l.license, reason: reason.value.trim() }),
      (e) => `已记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`${done}，记入账本第 ${entry.seq} 条。`);
      ctx.refresh();
    }
  });
  return form;
}

async function renderOne(ctx, number) {
  const shown = takeFlash();
  const back = h('p', link('/licenses', '← 经营许可证'));
  let l;
  try {
    l = await ctx.api.get(`/v1/licenses/${encodeURIComponent(number)}`);
  } catch (e) {
    mount(ctx.main, back, heading('许可证详情'),
      e.status === 404 ? notice('error', h('strong', `没有编号为 ${number} 的许可证。`)) : errorNotice(e));
    return;
  }
  const names = await orgNames(ctx.api, [l.holder]);
  const forms = [];
  if (l.status !== 'revoked') {
    forms.push(h('section.card', h('h3', '变更或延续'), amendForm(ctx, l)));
  }
  if (l.status === 'active') {
    forms.push(h('section.card', h('h3', '暂停'), reasonForm(ctx, l, {
      type: 'license.suspended', submitLabel: '签名并暂停', danger: true, done: '许可证已暂停',
      intro: '暂停期间，该证不覆盖任何接收、贮存和利用/处置；可恢复。',
    })));
  }
  if (l.status === 'suspended') {
    forms.push(h('section.card', h('h3', '恢复'), reasonForm(ctx, l, {
      type: 'license.reinstated', submitLabel: '签名并恢复', done: '许可证已恢复',
    })));
  }
  if (l.status !== 'revoked') {
    forms.push(h('section.card', h('h3', '吊销'), reasonForm(ctx, l, {
      type: 'license.revoked', submitLabel: '签名并吊销', danger: true, done: '许可证已吊销',
      intro: '吊销是最终状态，不能恢复或变更。',
    })));
  }
  mount(ctx.main,
    back,
    heading(`许可证 ${l.license}`),
    shown,
    h('section.card', dl([
      ['许可证编号', h('span.mono', l.license)],
      ['持证单位', link(`/orgs?org=${l.holder}`, holderLabel(names, l.holder))],
      ['状态', badge(label(LICENCE_STATUS, l.status), STATUS_TONE[l.status])],
      ['年经营规模', formatQuantity(l.capacity_g, 't')],
      ['有效期', `${l.valid_from} 至 ${l.valid_until}`],
      ['经营范围', h('ul.plain', l.scopes.map((s) => h('li', scopeText(s))))],
      ['核发记录', h('a', { href: proofHref(l.issued_seq), target: '_blank', rel: 'noopener' }, `账本第 ${l.issued_seq} 条`)],
      l.updated_seq !== l.issued_seq
        ? ['最近变动', h('a', { href: proofHref(l.updated_seq), target: '_blank', rel: 'noopener' }, `账本第 ${l.updated_seq} 条`)] : null,
    ])),
    forms.length ? [h('h2', '办理'), forms] : h('p.muted', '该许可证已吊销，不能再办理任何事项。'));
}

export async function render(ctx) {
  const q = ctx.query;
  if (q.license) return renderOne(ctx, q.license);
  const listEl = h('div', { 'aria-live': 'polite' }, h('p.muted', '正在加载……'));
  const issueEl = h('div', h('p.muted', '正在加载……'));
  const holder = h('input', { type: 'text', maxlength: 18, value: q.holder || '', autocomplete: 'off', spellcheck: 'false' });
  const filter = h('form.filters', { novalidate: true, 'aria-label': '筛选' },
    field('持证单位（信用代码）', holder),
    h('div.actions',
      h('button.primary', { type: 'submit' }, '筛选'),
      h('button', { type: 'button', on: { click: () => ctx.navigate('/licenses') } }, '全部')));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const o = holder.value.trim().toUpperCase();
    if (o && orgIdError(o)) return fieldError(holder, orgIdError(o));
    ctx.navigate(route({ holder: o }));
  });
  mount(ctx.main,
    heading('经营许可证', '危险废物经营许可证决定接收、贮存和利用/处置是否合规：联单只能开给持有覆盖该废物的有效许可证的接收单位。'),
    filter,
    listEl,
    h('h2', '核发许可证'),
    issueEl);

  const receiversCall = listOrgs(ctx.api, { role: 'receiver' }).catch(() => null);
  try {
    const { licenses } = await ctx.api.get('/v1/licenses', { holder: q.holder });
    const names = await orgNames(ctx.api, licenses.map((l) => l.holder));
    mount(listEl, stackOnPhone(table([
      { title: '许可证编号', get: (l) => link(route({ license: l.license }), l.license) },
      { title: '持证单位', get: (l) => holderLabel(names, l.holder) },
      { title: '年经营规模', class: 'num', get: (l) => formatQuantity(l.capacity_g, 't') },
      { title: '有效期', get: (l) => `${l.valid_from} 至 ${l.valid_until}` },
      { title: '经营范围', get: (l) => l.scopes.map((s) => h('div', scopeText(s))) },
      { title: '状态', get: (l) => badge(label(LICENCE_STATUS, l.status), STATUS_TONE[l.status]) },
    ], licenses, { empty: q.holder ? '该单位没有许可证' : '尚未核发许可证', caption: `共 ${licenses.length} 个` })));
  } catch (e) {
    mount(listEl, errorNotice(e));
  }
  const receivers = await receiversCall;
  if (receivers) rememberOrgNames(receivers);
  mount(issueEl, issueForm(ctx, receivers));
}
