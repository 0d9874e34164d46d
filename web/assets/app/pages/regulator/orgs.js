// 单位登记: the registry of organisations and their keys. A regulator registers an org with the
// public key it generated itself (`hwledger keygen`: the private key never leaves the org),
// adds keys and revokes them. Every change is one signed event (org.registered,
// org.key_added, org.key_revoked).

import { h, mount, table, field, fieldError, notice, select, link, badge, dl, stackOnPhone } from '../../core/dom.js';
import { listOrgs, rememberOrgNames } from '../../core/api.js';
import { act, errorNotice, heading, orgIdError, proofHref, setFlash, takeFlash } from '../../core/ui.js';
import { ROLES, MANAGEMENT_CLASSES, classText } from '../../core/i18n.js';

const REGION_RE = /^\d{6}$/;
const KEY_RE = /^[0-9a-f]{64}$/;

function rolesText(roles) {
  return (roles || []).map((r) => ROLES[r] || r).join('、');
}

function activeKeys(o) {
  return (o.keys || []).filter((k) => typeof k === 'string' || k.revoked_seq === null || k.revoked_seq === undefined);
}

function route(q) {
  const p = new URLSearchParams();
  for (const k of ['role', 'region', 'org']) if (q[k]) p.set(k, q[k]);
  const s = p.toString();
  return '/orgs' + (s ? '?' + s : '');
}

/** Public keys as pasted: one per line (or separated by spaces or commas), any case. */
function parseKeys(text) {
  return [...new Set(text.split(/[\s,，;；]+/).map((s) => s.trim().toLowerCase()).filter(Boolean))];
}

function lookupForm(ctx) {
  const org = h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false' });
  const form = h('form.filters', { novalidate: true, 'aria-label': '按代码查找单位' },
    field('按统一社会信用代码查找', org),
    h('div.actions', h('button', { type: 'submit' }, '查找')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const o = org.value.trim().toUpperCase();
    const err = orgIdError(o);
    if (err) return fieldError(org, err);
    ctx.navigate(route({ org: o }));
  });
  return form;
}

function filterForm(ctx, q) {
  const role = select([['', '全部'], ...Object.entries(ROLES)], { value: q.role || '' });
  const region = h('input', { type: 'text', inputmode: 'numeric', maxlength: 6, value: q.region || '', autocomplete: 'off' });
  const form = h('form.filters', { novalidate: true, 'aria-label': '筛选' },
    field('角色', role),
    field('地区代码', region, '行政区划代码或其前几位'),
    h('div.actions',
      h('button.primary', { type: 'submit' }, '筛选'),
      h('button', { type: 'button', on: { click: () => ctx.navigate('/orgs') } }, '清除')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(region, '');
    const r = region.value.trim();
    if (r && !/^\d{1,6}$/.test(r)) return fieldError(region, '地区代码应为 1 至 6 位数字');
    ctx.navigate(route({ role: role.value, region: r }));
  });
  return form;
}

