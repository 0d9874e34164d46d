// 问题清单: the tickets the signed-in org may read (regulators: all), filtered and paged as the
// service pages them, the same selection as a spreadsheet, and for regulators the form that
// opens a ticket by hand (立案), above all for dumping found on the ground.

import { h, mount, table, field, fieldError, select, link, badge, download, stackOnPhone } from '../../core/dom.js';
import { orgNames } from '../../core/api.js';
import { act, errorNotice, heading, orgIdError, setFlash } from '../../core/ui.js';
import { formatQuantity, toGrams, QuantityError, UNITS } from '../../core/units.js';
import { formatTime, todayCst, periodText } from '../../core/time.js';
import { TICKET_KINDS, TICKET_STATUS, IMPROPER_KINDS, COMPLIANCE_KINDS, label } from '../../core/i18n.js';

const PAGE_SIZE = 50;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CODE_RE = /^\d{3}-\d{3}-\d{2}$/;

/** Kinds a regulator opens by hand; the automatic kinds are the ledger's alone (§7). */
export const MANUAL_KINDS = ['reported_dumping', 'illegal_dumping', 'illegal_storage', 'other'];

const STATUS_TONE = { open: 'warn', assigned: 'neutral', rectified: 'ok', closed: 'ok' };

export function statusBadge(t) {
  return [
    badge(label(TICKET_STATUS, t.status), STATUS_TONE[t.status] || 'neutral'),
    t.overdue ? [' ', badge('已逾期', 'bad')] : null,
  ];
}

/** "名称（代码）" when the name is known, else the code. */
export function orgLabel(names, org) {
  if (!org) return '—';
  const name = names && names.get(org);
  return name ? `${name}（${org}）` : org;
}

/** Micro-degrees as decimal degrees text, exactly. */
export function fromMicro(n) {
  const neg = n < 0;
  const s = String(Math.abs(n)).padStart(7, '0');
  return `${neg ? '-' : ''}${s.slice(0, -6)}.${s.slice(-6)}`.replace(/\.?0+$/, '');
}

/** What a ticket concerns, as a few lines of text and links; `numbers` maps manifest ids to numbers. */
export function subjectParts(subject, names, numbers) {
  const s = subject || {};
  const parts = [];
  if (s.manifest) {
    const number = numbers && numbers.get(s.manifest);
    parts.push(h('div.nowrap', '联单 ', link(`/manifests/${s.manifest}`, number || h('span.mono', s.manifest.slice(0, 8) + '…'))));
  }
  if (s.org) parts.push(h('div', orgLabel(names, s.org)));
  if (s.year !== null && s.year !== undefined) parts.push(h('div', `年度 ${s.year}`));
  if (s.period) parts.push(h('div', `申报期间 ${periodText(s.period)}`));
  if (s.code) parts.push(h('div', '废物代码 ', h('span.mono', s.code)));
  if (s.facility) parts.push(h('div', '设施 ', s.org ? link(`/facilities/${s.org}/${s.facility}`, s.facility) : s.facility));
  if (s.lot !== null && s.lot !== undefined) parts.push(h('div', `批次 #${s.lot}`));
  if (s.site) {
    parts.push(h('div', '地点 ', s.site.address,
      s.site.lat !== null && s.site.lat !== undefined && s.site.lon !== null && s.site.lon !== undefined
        ? `（纬度 ${fromMicro(s.site.lat)}，经度 ${fromMicro(s.site.lon)}）` : ''));
  }
  return parts.length ? parts : '—';
}

/** A ticket's kind, and whether the ledger found it: a waste-loss kind, or a duty missed. */
export function kindCell(t) {
  if (IMPROPER_KINDS.includes(t.kind)) return [label(TICKET_KINDS, t.kind), h('div.muted.small', '自动发现')];
  if (COMPLIANCE_KINDS.includes(t.kind)) return [badge(label(TICKET_KINDS, t.kind), 'warn'), h('div.muted.small', '合规事项 · 自动发现')];
  return label(TICKET_KINDS, t.kind);
}

