// The signed steps of a manifest after its opening, one form each: the generator cancels, the
// carrier picks up, the receiver receives, rejects, disposes or stores. The manifest page and the dock
// view both use these, so a rule of a step is written once.
//
// Each form takes (ctx, manifest, onDone, opts): `manifest` is the GET /v1/manifests/{id} view,
// `onDone(entry)` runs after the ledger recorded the event. Every form checks its fields first
// and says which one is wrong, then signs in the browser and shows the service's answer.

import { h, mount, field, fieldError, notice, select, table, stackOnPhone, clearFieldErrors } from '../../core/dom.js';
import { Api } from '../../core/api.js';
import { act } from '../../core/ui.js';
import { toGrams, fromGrams, formatQuantity, QuantityError, UNITS } from '../../core/units.js';
import { MANIFEST_STATUS, STORAGE_TYPES, label } from '../../core/i18n.js';
import { spacedId, nextFreeIds, evenSplit } from '../../core/containers.js';
import { cstDate, todayCst } from '../../core/time.js';
import { scanChecklist } from './scan.js';

const UNIT_OPTIONS = Object.entries(UNITS).map(([k, u]) => [k, u.label]);

// The methods list is public and fixed; one fetch per page load is enough.
let methodsPromise = null;
export function loadMethods() {
  if (!methodsPromise) {
    methodsPromise = Api.public('/v1/catalogue/methods').then((r) => r.methods)
      .catch((e) => { methodsPromise = null; throw e; });
  }
  return methodsPromise;
}

// Names of organisations (public registry, read with the token) and catalogue entries change
// rarely; pages ask for the same few again and again, so both are cached for the page's life.
const orgCache = new Map();
export function orgInfo(ctx, org) {
  if (!org) return Promise.resolve(null);
  if (!orgCache.has(org)) {
    orgCache.set(org, ctx.api.get(`/v1/orgs/${encodeURIComponent(org)}`)
      .catch((e) => { orgCache.delete(org); throw e; }));
  }
  return orgCache.get(org);
}

/** {org: info or null} for several orgs; an unreadable one is null rather than an error. */
export async function orgInfos(ctx, orgs) {
  const uniq = [...new Set(orgs.filter(Boolean))];
  const infos = await Promise.all(uniq.map((o) => orgInfo(ctx, o).catch(() => null)));
  return Object.fromEntries(uniq.map((o, i) => [o, infos[i]]));
}

const catalogueCache = new Map();
/** The catalogue edition in force on `date` (CST, default today): {edition, codes, byCode}. */
export function loadCatalogue(date) {
  const key = date || '';
  if (!catalogueCache.has(key)) {
    catalogueCache.set(key, Api.public('/v1/catalogue/codes', { date }).then((r) => ({
      edition: r.edition, codes: r.codes, byCode: new Map(r.codes.map((c) => [c.code, c])),
    })).catch((e) => { catalogueCache.delete(key); throw e; }));
  }
  return catalogueCache.get(key);
}

/**
 * code → catalogue entry for `codes`, from the edition in force on `date`, and for a code that
 * edition lacks (a lot declared under the earlier edition), from the 2021 edition.
 */
export async function catalogueEntries(codes, date) {
  const cat = await loadCatalogue(date);
  const out = new Map();
  const missing = [];
  for (const c of codes) {
    if (cat.byCode.has(c)) out.set(c, cat.byCode.get(c));
    else missing.push(c);
  }
  if (missing.length) {
    const old = await loadCatalogue('2024-12-31').catch(() => null);
    for (const c of missing) if (old && old.byCode.has(c)) out.set(c, old.byCode.get(c));
  }
  return out;
}

/** Hazard characteristics (GB 5085) spelled out: "T/C" → "毒性、腐蚀性". */
export const HAZARDS = { T: '毒性', C: '腐蚀性', I: '易燃性', R: '反应性', In: '感染性' };
export function hazardText(hazard) {
  return String(hazard || '').split(/[/,，、\s]+/).filter(Boolean)
    .map((k) => (HAZARDS[k] ? `${HAZARDS[k]}（${k}）` : k)).join('、');
}

/**
 * core/dom.js `table`, with each cell labelled by its column so that at phone width the rows can
 * be shown as cards (class `stack`, see console.css).
 */