function registerForm(ctx) {
  const org = h('input', { type: 'text', maxlength: 18, autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { type: 'text', maxlength: 2000, autocomplete: 'off' });
  const region = h('input', { type: 'text', inputmode: 'numeric', maxlength: 6, autocomplete: 'off', placeholder: '如 320404' });
  // Enterprises first: a regulator is registered rarely.
  const roleBoxes = ['generator', 'carrier', 'receiver', 'regulator'].map((r) => [r, ROLES[r]]).map(([r, l]) => {
    const box = h('input', { type: 'checkbox', value: r, id: `role-${r}` });
    return { r, box, el: h('div.check', box, h('label', { for: box.id }, `${l}（${r}）`)) };
  });
  const keys = h('textarea', { rows: 2, spellcheck: 'false', autocomplete: 'off', class: 'mono' });
  const button = h('button.primary', { type: 'submit' }, '签名并登记');
  const out = h('div.out', { 'aria-live': 'polite' });
  const rolesGroup = h('fieldset.field.roles',
    h('legend', '角色（可多选）'),
    roleBoxes.map((b) => b.el),
    h('div.field-error', { role: 'alert', 'aria-live': 'polite' }));
  const form = h('form', { novalidate: true },
    field('统一社会信用代码', org, '18 位，含校验位'),
    field('单位名称', name),
    field('所在地区（行政区划代码）', region, '6 位，例如 320404 常州市钟楼区'),
    rolesGroup,
    field('公钥', keys, '由该单位自行运行 hwledger keygen --out 本单位.pem 生成，把打印出的 64 位十六进制公钥粘贴在此；可填多个，每行一个。私钥由单位自己保管，不要交给生态环境局。'),
    h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const c of [org, name, region, keys]) fieldError(c, '');
    rolesGroup.classList.remove('has-error');
    rolesGroup.querySelector('.field-error').textContent = '';
    const body = {
      org: org.value.trim().toUpperCase(),
      name: name.value.trim(),
      region: region.value.trim(),
      roles: roleBoxes.filter((b) => b.box.checked).map((b) => b.r),
      keys: parseKeys(keys.value),
    };
    const errs = [];
    const orgErr = orgIdError(body.org);
    if (orgErr) errs.push([org, orgErr]);
    if (!body.name) errs.push([name, '请填写单位名称']);
    if (!REGION_RE.test(body.region)) errs.push([region, '所在地区应为 6 位数字的行政区划代码']);
    if (!body.keys.length) errs.push([keys, '请粘贴至少一个公钥']);
    else {
      const bad = body.keys.find((k) => !KEY_RE.test(k));
      if (bad) errs.push([keys, `“${bad.slice(0, 70)}” 不是公钥：公钥是 64 位十六进制字符（0-9、a-f）`]);
    }
    for (const [c, m] of errs.slice().reverse()) fieldError(c, m);
    if (!body.roles.length) {
      rolesGroup.classList.add('has-error');
      rolesGroup.querySelector('.field-error').textContent = '请至少选择一个角色';
      if (!errs.length) roleBoxes[0].box.focus();
      return;
    }
    if (errs.length) return;
    const entry = await act(button, out, () => ctx.api.submit('org.registered', body),
      (e) => `已登记，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`已登记 ${body.name}（${body.org}），记入账本第 ${entry.seq} 条。`);
      ctx.navigate(route({ org: body.org }));
    }
  });
  return form;
}

function keyForms(ctx, o) {
  const addKey = h('input', { type: 'text', maxlength: 64, spellcheck: 'false', autocomplete: 'off', class: 'mono' });
  const addButton = h('button.primary', { type: 'submit' }, '签名并添加');
  const addOut = h('div.out', { 'aria-live': 'polite' });
  const addForm = h('form', { novalidate: true },
    field('新公钥', addKey, '64 位十六进制，由该单位用 hwledger keygen 生成'),
    h('div.actions', addButton), addOut);
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(addKey, '');
    const key = addKey.value.trim().toLowerCase();
    if (!KEY_RE.test(key)) return fieldError(addKey, '公钥是 64 位十六进制字符（0-9、a-f）');
    const entry = await act(addButton, addOut, () => ctx.api.submit('org.key_added', { org: o.org, key }),
      (e) => `已添加，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(`已为该单位添加公钥，记入账本第 ${entry.seq} 条。`);
      ctx.refresh();
    }
  });

  const live = activeKeys(o);
  let revokeForm = h('p.muted', '该单位没有有效的密钥。');
  if (live.length) {
    const which = select(live.map((k) => [k.key, k.key === ctx.session.publicHex ? `${k.key}（您正在使用）` : k.key]),
      { class: 'mono' });
    const reason = h('textarea', { rows: 2, maxlength: 2000 });
    const button = h('button.danger', { type: 'submit' }, '签名并吊销');
    const out = h('div.out', { 'aria-live': 'polite' });
    const warn = h('div.warn-slot');
    const showWarn = () => mount(warn,
      live.length === 1 ? notice('info', '这是该单位最后一个有效密钥：吊销后，该单位在添加新密钥之前不能签名，也不能登录。') : null,
      which.value === ctx.session.publicHex ? notice('info', '这是您当前登录使用的密钥：吊销后将不能再用它签名。') : null);
    which.addEventListener('change', showWarn);
    showWarn();
    revokeForm = h('form', { novalidate: true },
      field('要吊销的公钥', which),
      field('吊销理由', reason, '例如：私钥文件遗失、人员离职、设备报废'),
      warn,
      h('div.actions', button), out);
    revokeForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      fieldError(reason, '');
      if (!reason.value.trim()) return fieldError(reason, '请填写吊销理由');
      const entry = await act(button, out,
        () => ctx.api.submit('org.key_revoked', { org: o.org, key: which.value, reason: reason.value.trim() }),
        (e) => `已吊销，记入账本第 ${e.seq} 条。`);
      if (entry) {
        setFlash(`已吊销公钥 ${which.value.slice(0, 16)}…，记入账本第 ${entry.seq} 条。`);
        ctx.refresh();
      }
    });
  }
  return [
    h('section.card', h('h3', '添加密钥'), addForm),
    h('section.card', h('h3', '吊销密钥'), revokeForm),
  ];
}

/**
 * 管理类别 (HJ 1259-2022 4.2): the regulator sets a unit's class, or returns it to the class the
 * ledger derives (facilities, licences, quantities declared in the three years before).
 */
function classForm(ctx, o) {
  const current = o.class && o.class.set ? o.class.class : 'derived';
  const cls = select([...Object.entries(MANAGEMENT_CLASSES).map(([k, l]) => [k, l]),
    ['derived', '按规则推定（取消认定）']], { value: current, 'data-testid': 'class-select' });
  const reason = h('textarea', { rows: 2, maxlength: 2000 });
  const button = h('button.primary', { type: 'submit' }, '签名并设定');
  const out = h('div.out', { 'aria-live': 'polite' });
  const form = h('form', { novalidate: true },
    field('管理类别', cls, '重点监管单位按月、按年申报，简化管理单位按季、按年申报，登记管理单位按年申报。选择“按规则推定”则由账本按设施、许可证和前三年产生量推定。'),
    field('认定理由', reason, '例如：列入本年度重点监管单位名录'),
    h('div.actions', button), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(reason, '');
    if (!reason.value.trim()) return fieldError(reason, '请填写认定理由');
    const entry = await act(button, out,
      () => ctx.api.submit('org.class_set', { org: o.org, class: cls.value, reason: reason.value.trim() }),
      (e) => `已设定，记入账本第 ${e.seq} 条。`);
    if (entry) {
      setFlash(cls.value === 'derived'
        ? `已取消认定，管理类别按规则推定，记入账本第 ${entry.seq} 条。`
        : `已认定为${MANAGEMENT_CLASSES[cls.value]}，记入账本第 ${entry.seq} 条。`);
      ctx.refresh();
    }
  });
  return h('section.card', h('h3', '设定管理类别'), form);
}

