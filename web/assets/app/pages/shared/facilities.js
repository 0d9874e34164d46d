// 贮存设施: the facilities (设施) of every organisation — storage places where declared lots are
// kept, and the utilize and dispose facilities where a generator treats its own waste. Public
// registry information (protocol §9), so every signed-in org sees the list; a regulator
// registers, amends and closes facilities, each one signed event (facility.registered,
// facility.amended, facility.closed). The service judges every rule; the form only points at
// fields left empty or mistyped.
//   #/facilities                     the list (?org= filters by organisation)
//   #/facilities/:org/:facility      one facility, and for a regulator its amend and close forms

import { h, mount, field, fieldError, clearFieldErrors, notice, select, link, badge, dl } from '../../core/dom.js';
import { listOrgs, orgNames, rememberOrgNames, ProblemError } from '../../core/api.js';
import { act, errorNotice, heading, orgIdError, setFlash, takeFlash } from '../../core/ui.js';
import { formatQuantity, fromGrams, toGrams, QuantityError, UNITS } from '../../core/units.js';
import { FACILITY_KINDS, STORAGE_TYPES, FACILITY_STATUS, label } from '../../core/i18n.js';
import { loadMethods, stackTable } from './actions.js';

const FACILITY_RE = /^[0-9A-Za-z._-]{1,32}$/;
const POINT_MAX_G = 3_000_000;
const STATUS_TONE = { active: 'ok', closed: 'neutral' };

export function facilityRoute(org, facility) {
  return `/facilities/${encodeURIComponent(org)}/${encodeURIComponent(facility)}`;
}

/** What a facility is: "贮存设施（贮存点）", "处置设施". */
export function kindText(f) {
  const k = label(FACILITY_KINDS, f.kind);
  return f.storage_type ? `${k}（${label(STORAGE_TYPES, f.storage_type)}）` : k;
}

function methodsText(methods, codes) {
  if (!codes || !codes.length) return '—';
  return codes.map((c) => (methods.get(c) ? `${c} ${methods.get(c).name}` : c)).join('；');
}

/** Use of a facility: stock against capacity for storage, treated this year for the others. */
function useText(f) {
  if (f.kind === 'storage') {
    const over = f.stock_g !== null && f.stock_g > f.capacity_g;
    return h(over ? 'span.text-bad' : 'span', `${formatQuantity(f.stock_g ?? 0)} / ${formatQuantity(f.capacity_g)}`,
      over ? '（超出贮存能力）' : '');
  }
  return `${formatQuantity(f.treated_g ?? 0)} / ${formatQuantity(f.capacity_g)}（本年）`;
}

function capacityInput(grams) {
  const qty = h('input', {
    type: 'text', inputmode: 'decimal', autocomplete: 'off', 'data-testid': 'facility-capacity',
    value: grams ? fromGrams(grams, 't').replace(/,/g, '') : '',
  });
  const unit = select(Object.entries(UNITS).map(([u, d]) => [u, d.label]), { value: 't' });
  return { qty, unit };
}

function readCapacity(c) {
  try {
    return toGrams(c.qty.value, c.unit.value);
  } catch (e) {
    if (e instanceof QuantityError) return fieldError(c.qty, e.message), null;
    throw e;
  }
}

/**
 * Check boxes for the handling methods of one kind (utilize: R…, dispose: D…). `value()` is the
 * ticked codes, in list order.
 */