/** A table that turns into labelled cards on a phone (core/dom.js stackOnPhone). */
export function stackTable(columns, rows, opts) {
  return stackOnPhone(table(columns, rows, opts));
}

function manifestId(manifest) {
  return manifest.manifest;
}

function unitSelect(value = 't') {
  return select(UNIT_OPTIONS, { value, 'data-testid': 'unit' });
}

function doneMessage(text, entry) {
  return [h('strong', text), ' ', h('span.muted', `账本序号 ${entry.seq}`)];
}

function actionForm(cls, title, lead, ...children) {
  return h(`form.action-form.${cls}`, { novalidate: true },
    h('h3', title), lead ? h('p.muted', lead) : null, ...children);
}

/** Reads an exact quantity from `input` in `unit`, or marks the field and returns null. */
function readQuantity(input, unit, opts) {
  try {
    return toGrams(input.value, unit, opts);
  } catch (e) {
    if (e instanceof QuantityError) {
      fieldError(input, e.message);
      return null;
    }
    throw e;
  }
}

/** Wires submission: `check()` returns the event body or null (fields already marked). */
function wire(form, button, out, type, check, success, onDone, ctx) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const body = check();
    if (!body) {
      mount(out);
      return;
    }
    const entry = await act(button, out, () => ctx.api.submit(type, body), (e) => doneMessage(success, e));
    if (entry && onDone) onDone(entry);
  });
}

/** 作废联单: the generator, while `opened`. */
export function cancelForm(ctx, manifest, onDone) {
  const reason = h('textarea', { maxlength: 2000, rows: 3, 'data-testid': 'cancel-reason' });
  const button = h('button.danger', { type: 'submit' }, '作废联单');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = actionForm('cancel', '作废联单',
    '联单尚未起运时可以作废；预留的库存随之释放。作废记入账本，不能撤销。',
    field('作废原因', reason, '例如：接收单位无法接收，改日重开。'),
    h('div.actions', button), out);
  wire(form, button, out, 'manifest.cancelled', () => {
    const r = reason.value.trim();
    if (!r) return fieldError(reason, '请填写作废原因'), null;
    return { manifest: manifestId(manifest), reason: r };
  }, '联单已作废', onDone, ctx);
  return form;
}

/** Container ids the manifest names, in line order. */
function manifestContainers(manifest) {
  const ids = [];
  for (const l of manifest.lines || []) for (const c of l.containers || []) ids.push(c.id);
  return ids;
}

/**
 * 起运 (运输单位接收): the carrier, while `opened`. A manifest that names containers shows them
 * as a checklist that fills as their labels are scanned (or their codes typed); the pickup sends
 * the codes scanned (protocol §6 manifest.picked_up). opts.containers: codes scanned elsewhere.
 */
export function pickupForm(ctx, manifest, onDone, opts = {}) {
  const plate = h('input', {
    type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 16,
    placeholder: '例如 苏D12345', 'data-testid': 'vehicle',
  });
  const named = manifestContainers(manifest);
  // A refusal for unscanned containers no longer holds once another one is scanned (the
  // checklist also reports its first count while it is built, before it is assigned).
  let checklist = null;
  if (named.length && !opts.containers) {
    checklist = scanChecklist(named, {
      onChange: () => checklist && fieldError(checklist.input, ''),
    });
  }
  const scanField = checklist ? h('fieldset.field', { 'data-testid': 'pickup-scan' },
    h('legend', `核对容器（联单列明 ${named.length} 个）`),
    checklist.el,
    h('div.field-error', { role: 'alert', 'aria-live': 'polite' })) : null;
  const button = h('button.primary', { type: 'submit' }, '确认起运');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = actionForm('pickup', '运输单位接收（起运）',
    checklist ? '逐个扫描容器标签核对无误后，填写运输车辆号牌并签名。' : '核对废物与联单一致后，填写运输车辆号牌并签名。',
    scanField,
    field('车辆号牌', plate, '机动车号牌，含省份简称。'),
    h('div.actions', button), out);
  wire(form, button, out, 'manifest.picked_up', () => {
    const v = plate.value.trim().toUpperCase().replace(/\s+/g, '');
    if (checklist && !checklist.complete()) {
      const left = checklist.missing();
      fieldError(checklist.input, `还有 ${left.length} 个容器未扫描：${left.join('、')}。联单所列容器须全部核对后才能起运。`);
      return null;
    }
    if (!v) return fieldError(plate, '请填写车辆号牌'), null;
    if (!/^[\u4e00-\u9fa5]?[A-Z0-9\u4e00-\u9fa5]{5,12}$/.test(v)) {
      return fieldError(plate, '号牌格式不正确，例如 苏D12345'), null;
    }
    const body = { manifest: manifestId(manifest), vehicle: v };
    if (opts.containers && opts.containers.length) body.containers = [...opts.containers];
    else if (checklist) body.containers = checklist.scanned();
    return body;
  }, '已起运', onDone, ctx);
  return form;
}

