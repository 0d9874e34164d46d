// 问题详情: one ticket, every step of its history with the entry that records it, and the
// closeout workflow (交办 → 整改 → 销号, 退回, 重新打开) as forms that appear only where
// protocol §6 allows the move and the signed-in org may sign it. Evidence files are hashed in
// the page; only their SHA-256 and names are signed and sent.

import { h, mount, field, fieldError, link, dl } from '../../core/dom.js';
import { orgNames } from '../../core/api.js';
import { act, errorNotice, heading, proofHref, orgIdError, setFlash, takeFlash } from '../../core/ui.js';
import { sha256Hex } from '../../core/crypto.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime, todayCst, addDays } from '../../core/time.js';
import { TICKET_KINDS, EVENT_TYPES, IMPROPER_KINDS, COMPLIANCE_KINDS, label } from '../../core/i18n.js';
import { statusBadge, subjectParts, orgLabel } from './tickets.js';

const MAX_EVIDENCE = 50;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Departments typed one per line or separated by 、，, ; as a list without repeats. */
function departments(text) {
  return [...new Set(text.split(/[\n、，,;；]+/).map((s) => s.trim()).filter(Boolean))];
}

function formatBytes(n) {
  if (n < 1024) return `${n} 字节`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The step's own words, read from its entry's body. */
function stepDetails(type, body, names) {
  if (!body) return null;
  switch (type) {
    case 'ticket.opened':
      return dl([['摘要', body.summary]]);
    case 'ticket.assigned':
      return dl([
        ['牵头部门', body.lead],
        ['配合部门', body.support && body.support.length ? body.support.join('、') : '—'],
        ['责任单位', body.responsible ? orgLabel(names, body.responsible) : '—'],
        ['整改期限', body.due],
      ]);
    case 'ticket.rectified':
      return [
        dl([['整改情况', body.note]]),
        h('div.evidence-title', `证明材料（${body.evidence.length} 份，仅登记文件的 SHA-256 摘要）`),
        h('ul.evidence', body.evidence.map((e) => h('li', h('span.evidence-name', e.name), h('div.mono.small', e.sha256)))),
      ];
    case 'ticket.returned':
    case 'ticket.reopened':
      return dl([['理由', body.reason]]);
    case 'ticket.closed':
      return dl([['销号意见', body.note]]);
    default:
      return null;
  }
}

function timeline(t, entries, names) {
  return h('ol.timeline.ticket-history', t.history.map((step, i) => {
    const entry = entries[i];
    const actor = entry && entry.event.actor;
    return h('li',
      h('div.step-head',
        h('strong', label(EVENT_TYPES, step.type)),
        ' ',
        h('span.muted', formatTime(step.at))),
      actor ? h('div.muted', '签名单位：', actor === 'ledger' ? '账本（自动发现）' : orgLabel(names, actor)) : null,
      stepDetails(step.type, entry && entry.event.body, names),
      h('div.entry-ref',
        `账本第 ${step.seq} 条，记入于 ${formatTime(step.recorded_at)}`,
        h('div.mono.small', '条目哈希 ', step.hash),
        h('a', { href: proofHref(step.seq), target: '_blank', rel: 'noopener' }, `查看第 ${step.seq} 条的包含证明（公开）`)));
  }));
}

/** One signed step as a form; `build()` returns the body or null after marking its errors. */
function stepForm({ title, intro, controls, submitLabel, danger, build, ctx, type, done }) {
  const button = h(danger ? 'button.danger' : 'button.primary', { type: 'submit' }, submitLabel);
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form.step-form', { novalidate: true }, controls, h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = await build();
    if (!body) return;
    const entry = await act(button, out, () => ctx.api.submit(type, body), (e) => `已记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`${label(EVENT_TYPES, type)}已签名并记入账本第 ${entry.seq} 条。`);
      done();
    }
  });
  return h('section.card.step', h('h3', title), intro ? h('p.muted', intro) : null, form);
}

function assignForm(ctx, t, done) {
  const lead = h('input', { type: 'text', maxlength: 2000, value: t.lead || '' });
  const support = h('textarea', { rows: 2 }, (t.support || []).join('\n'));
  const suggested = t.responsible || (t.subject && t.subject.org) || '';
  const responsible = h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false', value: suggested });
  const due = h('input', { type: 'date', value: t.due || addDays(todayCst(), 30) });
  return stepForm({
    ctx, done, type: 'ticket.assigned', title: '交办', submitLabel: '签名并交办',
    intro: '指定牵头部门、配合部门、责任单位和整改期限。责任单位可自行提交整改情况。',
    controls: [
      field('牵头部门', lead, '例如：钟楼生态环境局'),
      field('配合部门', support, '可不填；多个部门每行一个，或用顿号分隔'),
      field('责任单位（统一社会信用代码）', responsible, '可不填；填写后该单位可自行提交整改情况'),
      field('整改期限', due, '到期次日起仍未销号的，标记为逾期'),
    ],
    build: () => {
      for (const c of [lead, support, responsible, due]) fieldError(c, '');
      const body = { ticket: t.ticket, lead: lead.value.trim(), due: due.value };
      const sup = departments(support.value);
      if (sup.some((s) => s.length > 2000)) return fieldError(support, '每个部门名称最多 2000 字'), null;
      if (sup.length) body.support = sup;
      const r = responsible.value.trim().toUpperCase();
      const errs = [];
      if (!body.lead) errs.push([lead, '请填写牵头部门']);
      if (r) {
        const e = orgIdError(r);
        if (e) errs.push([responsible, e]);
        else body.responsible = r;
      }
      if (!DATE_RE.test(body.due)) errs.push([due, '请选择整改期限']);
      for (const [c, m] of errs.reverse()) fieldError(c, m);
      return errs.length ? null : body;
    },
  });
}

function rectifyForm(ctx, t, done) {
  const note = h('textarea', { rows: 3, maxlength: 2000 });
  const files = h('input', { type: 'file', multiple: true });
  const list = h('div.evidence-list', { 'aria-live': 'polite' });
  let hashed = Promise.resolve([]);
  files.addEventListener('change', () => {
    fieldError(files, '');
    const picked = [...files.files];
    mount(list, picked.length ? h('p.muted', `正在本机计算 ${picked.length} 个文件的 SHA-256……`) : null);
    hashed = Promise.all(picked.map(async (f) => ({ name: f.name, size: f.size, sha256: await sha256Hex(await f.arrayBuffer()) })));
    hashed.then((items) => {
      if (!items.length) return;
      mount(list, h('ul.evidence', items.map((e) => h('li',
        h('span.evidence-name', e.name), ' ', h('span.muted', formatBytes(e.size)),
        h('div.mono.small', e.sha256)))),
      h('p.muted', '文件本身不会上传，只签名登记上述摘要和文件名。请妥善保存原件，核查时可据摘要比对。'));
    }).catch((e) => mount(list, errorNotice(e)));
  });
  return stepForm({
    ctx, done, type: 'ticket.rectified', title: '提交整改情况',
    submitLabel: '签名并提交整改',
    intro: t.responsible === ctx.session.org && !ctx.session.has('regulator')
      ? '本单位是该问题的责任单位：请说明整改情况并附证明材料。'
      : '说明整改情况并附证明材料（现场照片、处置合同、检测报告等）。',
    controls: [
      field('整改情况', note),
      field('证明材料', files, `1 至 ${MAX_EVIDENCE} 个文件。文件只在本机计算摘要，不会上传。`),
      list,
    ],
    build: async () => {
      fieldError(note, '');
      fieldError(files, '');
      const items = await hashed;
      const errs = [];
      if (!note.value.trim()) errs.push([note, '请填写整改情况']);
      if (!items.length) errs.push([files, '请选择至少一个证明材料文件']);
      else if (items.length > MAX_EVIDENCE) errs.push([files, `证明材料最多 ${MAX_EVIDENCE} 个文件`]);
      else if (items.some((e) => !e.name || e.name.length > 2000)) errs.push([files, '文件名不能为空，且最多 2000 字']);
      for (const [c, m] of errs.reverse()) fieldError(c, m);
      if (errs.length) return null;
      return { ticket: t.ticket, note: note.value.trim(), evidence: items.map((e) => ({ sha256: e.sha256, name: e.name })) };
    },
  });
}

/** A step whose body is the ticket and one text (reason or note). */
function textForm(ctx, t, done, { type, title, intro, fieldLabel, member, submitLabel, danger, missing }) {
  const text = h('textarea', { rows: 3, maxlength: 2000 });
  return stepForm({
    ctx, done, type, title, intro, submitLabel, danger,
    controls: [field(fieldLabel, text)],
    build: () => {
      fieldError(text, '');
      if (!text.value.trim()) return fieldError(text, missing), null;
      return { ticket: t.ticket, [member]: text.value.trim() };
    },
  });
}

/** The forms for the moves §6 allows from this status that this org may sign. */
function nextSteps(ctx, t, done) {
  const regulator = ctx.session.has('regulator');
  const responsible = t.responsible && t.responsible === ctx.session.org;
  const forms = [];
  if (t.status === 'open' && regulator) forms.push(assignForm(ctx, t, done));
  if (t.status === 'assigned' && (regulator || responsible)) forms.push(rectifyForm(ctx, t, done));
  if (t.status === 'rectified' && regulator) {
    forms.push(textForm(ctx, t, done, {
      type: 'ticket.closed', title: '销号', member: 'note', fieldLabel: '销号意见', submitLabel: '签名并销号',
      intro: '核查整改情况和证明材料后销号。销号后如发现问题仍存在，可重新打开。', missing: '请填写销号意见',
    }));
    forms.push(textForm(ctx, t, done, {
      type: 'ticket.returned', title: '退回整改', member: 'reason', fieldLabel: '退回理由', submitLabel: '签名并退回', danger: true,
      intro: '整改不到位的，退回责任单位继续整改（回到“已交办”）。', missing: '请填写退回理由',
    }));
  }
  if (t.status === 'closed' && regulator) {
    forms.push(textForm(ctx, t, done, {
      type: 'ticket.reopened', title: '重新打开', member: 'reason', fieldLabel: '重新打开的理由', submitLabel: '签名并重新打开', danger: true,
      intro: '问题复发或销号有误时重新打开（回到“已立案”，需重新交办）。', missing: '请填写重新打开的理由',
    }));
  }
  if (forms.length) return forms;
  const waiting = {
    open: '等待生态环境局交办。',
    assigned: '等待责任单位或生态环境局提交整改情况。',
    rectified: '等待生态环境局核查：销号或退回整改。',
    closed: '已销号。',
  }[t.status];
  return [h('p', waiting || '')];
}

export async function render(ctx) {
  const id = ctx.params.id;
  const shown = takeFlash();
  let t;
  try {
    t = await ctx.api.get(`/v1/tickets/${encodeURIComponent(id)}`);
  } catch (e) {
    mount(ctx.main, heading('问题详情'), errorNotice(e), h('p', link('/tickets', '返回问题清单')));
    return;
  }
  // The bodies of the steps (notes, departments, evidence) are in the entries: parties of a
  // ticket may read them, and they are fetched together.
  const [entries, manifest] = await Promise.all([
    Promise.all(t.history.map((s) => ctx.api.get(`/v1/entries/${s.seq}`).catch(() => null))),
    t.subject && t.subject.manifest ? ctx.api.get(`/v1/manifests/${t.subject.manifest}`).catch(() => null) : null,
  ]);
  const names = await orgNames(ctx.api, [
    t.subject && t.subject.org, t.responsible, manifest && manifest.generator,
    ...entries.map((e) => e && e.event.actor).filter((a) => a !== 'ledger'),
    ...entries.map((e) => e && e.event.body && e.event.body.responsible),
  ]);
  const done = () => ctx.refresh();
  const sub = t.subject || {};

  mount(ctx.main,
    h('p.no-print', link('/tickets', '← 问题清单')),
    heading(`问题详情：${label(TICKET_KINDS, t.kind)}`),
    shown,
    h('div.ticket-status', statusBadge(t), IMPROPER_KINDS.includes(t.kind) ? [' ', h('span.muted', '账本自动发现')] : null,
      COMPLIANCE_KINDS.includes(t.kind) ? [' ', h('span.muted', '账本自动发现的合规事项（未履行管理义务，不计入规范化处理率）')] : null),
    h('section.card',
      dl([
        ['编号', h('span.mono', t.ticket)],
        ['类型', label(TICKET_KINDS, t.kind)],
        ['摘要', t.summary],
        ['对象', subjectParts(sub, names, manifest ? new Map([[manifest.manifest, manifest.number]]) : null)],
        manifest ? ['产废单位', orgLabel(names, manifest.generator)] : null,
        ['涉及数量', formatQuantity(t.quantity_g)],
        ['牵头部门', t.lead || '—'],
        ['配合部门', t.support && t.support.length ? t.support.join('、') : '—'],
        ['责任单位', t.responsible ? orgLabel(names, t.responsible) : '—'],
        ['整改期限', t.due ? [t.due, t.overdue ? [' ', h('strong.text-bad', '已逾期')] : null] : '—'],
        ['立案时间', formatTime(t.opened_at)],
        ['销号时间', t.closed_at ? formatTime(t.closed_at) : '—'],
      ])),
    h('h2', '下一步'),
    nextSteps(ctx, t, done),
    h('h2', '处理经过'),
    h('p.muted', '每一步都是账本中的一条签名记录。“包含证明”是公开的 JSON，可与核验页中的检查点一起离线核对。'),
    timeline(t, entries, names));
}