function methodsPicker(methods, kind, chosen = []) {
  const box = h('fieldset.field.methods', { 'data-testid': 'facility-methods' }, h('legend', '利用/处置方式'));
  const list = h('div.method-list');
  const err = h('div.field-error', { role: 'alert', 'aria-live': 'polite' });
  box.append(h('div.hint', '至少选择一种；只列出该类设施可用的方式。'), list, err);
  let boxes = [];
  function show(k) {
    boxes = methods.filter((m) => m.kind === k).map((m) => {
      const input = h('input', { type: 'checkbox', value: m.code, checked: chosen.includes(m.code) });
      input.id = 'm-' + m.code + '-' + Math.random().toString(36).slice(2, 7);
      return { input, el: h('div.check', input, h('label', { for: input.id }, `${m.code} ${m.name}`)) };
    });
    mount(list, boxes.map((b) => b.el));
  }
  show(kind);
  return {
    el: box,
    show,
    value: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value),
    error(message) {
      box.classList.toggle('has-error', Boolean(message));
      err.textContent = message || '';
      if (message && boxes[0]) boxes[0].input.focus();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The list

export async function render(ctx) {
  if (ctx.params.org && ctx.params.facility) return renderOne(ctx, ctx.params.org, ctx.params.facility);
  const q = ctx.query;
  const regulator = ctx.session.has('regulator');
  const shown = takeFlash();
  const listEl = h('div', { 'aria-live': 'polite' }, h('p.muted', '正在加载……'));
  const org = h('input', { type: 'text', maxlength: 18, value: q.org || '', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'facility-filter-org' });
  const filter = h('form.filters', { novalidate: true, 'aria-label': '筛选' },
    field('所属单位（统一社会信用代码）', org),
    h('div.actions',
      h('button.primary', { type: 'submit' }, '筛选'),
      regulator ? null : h('button', { type: 'button', on: { click: () => ctx.navigate(`/facilities?org=${ctx.session.org}`) } }, '本单位'),
      h('button', { type: 'button', on: { click: () => ctx.navigate('/facilities') } }, '全部')));
  filter.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const o = org.value.trim().toUpperCase();
    if (o && orgIdError(o)) return fieldError(org, orgIdError(o));
    ctx.navigate(o ? `/facilities?org=${o}` : '/facilities');
  });
  const registerEl = regulator ? h('div', h('p.muted', '正在加载……')) : null;
  mount(ctx.main,
    heading('贮存设施', '各单位登记的危险废物贮存设施和自行利用/处置设施。申报登记时选择贮存设施，自行利用/处置时选择利用或处置设施；设施由生态环境局登记、变更和关闭。'),
    shown,
    filter,
    listEl,
    regulator ? [h('h2', '登记设施'), registerEl] : null);

  try {
    const [{ facilities }, methods] = await Promise.all([
      ctx.api.get('/v1/facilities', { org: q.org }),
      loadMethods().then((m) => new Map(m.map((x) => [x.code, x]))).catch(() => new Map()),
    ]);
    const names = await orgNames(ctx.api, facilities.map((f) => f.org));
    mount(listEl, stackTable([
      { title: '设施', get: (f) => [link(facilityRoute(f.org, f.facility), f.name), h('div.mono.small', f.facility)] },
      { title: '所属单位', get: (f) => [names.get(f.org) || '', h('div.mono.small', f.org)] },
      { title: '类别', get: (f) => kindText(f) },
      { title: '现存/能力', class: 'num', get: (f) => useText(f) },
      { title: '方式', get: (f) => methodsText(methods, f.methods) },
      { title: '状态', get: (f) => badge(label(FACILITY_STATUS, f.status), STATUS_TONE[f.status]) },
    ], facilities, {
      empty: q.org ? '该单位没有登记设施' : '尚未登记设施',
      caption: `共 ${facilities.length} 个${q.org ? `（${names.get(q.org) || q.org}）` : ''}`,
    }));
  } catch (e) {
    mount(listEl, errorNotice(e));
  }
  if (regulator) {
    const [orgs, methods] = await Promise.all([
      listOrgs(ctx.api, {}).catch(() => null),
      loadMethods().catch(() => []),
    ]);
    if (orgs) rememberOrgNames(orgs);
    mount(registerEl, registerForm(ctx, orgs, methods, q.org));
  }
}

// ---------------------------------------------------------------------------------------------
// Registering