function lineTitle(line, catalogue) {
  const c = catalogue && catalogue.get(line.code);
  return c ? `${line.code}（${c.description}）` : line.code;
}

/**
 * 签收: the receiver, while `picked_up`; the weighed quantity per line, 0 allowed. A line that
 * names containers is weighed container by container: a container not there is ticked 未到 and
 * left out of the receipt (the ledger then counts it 0 and names it in the shortfall ticket), and
 * the line's quantity is the sum of the weights.
 */
export function receiveForm(ctx, manifest, onDone, opts = {}) {
  const unit = unitSelect(opts.unit || 't');
  const shortfallBp = opts.shortfallBp ?? 100;
  const rows = (manifest.lines || []).map((line) => {
    const boxes = line.containers && line.containers.length ? line.containers : null;
    const input = h('input', {
      type: 'text', inputmode: 'decimal', autocomplete: 'off',
      'data-testid': `received-${line.code}`, 'data-code': line.code, readonly: boxes ? true : null,
    });
    const diff = h('div.hint.diff', { 'aria-live': 'polite' });
    const weighed = boxes ? boxes.map((c, i) => {
      const w = h('input', {
        type: 'text', inputmode: 'decimal', autocomplete: 'off',
        'data-testid': `weight-${c.id}`, 'data-container': c.id, 'aria-label': `容器 ${c.id} 实收重量`,
      });
      const gone = h('input', { type: 'checkbox', 'data-testid': `missing-${c.id}` });
      gone.id = `gone-${i}-${Math.random().toString(36).slice(2, 7)}`;
      return { c, w, gone };
    }) : null;
    /** The line's received grams: typed, or the sum of the containers weighed; null if unreadable. */
    const grams = () => {
      if (!weighed) {
        try {
          return toGrams(input.value, unit.value, { allowZero: true });
        } catch {
          return null;
        }
      }
      let sum = 0;
      for (const x of weighed) {
        if (x.gone.checked) continue;
        try {
          sum += toGrams(x.w.value, unit.value, { allowZero: true });
        } catch {
          return null;
        }
      }
      return sum;
    };
    const show = () => {
      const g = grams();
      if (weighed) {
        for (const x of weighed) x.w.disabled = x.gone.checked;
        input.value = g === null ? '' : fromGrams(g, unit.value).replace(/,/g, '');
      }
      if (g === null) {
        diff.textContent = '';
        return;
      }
      const short = line.quantity_g - g;
      const left = weighed ? weighed.filter((x) => x.gone.checked).length : 0;
      if (left || (short > 0 && short * 10000 > line.quantity_g * shortfallBp)) {
        diff.textContent = left
          ? `${left} 个容器未到，比运单少 ${formatQuantity(Math.max(short, 0))}，签收后将自动立案（数量短缺），并列明未到的容器。`
          : `比运单少 ${formatQuantity(short)}，超过允许的称量误差，签收后将自动立案（数量短缺）。`;
        diff.className = 'hint diff warn';
      } else {
        diff.textContent = short === 0 ? '与运单数量一致。'
          : short > 0 ? `比运单少 ${formatQuantity(short)}（在称量误差内）。` : `比运单多 ${formatQuantity(-short)}。`;
        diff.className = 'hint diff';
      }
    };
    input.addEventListener('input', show);
    unit.addEventListener('change', show);
    if (weighed) {
      for (const x of weighed) {
        x.w.addEventListener('input', show);
        x.gone.addEventListener('change', show);
      }
    }
    const boxTable = weighed ? table([
      { title: '容器识别码', get: (x) => h('span.mono.container-id', spacedId(x.c.id)) },
      { title: '申报重量', class: 'num', get: (x) => formatQuantity(x.c.quantity_g) },
      { title: '实收重量', get: (x) => x.w },
      { title: '未到', get: (x) => h('div.check', x.gone, h('label', { for: x.gone.id }, '未到')) },
    ], weighed) : null;
    return {
      line, input, weighed, el: h('div',
        boxTable ? h('fieldset.field', { 'data-testid': `receive-containers-${line.code}` },
          h('legend', `逐个称重：${lineTitle(line, opts.catalogue)}`),
          h('div.hint', '填写每个容器的过磅重量；没有送到的容器勾选“未到”，签收时不列入。'),
          boxTable,
          h('div.field-error', { role: 'alert', 'aria-live': 'polite' })) : null,
        field(`实收数量：${lineTitle(line, opts.catalogue)}`, input,
          weighed ? `运单数量 ${formatQuantity(line.quantity_g)}。为各容器实收重量之和。`
            : `运单数量 ${formatQuantity(line.quantity_g)}。按过磅结果填写，未收到填 0。`), diff),
    };
  });
  const button = h('button.primary', { type: 'submit' }, '确认签收');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = actionForm('receive', '接收单位签收',
    '按实际过磅数量逐行填写后签名。签收后联单进入“已接收”，等待利用/处置。',
    field('数量单位', unit), rows.map((r) => r.el),
    h('div.actions', button), out);
  wire(form, button, out, 'manifest.received', () => {
    const lines = [];
    for (const r of rows) {
      if (!r.weighed) {
        const g = readQuantity(r.input, unit.value, { allowZero: true });
        if (g === null) return null;
        lines.push({ code: r.line.code, quantity_g: g });
        continue;
      }
      const containers = [];
      for (const x of r.weighed) {
        if (x.gone.checked) continue;
        const g = readQuantity(x.w, unit.value, { allowZero: true });
        if (g === null) return null;
        containers.push({ id: x.c.id, quantity_g: g });
      }
      // A receipt line that lists containers lists at least one; when none arrived, each is
      // listed at 0, which the ledger counts as missing just as if left out.
      const listed = containers.length ? containers : r.weighed.map((x) => ({ id: x.c.id, quantity_g: 0 }));
      lines.push({ code: r.line.code, quantity_g: listed.reduce((a, c) => a + c.quantity_g, 0), containers: listed });
    }
    return { manifest: manifestId(manifest), lines };
  }, '已签收', onDone, ctx);
  return form;
}