async function renderOne(ctx, orgId) {
  const shown = takeFlash();
  mount(ctx.main, h('p', link('/orgs', '← 单位登记')), heading('单位详情'), h('p.muted', '正在加载……'));
  let o;
  try {
    o = await ctx.api.get(`/v1/orgs/${encodeURIComponent(orgId)}`);
  } catch (e) {
    mount(ctx.main, h('p', link('/orgs', '← 单位登记')), heading('单位详情'),
      e.status === 404 ? notice('error', h('strong', `账本中没有统一社会信用代码为 ${orgId} 的单位。`)) : errorNotice(e));
    return;
  }
  mount(ctx.main,
    h('p', link('/orgs', '← 单位登记')),
    heading(o.name),
    shown,
    h('section.card', dl([
      ['统一社会信用代码', h('span.mono', o.org)],
      ['单位名称', o.name],
      ['所在地区', o.region],
      ['角色', rolesText(o.roles)],
      ['登记记录', h('a', { href: proofHref(o.registered_seq), target: '_blank', rel: 'noopener' }, `账本第 ${o.registered_seq} 条`)],
      o.class ? ['管理类别', h('span', { 'data-testid': 'org-class' }, `${o.class.year} 年：${classText(o.class)}`)] : null,
    ])),
    h('h2', '密钥'),
    stackOnPhone(table([
      { title: '公钥', class: 'mono', get: (k) => k.key },
      {
        title: '状态', get: (k) => (k.revoked_seq === null || k.revoked_seq === undefined
          ? badge('有效', 'ok') : [badge('已吊销', 'bad'), h('div.muted.small', `账本第 ${k.revoked_seq} 条`)]),
      },
      { title: '添加于', get: (k) => h('a', { href: proofHref(k.added_seq), target: '_blank', rel: 'noopener' }, `账本第 ${k.added_seq} 条`) },
    ], o.keys, { caption: `共 ${o.keys.length} 个，有效 ${activeKeys(o).length} 个` })),
    h('div.two-col', keyForms(ctx, o)),
    o.roles.includes('generator') || o.roles.includes('receiver') ? classForm(ctx, o) : null,
    o.roles.includes('receiver') ? h('p', link(`/licenses?holder=${o.org}`, '查看该单位的经营许可证')) : null,
    o.roles.includes('generator') || o.roles.includes('receiver') ? h('p', link(`/stock?generator=${o.org}`, '查看该单位的库存')) : null,
    o.roles.includes('generator') ? h('p', link(`/plan-status?org=${o.org}`, '查看该单位的管理计划执行情况'), '　',
      link(`/declaration?org=${o.org}`, '查看该单位的申报表'), '　', link(`/compliance?org=${o.org}`, '查看该单位的合规问题')) : null);
}

export async function render(ctx) {
  const q = ctx.query;
  if (q.org) return renderOne(ctx, q.org.toUpperCase());
  const listEl = h('div', { 'aria-live': 'polite' }, h('p.muted', '正在加载……'));
  mount(ctx.main,
    heading('单位登记', '登记产废、运输、接收单位和生态环境局，管理它们用于签名的公钥。'),
    lookupForm(ctx),
    h('h2', '单位名录'),
    filterForm(ctx, q),
    listEl,
    h('h2#register', '登记新单位'),
    registerForm(ctx));
  try {
    const orgs = await listOrgs(ctx.api, { role: q.role, region: q.region });
    if (orgs === null) {
      mount(listEl, notice('info', '本服务尚未提供单位名录（GET /v1/orgs）。请用上方的“按统一社会信用代码查找”查看某个单位。'));
      return;
    }
    rememberOrgNames(orgs);
    mount(listEl, stackOnPhone(table([
      { title: '统一社会信用代码', class: 'mono', get: (o) => link(route({ org: o.org }), o.org) },
      { title: '单位名称', get: (o) => o.name },
      { title: '地区', get: (o) => o.region },
      { title: '角色', get: (o) => rolesText(o.roles) },
      { title: '管理类别', get: (o) => (o.class && o.roles.includes('generator') ? classText(o.class) : '—') },
      { title: '有效密钥', class: 'num', get: (o) => String(activeKeys(o).length) },
    ], orgs, { empty: '没有符合条件的单位', caption: `共 ${orgs.length} 个单位` })));
  } catch (e) {
    mount(listEl, errorNotice(e));
  }
}