function registerForm(ctx, orgs, methods, presetOrg) {
  const holders = orgs ? orgs.filter((o) => (o.roles || []).some((r) => r === 'generator' || r === 'receiver')) : null;
  const org = holders && holders.length
    ? select([['', '请选择单位'], ...holders.map((o) => [o.org, `${o.name}（${o.org}）`])], { value: presetOrg || '', 'data-testid': 'facility-org' })
    : h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false', value: presetOrg || '', 'data-testid': 'facility-org' });
  const code = h('input', { type: 'text', maxlength: 32, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'facility-code', placeholder: '例如 TS001' });
  const kind = select(Object.entries(FACILITY_KINDS), { value: 'storage', 'data-testid': 'facility-kind' });
  const storageType = select(Object.entries(STORAGE_TYPES), { value: 'warehouse', 'data-testid': 'facility-storage-type' });
  const name = h('input', { type: 'text', maxlength: 200, autocomplete: 'off', 'data-testid': 'facility-name' });
  const address = h('input', { type: 'text', maxlength: 500, autocomplete: 'off', 'data-testid': 'facility-address' });
  const cap = capacityInput(null);
  const capHint = h('span');
  const picker = methodsPicker(methods, 'utilize');
  const storageField = field('贮存设施类型', storageType);
  const button = h('button.primary', { type: 'submit' }, '签名并登记');
  const out = h('div.out', { 'aria-live': 'polite' });

  function kindChanged() {
    const storage = kind.value === 'storage';
    storageField.hidden = !storage;
    picker.el.hidden = storage;
    if (!storage) picker.show(kind.value);
    capHint.textContent = storage
      ? `同时贮存的最大数量${storageType.value === 'point' ? '（贮存点最多 3 吨）' : ''}`
      : '每个自然年最多利用/处置的数量';
  }
  kind.addEventListener('change', kindChanged);
  storageType.addEventListener('change', kindChanged);
  kindChanged();

  const form = h('form', { novalidate: true },
    field('所属单位', org, holders ? '产废单位或接收单位' : '统一社会信用代码'),
    field('设施编码', code, '本单位内唯一，1–32 位字母、数字或 . _ -，例如排污许可证中的设施编码（HJ 608）'),
    field('设施名称', name, '例如 1 号危废贮存库'),
    field('设施类别', kind),
    storageField,
    h('div.row', field('能力', cap.qty, capHint), field('计量单位', cap.unit)),
    picker.el,
    field('地址（可选）', address),
    h('div.actions', button), out);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    picker.error('');
    const o = org.value.trim().toUpperCase();
    if (!o) return fieldError(org, '请选择单位');
    if (orgIdError(o)) return fieldError(org, orgIdError(o));
    const f = code.value.trim();
    if (!f) return fieldError(code, '请填写设施编码');
    if (!FACILITY_RE.test(f)) return fieldError(code, '设施编码为 1–32 位字母、数字或 . _ -');
    if (!name.value.trim()) return fieldError(name, '请填写设施名称');
    const g = readCapacity(cap);
    if (g === null) return;
    const body = { org: o, facility: f, kind: kind.value, capacity_g: g, name: name.value.trim() };
    if (kind.value === 'storage') {
      body.storage_type = storageType.value;
      if (storageType.value === 'point' && g > POINT_MAX_G) return fieldError(cap.qty, '贮存点最多贮存 3 吨（GB 18597-2023）');
    } else {
      const m = picker.value();
      if (!m.length) return picker.error('请至少选择一种利用/处置方式');
      body.methods = m;
    }
    if (address.value.trim()) body.address = address.value.trim();
    const entry = await act(button, out, () => ctx.api.submit('facility.registered', body),
      (e) => `已登记，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`已登记设施 ${body.name}（${body.facility}），记入账本第 ${entry.seq} 条。`);
      ctx.navigate(facilityRoute(o, f));
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// One facility

function amendForm(ctx, f, methods) {
  const cap = capacityInput(f.capacity_g);
  const picker = f.kind === 'storage' ? null : methodsPicker(methods, f.kind, f.methods || []);
  const button = h('button.primary', { type: 'submit' }, '签名并变更');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true },
    h('div.row', field(f.kind === 'storage' ? '贮存能力' : '年利用/处置能力', cap.qty), field('计量单位', cap.unit)),
    picker ? picker.el : null,
    h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    if (picker) picker.error('');
    const g = readCapacity(cap);
    if (g === null) return;
    if (f.storage_type === 'point' && g > POINT_MAX_G) return fieldError(cap.qty, '贮存点最多贮存 3 吨（GB 18597-2023）');
    const body = { org: f.org, facility: f.facility, capacity_g: g };
    if (picker) {
      const m = picker.value();
      if (!m.length) return picker.error('请至少选择一种利用/处置方式');
      body.methods = m;
    }
    const entry = await act(button, out, () => ctx.api.submit('facility.amended', body), (e) => `已变更，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`设施已变更，记入账本第 ${entry.seq} 条。`);
      ctx.refresh();
    }
  });
  return form;
}

