// The console's shell: sign-in, the menu for the signed-in organisation's roles, and a hash
// router that loads each page's module when it is first opened.

import { h, mount } from './core/dom.js';
import { Api } from './core/api.js';
import { ROLES } from './core/i18n.js';
import { PAGES } from './pages/registry.js';
import { renderSignIn } from './pages/signin.js';
import { errorNotice } from './core/ui.js';

const app = {
  session: null,
  api: null,
  top: document.getElementById('top'),
  nav: document.getElementById('nav'),
  main: document.getElementById('main'),
};

function allowed(page, session) {
  return page.roles.includes('*') || page.roles.some((r) => session.has(r));
}

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const page of PAGES) {
    const pat = page.path.split('/');
    if (pat.length !== parts.length) continue;
    const params = {};
    if (pat.every((p, i) => (p.startsWith(':') ? ((params[p.slice(1)] = decodeURIComponent(parts[i])), true) : p === parts[i]))) {
      return { page, params };
    }
  }
  return null;
}

function homeFor(session) {
  if (session.has('regulator')) return '/overview';
  if (session.has('generator')) return '/my-stock';
  return '/dock';
}

export function navigate(route) {
  if (location.hash === '#' + route) render();
  else location.hash = '#' + route;
}

function renderTop() {
  const s = app.session;
  if (!s) {
    mount(app.top, h('div.brand', '危险废物转移联单账本'));
    return;
  }
  mount(app.top,
    h('div.brand', '危险废物转移联单账本'),
    h('div.who', { 'data-testid': 'who' },
      h('span.org-name', s.orgInfo.name),
      h('span.org-id', s.org),
      h('span.roles', s.roles.map((r) => ROLES[r] || r).join('、')),
      h('button.link', { type: 'button', on: { click: signOut } }, '退出')));
}

function renderNav(current) {
  const s = app.session;
  if (!s) {
    mount(app.nav);
    app.nav.hidden = true;
    return;
  }
  app.nav.hidden = false;
  const groups = new Map();
  for (const p of PAGES) {
    if (p.menu === false || !allowed(p, s)) continue;
    const group = typeof p.group === 'function' ? p.group(s) : p.group;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(p);
  }
  mount(app.nav, [...groups].map(([g, pages]) => h('div.nav-group',
    h('div.nav-title', g),
    h('ul', pages.map((p) => h('li', h('a', {
      href: '#/' + p.path,
      'aria-current': current && current.path === p.path ? 'page' : null,
    }, p.title)))))));
}

function signOut() {
  // The key object and any token go with the session: nothing was stored anywhere.
  app.session = null;
  app.api = null;
  location.hash = '#/';
  render();
}

async function render() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  renderTop();
  if (!app.session) {
    renderNav(null);
    renderSignIn(app.main, (session) => {
      app.session = session;
      app.api = new Api(session);
      const target = path && path !== '/' ? raw : homeFor(session);
      if (location.hash === '#' + target) render();
      else location.hash = '#' + target;
    });
    return;
  }
  const found = match(path) || (path === '/' ? match(homeFor(app.session)) : null);
  renderNav(found && found.page);
  if (!found || !allowed(found.page, app.session)) {
    mount(app.main, h('h1', '未找到'), h('p', '没有这个页面，或当前单位无权打开。'),
      h('p', h('a', { href: '#' + homeFor(app.session) }, '返回首页')));
    return;
  }
  // Each render fills an area of its own. A render still waiting on the network when the
  // user moves on finishes into an area no longer on the page, so it can never overwrite the
  // page the newer navigation opened.
  const area = h('div.page', h('p.muted', '正在加载……'));
  mount(app.main, area);
  const current = () => area.isConnected;
  try {
    const mod = await found.page.load();
    if (!current()) return;
    const ctx = {
      session: app.session,
      api: app.api,
      params: found.params,
      query: Object.fromEntries(new URLSearchParams(qs || '')),
      main: area,
      navigate,
      refresh: render,
    };
    // The loading line stays until the page mounts its content (every page fills ctx.main
    // with mount()), so a page that reads first never shows an empty area.
    window.scrollTo(0, 0);
    document.body.classList.toggle('print-page', Boolean(found.page.print));
    await mod.render(ctx);
    if (current()) app.main.focus({ preventScroll: true });
  } catch (e) {
    if (current()) mount(area, errorNotice(e));
  }
}

window.addEventListener('hashchange', render);
render();
