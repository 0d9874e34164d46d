// Every page of the console, in menu order. A page is a module with
//   export async function render(ctx)
// where ctx = { session, api, params, query, main, navigate(route), refresh() }.
// `path` may hold `:name` segments (ctx.params.name). `roles` says who sees the page in the
// menu and may open it ('*' for everyone signed in); `menu: false` keeps it out of the menu;
// `print: true` lays the page out for paper (no menu or top bar when printed). `group` may be a
// function of the session, for a page two roles use under different menu headings.
// A new event family of the protocol is a new module here and a new form, not a rewrite.

/** 监管 for a regulator, 产废 for a generator reading its own. */
function planGroup(session) {
  return session.has('regulator') ? '监管' : '产废';
}

/** 产废 for a generator; 收集贮存 for a receiver that is not one. */
function stockGroup(session) {
  return session.has('generator') ? '产废' : '收集贮存';
}

export const PAGES = [
  // Regulator (生态环境局)
  { path: 'overview', title: '总览', group: '监管', roles: ['regulator'], load: () => import('./regulator/overview.js') },
  { path: 'tickets', title: '问题清单', group: '监管', roles: ['*'], load: () => import('./shared/tickets.js') },
  { path: 'compliance', title: '合规问题', group: '监管', roles: ['*'], load: () => import('./shared/compliance.js') },
  { path: 'tickets/:id', title: '问题详情', roles: ['*'], menu: false, load: () => import('./shared/ticket.js') },
  { path: 'manifests', title: '联单查询', group: '联单', roles: ['*'], load: () => import('./shared/manifests.js') },
  { path: 'manifests/:id', title: '联单详情', roles: ['*'], menu: false, load: () => import('./shared/manifest.js') },
  { path: 'manifests/:id/print', title: '打印联单', roles: ['*'], menu: false, print: true, load: () => import('./shared/print.js') },
  { path: 'orgs', title: '单位登记', group: '监管', roles: ['regulator'], load: () => import('./regulator/orgs.js') },
  { path: 'licenses', title: '经营许可证', group: '监管', roles: ['regulator'], load: () => import('./regulator/licenses.js') },
  { path: 'stock', title: '库存', group: '监管', roles: ['regulator'], load: () => import('./regulator/stock.js') },
  { path: 'facilities', title: '贮存设施', group: '监管', roles: ['*'], load: () => import('./shared/facilities.js') },
  { path: 'facilities/:org/:facility', title: '设施详情', roles: ['*'], menu: false, load: () => import('./shared/facilities.js') },
  { path: 'chains', title: '流向追溯', group: '联单', roles: ['*'], load: () => import('./shared/chains.js') },
  { path: 'chains/:id', title: '流向追溯', roles: ['*'], menu: false, load: () => import('./shared/chains.js') },
  { path: 'containers', title: '容器查询', group: '联单', roles: ['*'], load: () => import('./shared/container.js') },
  { path: 'containers/:id', title: '容器详情', roles: ['*'], menu: false, load: () => import('./shared/container.js') },
  { path: 'labels', title: '容器标签', roles: ['*'], menu: false, print: true, load: () => import('./shared/labels.js') },
  { path: 'verify', title: '核验', group: '监管', roles: ['*'], load: () => import('./shared/verify.js') },
  // Generator (产废单位)
  { path: 'declare', title: '申报登记', group: '产废', roles: ['generator'], load: () => import('./generator/declare.js') },
  // Receivers too: a collector holds what it stored as lots and ships them on (onward manifests).
  { path: 'my-stock', title: '我的库存', group: stockGroup, roles: ['generator', 'receiver'], load: () => import('./generator/stock.js') },
  { path: 'open', title: '开具联单', group: stockGroup, roles: ['generator', 'receiver'], load: () => import('./generator/open.js') },
  { path: 'treat', title: '自行利用处置', group: '产废', roles: ['generator'], load: () => import('./generator/treat.js') },
  // Plans and declarations (HJ 1259-2022); regulators open a unit's from 合规问题 or by its code.
  { path: 'plan', title: '年度管理计划', group: '产废', roles: ['generator'], load: () => import('./generator/plan.js') },
  { path: 'plan-status', title: '计划执行情况', group: planGroup, roles: ['generator', 'regulator'], load: () => import('./generator/plan-status.js') },
  { path: 'declaration', title: '定期申报', group: planGroup, roles: ['generator', 'regulator'], load: () => import('./generator/declaration.js') },
  { path: 'figures', title: '本单位指标', group: '产废', roles: ['generator'], load: () => import('./generator/figures.js') },
  // Carrier (运输单位) and receiver (接收单位): the dock view, phone-width
  { path: 'dock', title: '扫码作业', group: '现场', roles: ['carrier', 'receiver'], load: () => import('./dock/dock.js') },
];