/** 拒收: the receiver, while `picked_up`; the waste goes back to the generator's stock. */
export function rejectForm(ctx, manifest, onDone) {
  const reason = h('textarea', { maxlength: 2000, rows: 3, 'data-testid': 'reject-reason' });
  const button = h('button.danger', { type: 'submit' }, '拒收');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = actionForm('reject', '拒收',
    '废物与联单不符或超出许可范围时整单拒收，废物退回产废单位库存。拒收记入账本，不能撤销。',
    field('拒收原因', reason, '写明不符之处，例如：包装破损、实物与废物代码不符。'),
    h('div.actions', button), out);
  wire(form, button, out, 'manifest.rejected', () => {
    const r = reason.value.trim();
    if (!r) return fieldError(reason, '请填写拒收原因'), null;
    return { manifest: manifestId(manifest), reason: r };
  }, '已拒收', onDone, ctx);
  return form;
}

function methodSelect(methods) {
  const groups = [['utilize', '利用'], ['dispose', '处置']];
  return h('select', { 'data-testid': 'method' },
    h('option', { value: '' }, '请选择'),
    groups.map(([kind, title]) => h('optgroup', { label: title },
      methods.filter((m) => m.kind === kind).map((m) => h('option', { value: m.code },
        `${m.code} ${m.name}`)))));
}