/** Numbers of the manifests `ids`, looked up together; an unreadable one is left out. */
async function manifestNumbers(api, ids) {
  const wanted = [...new Set(ids.filter(Boolean))];
  const found = await Promise.all(wanted.map((id) => api.get(`/v1/manifests/${id}`).then((m) => [id, m.number], () => null)));
  return new Map(found.filter(Boolean));
}

// Cursors of the pages before the current one, per selection, so that 上一页 goes back.
const previous = new Map();

function selectionKey(q) {
  return JSON.stringify([q.status || '', q.kind || '', q.org || '']);
}

function route(q) {
  const p = new URLSearchParams();
  for (const k of ['status', 'kind', 'org', 'after']) if (q[k]) p.set(k, q[k]);
  const s = p.toString();
  return '/tickets' + (s ? '?' + s : '');
}

function filterForm(ctx, q) {
  const status = select([['', '全部'], ...Object.entries(TICKET_STATUS)], { value: q.status || '', name: 'status' });
  // Grouped as protocol §7 groups them: waste handled improperly, duties missed, opened by hand.
  const group = (title, kinds) => h('optgroup', { label: title },
    kinds.map((k) => h('option', { value: k, selected: q.kind === k }, TICKET_KINDS[k])));
  const kind = h('select', { name: 'kind' },
    h('option', { value: '', selected: !q.kind }, '全部'),
    group('不规范处理（自动发现）', IMPROPER_KINDS),
    group('合规事项（自动发现）', COMPLIANCE_KINDS),
    group('手工立案', MANUAL_KINDS));
  const org = h('input', { type: 'text', value: q.org || '', maxlength: 18, autocomplete: 'off', spellcheck: 'false', name: 'org' });
  const form = h('form.filters', { novalidate: true, 'aria-label': '筛选' },
    field('状态', status),
    field('类型', kind),
    ctx.session.has('regulator') ? field('单位（统一社会信用代码）', org) : null,
    h('div.actions',
      h('button.primary', { type: 'submit' }, '筛选'),
      h('button', { type: 'button', on: { click: () => ctx.navigate('/tickets') } }, '清除')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(org, '');
    const o = org.value.trim().toUpperCase();
    if (o) {
      const err = orgIdError(o);
      if (err) return fieldError(org, err);
    }
    ctx.navigate(route({ status: status.value, kind: kind.value, org: o }));
  });
  return form;
}

/** Decimal degrees text to integer micro-degrees, exactly; throws a message when invalid. */
function toMicro(text, max, what) {
  const m = /^(-?)(\d{1,3})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m) throw new Error(`${what}应为十进制度数，最多 6 位小数，例如 ${max === 90 ? '31.778912' : '119.946973'}`);
  const n = Number(m[2]) * 1e6 + Number((m[3] || '').padEnd(6, '0'));
  if (n > max * 1e6) throw new Error(`${what}应在 -${max} 至 ${max} 之间`);
  return m[1] ? -n : n;
}