function closeForm(ctx, f) {
  const reason = h('textarea', { rows: 2, maxlength: 2000, 'data-testid': 'facility-close-reason' });
  const button = h('button.danger', { type: 'submit' }, '签名并关闭');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true },
    h('p.muted', '关闭是最终状态：设施内已有的批次仍然保留，但不能再存入新的批次或进行利用/处置。'),
    field('理由', reason), h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(reason, '');
    if (!reason.value.trim()) return fieldError(reason, '请填写理由');
    const entry = await act(button, out,
      () => ctx.api.submit('facility.closed', { org: f.org, facility: f.facility, reason: reason.value.trim() }),
      (e) => `已关闭，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`设施已关闭，记入账本第 ${entry.seq} 条。`);
      ctx.refresh();
    }
  });
  return form;
}

async function renderOne(ctx, org, facility) {
  const shown = takeFlash();
  const back = h('p', link(`/facilities?org=${encodeURIComponent(org)}`, '← 贮存设施'));
  let f;
  try {
    f = await ctx.api.get(`/v1/facilities/${encodeURIComponent(org)}/${encodeURIComponent(facility)}`);
  } catch (e) {
    mount(ctx.main, back, heading('设施详情'),
      e instanceof ProblemError && e.status === 404
        ? notice('error', h('strong', `单位 ${org} 没有编码为 ${facility} 的设施。`)) : errorNotice(e));
    return;
  }
  const [names, methodList] = await Promise.all([orgNames(ctx.api, [f.org]), loadMethods().catch(() => [])]);
  const methods = new Map(methodList.map((x) => [x.code, x]));
  const regulator = ctx.session.has('regulator');
  const forms = regulator && f.status === 'active' ? [
    h('section.card', h('h3', '变更能力或方式'), amendForm(ctx, f, methodList)),
    h('section.card', h('h3', '关闭'), closeForm(ctx, f)),
  ] : [];
  mount(ctx.main,
    back,
    heading(`${f.name}`),
    shown,
    h('section.card', { 'data-testid': 'facility' }, dl([
      ['设施编码', h('span.mono', f.facility)],
      ['所属单位', [names.get(f.org) || '', ' ', h('span.mono.muted', f.org)]],
      ['类别', kindText(f)],
      ['状态', badge(label(FACILITY_STATUS, f.status), STATUS_TONE[f.status])],
      [f.kind === 'storage' ? '贮存能力' : '年利用/处置能力', formatQuantity(f.capacity_g)],
      f.kind === 'storage' ? ['现存量', useText(f)] : ['本年已利用/处置', useText(f)],
      f.methods ? ['利用/处置方式', methodsText(methods, f.methods)] : null,
      ['地址', f.address || '—'],
    ])),
    forms.length ? [h('h2', '办理'), forms] : null,
    !regulator && f.org === ctx.session.org && ctx.session.has('generator') && f.status === 'active'
      ? h('p.actions', f.kind === 'storage' ? link('/declare', '申报登记到此设施') : link('/treat', '在此设施自行利用/处置')) : null);
}