/** 利用/处置: the receiver, while `received`; per line a quantity ≤ received and a method. */
export function disposeForm(ctx, manifest, onDone, opts = {}) {
  const out = h('div.out', { 'aria-live': 'polite' });
  const holder = h('div', h('p.muted', '正在加载利用/处置方式……'));
  const button = h('button.primary', { type: 'submit', disabled: true }, '确认利用/处置');
  const unit = unitSelect(opts.unit || 't');
  const rows = [];
  const form = actionForm('dispose', '利用/处置',
    '逐行填写已利用或处置的数量（不超过实收数量）和方式后签名。',
    field('数量单位', unit), holder, h('div.actions', button), out);
  loadMethods().then((methods) => {
    for (const line of manifest.lines || []) {
      const received = line.received_g ?? 0;
      const input = h('input', {
        type: 'text', inputmode: 'decimal', autocomplete: 'off',
        'data-testid': `disposed-${line.code}`, value: fromGrams(received, unit.value).replace(/,/g, ''),
      });
      const method = methodSelect(methods);
      method.setAttribute('data-testid', `method-${line.code}`);
      rows.push({ line, input, method, received });
      unit.addEventListener('change', () => {
        // Keep the exact figure when the unit changes, if it still parses.
        const other = unit.value === 't' ? 'kg' : 't';
        try {
          input.value = fromGrams(toGrams(input.value, other, { allowZero: true }), unit.value).replace(/,/g, '');
        } catch { /* leave what was typed */ }
      });
    }
    mount(holder, rows.map((r) => h('fieldset.line',
      h('legend', lineTitle(r.line, opts.catalogue)),
      field('利用/处置数量', r.input, `实收 ${formatQuantity(r.received)}。`),
      field('利用/处置方式', r.method))));
    button.disabled = false;
  }).catch((e) => {
    mount(holder, notice('error', h('strong', e.message || String(e))));
  });
  wire(form, button, out, 'manifest.disposed', () => {
    const lines = [];
    for (const r of rows) {
      const g = readQuantity(r.input, unit.value, { allowZero: true });
      if (g === null) return null;
      if (g > r.received) {
        return fieldError(r.input, `不能超过实收数量 ${formatQuantity(r.received)}`), null;
      }
      if (!r.method.value) return fieldError(r.method, '请选择利用/处置方式'), null;
      lines.push({ code: r.line.code, quantity_g: g, method: r.method.value });
    }
    return { manifest: manifestId(manifest), lines };
  }, '已记录利用/处置', onDone, ctx);
  return form;
}

const known = (v) => v !== null && v !== undefined;

/** The CST date of the manifest's receipt: the date of the lots a storing makes (protocol §6 Stock). */
export function receiptDate(manifest) {
  const r = (manifest.history || []).find((x) => x.type === 'manifest.received');
  return r ? cstDate(r.at) : todayCst();
}

/** The receiver's active storage facilities, or [] when they cannot be read (none is then named). */
function storageFacilities(ctx) {
  return ctx.api.get('/v1/facilities', { org: ctx.session.org })
    .then((r) => r.facilities.filter((f) => f.kind === 'storage' && f.status === 'active'))
    .catch(() => []);
}

/**
 * 入库贮存: the receiver, while `received`, puts what it received into its own stock
 * (manifest.stored) instead of disposing of it: per line the quantity stored (at most the
 * received one), and for a line that came in containers either the containers as received
 * (only when the receipt weighed them one by one) or new containers of its own, relabelled with
 * HJ 1276 codes packed by the receiver on the receipt's date; a line may also be packed anew.
 * Each line stored above 0 becomes a lot, dated the receipt's CST date, from which the receiver
 * may open onward manifests. The form shows what it will sign before signing.
 * onDone gets the entry with `relabelled`: the codes of the lines packed in new containers.
 */