function openForm(ctx) {
  const kind = select(MANUAL_KINDS.map((k) => [k, TICKET_KINDS[k]]), { value: 'reported_dumping' });
  const summary = h('textarea', { maxlength: 2000, rows: 3 });
  const org = h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false' });
  const manifest = h('input', { type: 'text', maxlength: 36, autocomplete: 'off', spellcheck: 'false' });
  const code = h('input', { type: 'text', maxlength: 10, autocomplete: 'off', placeholder: '如 900-249-08' });
  const address = h('input', { type: 'text', maxlength: 2000 });
  const lat = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '如 31.778912' });
  const lon = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '如 119.946973' });
  const qty = h('input', { type: 'text', inputmode: 'decimal', autocomplete: 'off' });
  const unit = select(Object.entries(UNITS).map(([u, d]) => [u, d.label]), { value: 't' });
  const button = h('button.primary', { type: 'submit' }, '签名并立案');
  const out = h('div.out', { 'aria-live': 'polite' });
  const controls = [kind, summary, org, manifest, code, address, lat, lon, qty];

  const form = h('form.ticket-open', { novalidate: true },
    field('问题类型', kind),
    field('问题摘要', summary, '写明发现了什么、在哪里、何时发现、线索来源。'),
    h('fieldset.group',
      h('legend', '问题对象（至少填写一项）'),
      field('涉及单位（统一社会信用代码）', org),
      field('涉及联单（联单编号或联单 UUID）', manifest),
      field('废物代码', code, '可不填'),
      field('地点地址', address, '偷倒、填埋等现场的地址，历史遗留场地也可登记'),
      h('div.row',
        field('纬度（WGS-84）', lat, '十进制度数，可不填'),
        field('经度（WGS-84）', lon, '十进制度数，可不填；如取自国内地图，请先由 GCJ-02 转换'))),
    h('div.row',
      field('涉及数量', qty, '可不填'),
      field('单位', unit)),
    h('div.actions', button), out);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const c of controls) fieldError(c, '');
    const body = { ticket: crypto.randomUUID(), kind: kind.value, subject: {}, summary: summary.value.trim() };
    // Checked bottom-up so that the focus ends on the first field in error.
    const errors = [];
    const bad = (c, msg) => errors.push([c, msg]);
    if (!body.summary) bad(summary, '请填写问题摘要');
    const o = org.value.trim().toUpperCase();
    if (o) {
      const e = orgIdError(o);
      if (e) bad(org, e);
      else body.subject.org = o;
    }
    const c = code.value.trim();
    if (c) {
      if (!CODE_RE.test(c)) bad(code, '废物代码的格式为 NNN-NNN-NN，例如 900-249-08');
      else body.subject.code = c;
    }
    const addr = address.value.trim();
    if (addr || lat.value.trim() || lon.value.trim()) {
      if (!addr) bad(address, '填写坐标时，请同时填写地点地址');
      const site = { address: addr };
      if (lat.value.trim() || lon.value.trim()) {
        try {
          site.lat = toMicro(lat.value, 90, '纬度');
        } catch (e) {
          bad(lat, lat.value.trim() ? e.message : '请同时填写纬度和经度');
        }
        try {
          site.lon = toMicro(lon.value, 180, '经度');
        } catch (e) {
          bad(lon, lon.value.trim() ? e.message : '请同时填写纬度和经度');
        }
      }
      body.subject.site = site;
    }
    if (qty.value.trim()) {
      try {
        body.quantity_g = toGrams(qty.value, unit.value);
      } catch (e) {
        bad(qty, e instanceof QuantityError ? e.message : String(e.message || e));
      }
    }
    const mf = manifest.value.trim().toLowerCase();
    if (!o && !mf && !addr) bad(org, '请至少填写涉及单位、涉及联单或地点地址中的一项');
    if (errors.length) {
      for (const [ctl, msg] of errors.reverse()) fieldError(ctl, msg);
      return;
    }
    if (mf) {
      // A number (14 digits) is resolved to the manifest's UUID, which is what the subject names.
      if (UUID_RE.test(mf)) body.subject.manifest = mf;
      else if (/^\d{14}$/.test(mf)) {
        try {
          body.subject.manifest = (await ctx.api.get(`/v1/manifests/${mf}`)).manifest;
        } catch {
          return fieldError(manifest, '没有找到这个联单编号，请核对');
        }
      } else return fieldError(manifest, '请填写 14 位联单编号或联单 UUID');
    }
    const entry = await act(button, out, () => ctx.api.submit('ticket.opened', body),
      (e) => `已立案，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`已立案，记入账本第 ${entry.seq} 条。`);
      ctx.navigate(`/tickets/${body.ticket}`);
    }
  });
  return form;
}

export async function render(ctx) {
  const q = ctx.query;
  const regulator = ctx.session.has('regulator');
  const listEl = h('div', { 'aria-live': 'polite' }, h('p.muted', '正在加载……'));
  const csvOut = h('div');
  const csvButton = h('button', { type: 'button' }, '下载 CSV（当前筛选的全部问题）');
  csvButton.addEventListener('click', async () => {
    csvButton.disabled = true;
    mount(csvOut);
    try {
      const blob = await ctx.api.blob('/v1/tickets.csv', { status: q.status, kind: q.kind, org: q.org });
      download(blob, `问题清单-${todayCst()}.csv`);
    } catch (e) {
      mount(csvOut, errorNotice(e));
    } finally {
      csvButton.disabled = false;
    }
  });

  mount(ctx.main,
    heading('问题清单', regulator
      ? '账本自动发现的问题（数量短缺、无证接收或处置、运输超期、处置超期、贮存超期，以及管理计划、申报等合规事项）和生态环境局手工登记的问题，以及交办、整改、销号的全过程。合规事项另见“合规问题”。'
      : '与本单位有关的问题：本单位为对象或责任单位的问题，以及本单位参与的联单上的问题。'),
    filterForm(ctx, q),
    // Not a fragment link: the hash is the console's route.
    h('div.actions', csvButton, regulator ? h('button', {
      type: 'button',
      on: {
        click: () => {
          const target = document.getElementById('open-ticket');
          target.scrollIntoView();
          target.focus({ preventScroll: true });
        },
      },
    }, '手工立案') : null),
    csvOut,
    listEl,
    regulator ? [
      h('h2#open-ticket', { tabindex: '-1' }, '手工立案'),
      h('p.muted', '登记群众举报、现场检查发现的偷倒偷排、非法倾倒、非法贮存等问题。自动发现的问题由账本自行立案，不能在此登记。'),
      openForm(ctx),
    ] : null);

  const key = selectionKey(q);
  if (!q.after) previous.set(key, []);
  try {
    const page = await ctx.api.get('/v1/tickets', { status: q.status, kind: q.kind, org: q.org, after: q.after, limit: PAGE_SIZE });
    const [names, numbers] = await Promise.all([
      orgNames(ctx.api, page.tickets.flatMap((t) => [t.subject && t.subject.org, t.responsible])),
      manifestNumbers(ctx.api, page.tickets.map((t) => t.subject && t.subject.manifest)),
    ]);
    const stack = previous.get(key) || [];
    const nav = h('div.actions.pager',
      q.after ? h('button', {
        type: 'button', on: {
          click: () => {
            const s = previous.get(key) || [];
            const before = s.pop();
            ctx.navigate(route({ ...q, after: before || '' }));
          },
        },
      }, '上一页') : null,
      q.after ? h('button', { type: 'button', on: { click: () => ctx.navigate(route({ ...q, after: '' })) } }, '第一页') : null,
      page.next ? h('button', {
        type: 'button', on: {
          click: () => {
            stack.push(q.after || '');
            previous.set(key, stack);
            ctx.navigate(route({ ...q, after: page.next }));
          },
        },
      }, '下一页') : null);
    mount(listEl,
      stackOnPhone(table([
        { title: '编号', class: 'nowrap', get: (t) => h('a.mono', { href: `#/tickets/${t.ticket}`, title: t.ticket, 'aria-label': `问题 ${t.ticket}` }, t.ticket.slice(0, 8)) },
        { title: '类型', class: 'nowrap', get: kindCell },
        { title: '状态', class: 'nowrap', get: statusBadge },
        { title: '摘要', class: 'ticket-summary', get: (t) => t.summary },
        { title: '对象', get: (t) => subjectParts(t.subject, names, numbers) },
        { title: '数量', class: 'num', get: (t) => formatQuantity(t.quantity_g) },
        { title: '责任单位', get: (t) => (t.responsible ? orgLabel(names, t.responsible) : '—') },
        { title: '期限', class: 'nowrap', get: (t) => t.due || '—' },
        { title: '立案时间', get: (t) => formatTime(t.opened_at) },
      ], page.tickets, { empty: '没有符合条件的问题', caption: q.after ? '问题清单（续页）' : '问题清单' })),
      nav);
  } catch (e) {
    mount(listEl, errorNotice(e));
  }
}