export function storeForm(ctx, manifest, onDone, opts = {}) {
  const me = ctx.session.org;
  const unit = unitSelect(opts.unit || 't');
  const lotDate = receiptDate(manifest);
  const facility = h('select', { 'data-testid': 'store-facility', disabled: true }, h('option', { value: '' }, '正在查询贮存设施……'));
  const holder = h('div');
  const preview = h('div.store-preview', { 'aria-live': 'polite', 'data-testid': 'store-preview' });
  const button = h('button.primary', { type: 'submit' }, '签名并入库贮存');
  const out = h('div.out', { 'aria-live': 'polite' });
  let stores = [];

  const rows = (manifest.lines || []).map((line, li) => {
    const received = line.received_g ?? 0;
    const boxes = line.containers && line.containers.length ? line.containers : null;
    const weighedOne = Boolean(boxes && boxes.some((c) => known(c.received_g)));
    const arrived = boxes ? boxes.filter((c) => (c.received_g ?? 0) > 0) : [];
    const keptGrams = arrived.reduce((a, c) => a + c.received_g, 0);
    const modes = boxes
      ? [
        weighedOne ? ['keep', `保留原容器（${arrived.length} 个，按签收时逐个称重的重量）`] : null,
        ['relabel', '重新包装贴标（本单位新的容器识别码）'],
      ].filter(Boolean)
      : [['none', '不按容器（散装入库）'], ['relabel', '装入容器（本单位新的容器识别码）']];
    const mode = select(modes, { value: modes[0][0], 'data-testid': `store-mode-${line.code}` });
    const input = h('input', {
      type: 'text', inputmode: 'decimal', autocomplete: 'off',
      'data-testid': `stored-${line.code}`, value: fromGrams(received, unit.value).replace(/,/g, ''),
    });
    const count = h('input', {
      type: 'number', min: 1, max: 999, step: 1, inputmode: 'numeric',
      value: String(Math.max(1, arrived.length || (boxes ? boxes.length : 1))), 'data-testid': `store-count-${line.code}`,
    });
    const countField = field('新容器数量', count, `每个新容器一个识别码和标签，包装日期为签收日期 ${lotDate}。`);
    const codesEl = h('div.container-codes', { 'aria-live': 'polite', 'data-testid': `store-codes-${line.code}` });
    const row = { line, received, boxes, weighedOne, arrived, keptGrams, mode, input, count, countField, codesEl, relabel: null, round: 0 };

    /** The line's stored grams as typed, or null. */
    row.grams = () => {
      if (row.mode.value === 'keep') return keptGrams;
      try {
        return toGrams(input.value, unit.value, { allowZero: true });
      } catch {
        return null;
      }
    };
    /** Even weights of the new containers, unless typed by hand. */
    row.split = () => {
      if (!row.relabel || row.relabel.edited) return;
      const g = row.grams();
      const parts = g && g >= row.relabel.ids.length ? evenSplit(g, row.relabel.ids.length) : null;
      row.relabel.weights.forEach((w, i) => {
        w.value = parts ? fromGrams(parts[i], unit.value).replace(/,/g, '') : '';
      });
    };
    /** Proposes the next free codes of the receipt's date for the receiver and this code. */
    row.propose = async () => {
      const n = Number(count.value);
      const g = row.grams();
      if (row.mode.value !== 'relabel' || !g || !Number.isInteger(n) || n < 1 || n > 999) {
        row.relabel = null;
        mount(codesEl, row.mode.value === 'relabel' && g === 0 ? h('p.muted', '数量为 0 的行不入库，也不装容器。') : null);
        return;
      }
      if (row.relabel && row.relabel.n === n) {
        row.split();
        return;
      }
      const mine = ++row.round;
      row.relabel = null;
      mount(codesEl, h('p.muted', '正在生成容器识别码……'));
      try {
        const ids = await nextFreeIds(ctx.api, me, line.code, lotDate, n);
        if (mine !== row.round) return;
        const weights = ids.map((id, i) => {
          const w = h('input', {
            type: 'text', inputmode: 'decimal', autocomplete: 'off',
            'data-testid': `store-weight-${line.code}-${i + 1}`, 'aria-label': `新容器 ${i + 1} 的重量`,
          });
          w.addEventListener('input', () => {
            row.relabel.edited = true;
            update();
          });
          return w;
        });
        row.relabel = { n, ids, weights, edited: false };
        row.split();
        mount(codesEl,
          h('p.muted', `按 HJ 1276-2022 生成：本单位统一社会信用代码 + 废物代码 + 包装日期（签收日期）+ 序号。各容器重量默认平均分配，可按实际称重修改，合计须等于入库数量（单位：${UNITS[unit.value].label}）。`),
          table([
            { title: '序号', class: 'num', get: (r) => String(r.i + 1) },
            { title: '容器识别码', get: (r) => h('span.mono.container-id', { 'data-container': r.id }, spacedId(r.id)) },
            { title: `重量（${UNITS[unit.value].label}）`, get: (r) => r.w },
          ], ids.map((id, i) => ({ i, id, w: weights[i] }))));
        update();
      } catch (e) {
        if (mine !== row.round) return;
        mount(codesEl, notice('error', h('strong', e.message || String(e))));
      }
    };
    row.show = () => {
      const keep = mode.value === 'keep';
      input.readOnly = keep;
      if (keep) input.value = fromGrams(keptGrams, unit.value).replace(/,/g, '');
      countField.hidden = mode.value !== 'relabel';
      row.propose();
    };
    mode.addEventListener('change', () => {
      row.show();
      update();
    });
    input.addEventListener('input', () => {
      row.split();
      row.propose();
      update();
    });
    count.addEventListener('input', () => {
      row.propose();
      update();
    });
    const hints = [`实收 ${formatQuantity(received)}，入库数量不得超过实收数量；填 0 表示该行不入库。`];
    if (boxes && !weighedOne) hints.push('签收时没有逐个称重，原容器不能保留，须重新包装贴标。');
    row.el = h('fieldset.line', { 'data-testid': `store-line-${li + 1}` },
      h('legend', lineTitle(line, opts.catalogue)),
      field('入库数量', input, hints.join('')),
      field(boxes ? '容器' : '包装', mode, boxes ? `联单列明 ${boxes.length} 个容器，签收时实到 ${arrived.length} 个。` : null),
      countField, codesEl);
    return row;
  });

  unit.addEventListener('change', () => {
    for (const r of rows) {
      const other = unit.value === 't' ? 'kg' : 't';
      if (r.mode.value !== 'keep') {
        try {
          r.input.value = fromGrams(toGrams(r.input.value, other, { allowZero: true }), unit.value).replace(/,/g, '');
        } catch { /* leave what was typed */ }
      }
      if (r.relabel) r.relabel.n = 0;
      r.show();
    }
    update();
  });
  facility.addEventListener('change', update);

  /**
   * The event body, or null. With `mark`, the first wrong field is marked and focused; without,
   * nothing is marked (the preview is drawn on every change).
   */
  function build(mark) {
    const fail = (control, text) => {
      if (mark) fieldError(control, text);
      return null;
    };
    const lines = [];
    for (const r of rows) {
      const g = r.mode.value === 'keep' ? r.keptGrams : (() => {
        try {
          return toGrams(r.input.value, unit.value, { allowZero: true });
        } catch (e) {
          if (e instanceof QuantityError) return fail(r.input, e.message);
          throw e;
        }
      })();
      if (g === null) return null;
      if (g > r.received) return fail(r.input, `不能超过实收数量 ${formatQuantity(r.received)}`);
      const l = { code: r.line.code, quantity_g: g };
      if (g > 0 && r.mode.value === 'relabel') {
        if (!r.relabel) return fail(r.count, '容器识别码尚未生成，请稍候再提交');
        const containers = [];
        for (let i = 0; i < r.relabel.ids.length; i++) {
          let w;
          try {
            w = toGrams(r.relabel.weights[i].value, unit.value);
          } catch (e) {
            if (e instanceof QuantityError) return fail(r.count, `第 ${i + 1} 个新容器的重量：${e.message}`);
            throw e;
          }
          containers.push({ id: r.relabel.ids[i], quantity_g: w });
        }
        const sum = containers.reduce((a, c) => a + c.quantity_g, 0);
        if (sum !== g) {
          return fail(r.count, `各新容器重量合计 ${formatQuantity(sum, unit.value)}，与入库数量 ${formatQuantity(g, unit.value)} 不一致`);
        }
        l.containers = containers;
      } else if (g > 0 && r.mode.value === 'keep' && !r.weighedOne) {
        return fail(r.mode, '签收时没有逐个称重，原容器不能保留，请选择重新包装贴标');
      }
      lines.push(l);
    }
    const body = { manifest: manifestId(manifest), lines };
    if (facility.value) body.facility = facility.value;
    return body;
  }

  function update() {
    const body = build(false);
    if (!body) {
      mount(preview);
      return;
    }
    const where = facility.value ? stores.find((f) => f.facility === facility.value) : null;
    const rowOf = (code) => rows.find((r) => r.line.code === code);
    mount(preview,
      h('h4', '将签名的内容'),
      h('ul', body.lines.map((l) => {
        const r = rowOf(l.code);
        let pack = '';
        if (l.quantity_g === 0) pack = '不入库';
        else if (l.containers) pack = `装入 ${l.containers.length} 个新容器`;
        else if (r.boxes) pack = `保留 ${r.arrived.length} 个原容器`;
        else pack = '不按容器';
        return h('li', h('span.mono', l.code), `：入库 ${formatQuantity(l.quantity_g)}（${pack}）`,
          l.quantity_g > 0 ? `，形成本单位库存批次，日期 ${lotDate}` : '');
      })),
      h('p', where ? `存入贮存设施 ${where.name}（${where.facility}）。` : '不指定贮存设施。',
        ' 签名后联单状态变为“已贮存”，不能再利用/处置；贮存的废物可在“我的库存”查看，并开具后续转移联单。'),
      h('details', h('summary', '签名的原始内容（JSON）'), h('pre.entry-json', JSON.stringify(body, null, 2))));
  }

  storageFacilities(ctx).then((list) => {
    stores = list;
    mount(facility, h('option', { value: '' }, list.length ? '不指定贮存设施' : '本单位没有登记在用的贮存设施'),
      list.map((f) => h('option', { value: f.facility },
        `${f.name}（${f.facility}，${label(STORAGE_TYPES, f.storage_type)}，尚可贮存 ${formatQuantity(Math.max(0, f.capacity_g - (f.stock_g ?? 0)))}）`)));
    facility.disabled = !list.length;
    update();
  });

  mount(holder, rows.map((r) => r.el));
  for (const r of rows) r.show();

  const form = actionForm('store', '入库贮存',
    `把签收的废物存入本单位库存（收集、贮存），不再在本联单下利用/处置。每行入库数量不超过实收数量；入库批次的日期为签收日期 ${lotDate}，贮存期限自该日起算。`,
    field('数量单位', unit), holder,
    field('贮存设施（可选）', facility, '本单位登记的、在用的贮存设施。'),
    preview,
    h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const body = build(true);
    if (!body) {
      mount(out);
      return;
    }
    const entry = await act(button, out, () => ctx.api.submit('manifest.stored', body), (e) => doneMessage('已入库贮存', e));
    if (entry && onDone) {
      onDone({ ...entry, relabelled: body.lines.filter((l) => l.containers).map((l) => l.code) });
    }
  });
  update();
  return form;
}

/**
 * The steps the signed-in org may take on `manifest` now, by its part in the manifest (not only
 * its roles: an org may be generator and receiver) and the status: [{key, title, form}] where
 * form() builds the element.
 */
export function availableActions(ctx, manifest, onDone, opts = {}) {
  const me = ctx.session.org;
  const out = [];
  const s = manifest.status;
  if (manifest.generator === me && s === 'opened') {
    out.push({ key: 'cancel', title: '作废联单', form: () => cancelForm(ctx, manifest, onDone, opts) });
  }
  if (manifest.carrier === me && s === 'opened') {
    out.push({ key: 'pickup', title: '起运', form: () => pickupForm(ctx, manifest, onDone, opts) });
  }
  if (manifest.receiver === me && s === 'picked_up') {
    out.push({ key: 'receive', title: '签收', form: () => receiveForm(ctx, manifest, onDone, opts) });
    out.push({ key: 'reject', title: '拒收', form: () => rejectForm(ctx, manifest, onDone, opts) });
  }
  if (manifest.receiver === me && s === 'received') {
    out.push({ key: 'dispose', title: '利用/处置', form: () => disposeForm(ctx, manifest, onDone, opts) });
    out.push({ key: 'store', title: '入库贮存', form: () => storeForm(ctx, manifest, onDone, opts) });
  }
  return out;
}

/** What the status means for the next step, for a line under the status badge. */
export function nextStep(manifest) {
  const s = manifest.status;
  if (s === 'opened') return '等待运输单位起运（产废单位可作废）';
  if (s === 'picked_up') return '运输中，等待接收单位签收或拒收';
  if (s === 'received') return '已接收，等待利用/处置或入库贮存';
  if (s === 'stored') return '接收单位已入库贮存，可从其库存开具后续转移联单';
  return label(MANIFEST_STATUS, s);
}
