// Names and texts from the ledger are shown as text, never as markup: organisations registered
// with names that are HTML show those very characters wherever names show, no script of theirs
// runs (a dialog would open), and every response of the service carries the CSP that would stop
// one anyway.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Ledger, launch, openPage, signIn, go, settle, today, CSP } from './lib/harness.mjs';

const NAMES = {
  generator: '<img src=x onerror=alert(1)>',
  carrier: '<b onmouseover=alert(2)>承运</b>',
  receiver: '"><script>alert(3)</script>',
};

let ledger;
let browser;
let plant;
let carrier;
let receiver;
let manifest;
let ticket;

before(async () => {
  ledger = await Ledger.start();
  browser = await launch();
  plant = ledger.register(NAMES.generator, ['generator']);
  carrier = ledger.register(NAMES.carrier, ['carrier']);
  receiver = ledger.register(NAMES.receiver, ['receiver']);
  ledger.license(receiver);
  ledger.act(plant, 'waste.declared', { generator: plant.org, code: '900-249-08', quantity_g: 2_000_000, date: today() });
  const id = randomUUID();
  ledger.act(plant, 'manifest.opened', {
    manifest: id, generator: plant.org, carrier: carrier.org, receiver: receiver.org,
    lines: [{ code: '900-249-08', quantity_g: 1_000_000, form: '<i>液态</i>', packaging: '<u>桶</u>' }],
    note: '<script>alert(4)</script>',
  });
  manifest = await ledger.get(`/v1/manifests/${id}`);
  ticket = randomUUID();
  ledger.regulate('ticket.opened', {
    ticket, kind: 'reported_dumping',
    subject: { org: plant.org, site: { address: '<svg onload=alert(5)>' } },
    summary: '<iframe src=javascript:alert(6)>',
  });
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

/** Nothing from the ledger became an element: no img, script, iframe, tag or handler of theirs. */
async function assertNoInjectedMarkup(page, where) {
  const found = await page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('img[src="x"], #main script, iframe')) {
      bad.push(el.outerHTML.slice(0, 80));
    }
    for (const el of document.querySelectorAll('b, i, u')) {
      if (['承运', '液态', '桶'].includes(el.textContent)) bad.push(el.outerHTML);
    }
    for (const el of document.querySelectorAll('*')) {
      for (const a of el.attributes) {
        if (/^on/i.test(a.name) || /alert\(/.test(a.value)) bad.push(`<${el.tagName.toLowerCase()} ${a.name}="${a.value.slice(0, 40)}">`);
      }
    }
    return bad;
  });
  assert.deepEqual(found, [], `${where}: text from the ledger became markup`);
}

async function assertShowsText(page, where, texts) {
  const body = await page.locator('body').innerText();
  for (const t of texts) assert.ok(body.includes(t), `${where}: shows ${t} as text; the page reads:\n${body.slice(0, 1500)}`);
  await assertNoInjectedMarkup(page, where);
}

test('the HTML-named generator sees its name as text in the top bar', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  assert.equal(await page.getByTestId('who').locator('.org-name').innerText(), NAMES.generator);
  await assertShowsText(page, 'top bar', [NAMES.generator]);
  await page.guard.check();
  await page.context().close();
});

test('as regulator, every page that shows the names shows them as text', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator);
  const pages = [
    ['联单查询', '/manifests', Object.values(NAMES)],
    ['联单', `/manifests/${manifest.manifest}`, [...Object.values(NAMES), '<script>alert(4)</script>']],
    ['打印联单', `/manifests/${manifest.manifest}/print`, Object.values(NAMES)],
    ['问题', `/tickets/${ticket}`, [NAMES.generator, '<iframe src=javascript:alert(6)>']],
    ['问题清单', '/tickets', []],
    ['单位登记', '/orgs', []],
    ['总览', '/overview', []],
  ];
  for (const [what, route, texts] of pages) {
    await go(page, route);
    await assertShowsText(page, what, texts);
  }
  await page.guard.check();
  await page.context().close();
});

test('the carrier at the dock sees the names as text', async () => {
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, carrier);
  await go(page, '/dock');
  await page.getByTestId('work-pickup').getByText(manifest.number).waitFor();
  await assertShowsText(page, 'dock list', [NAMES.generator]);
  await go(page, `/dock?n=${manifest.number}`);
  await page.getByTestId('dock-number').waitFor();
  await assertShowsText(page, 'dock manifest', Object.values(NAMES));
  await page.guard.check();
  await page.context().close();
});

test('every kind of response carries the Content-Security-Policy', async () => {
  const token = ledger.token(ledger.regulator);
  const auth = { authorization: `Bearer ${token}` };
  const requests = [
    ['GET', '/', {}],
    ['GET', '/index.html', {}],
    ['GET', '/assets/app/main.js', {}],
    ['GET', '/assets/css/console.css', {}],
    ['GET', '/assets/vendor/echarts.common.min.js', {}],
    ['GET', '/assets/no-such-file.js', {}],
    ['GET', '/healthz', {}],
    ['GET', '/v1/ledger', {}],
    ['GET', '/v1/checkpoint', {}],
    ['GET', `/v1/orgs/${plant.org}`, {}],
    ['GET', `/v1/orgs/${plant.org}`, auth],
    ['GET', `/v1/manifests/${manifest.manifest}`, auth],
    ['GET', '/v1/tickets.csv', auth],
    ['GET', '/no/such/route', {}],
    ['POST', '/v1/events', { 'content-type': 'application/json' }, '{"not":"an envelope"}'],
  ];
  for (const [method, p, headers, body] of requests) {
    const res = await fetch(ledger.url + p, { method, headers, body });
    assert.equal(res.headers.get('content-security-policy'), CSP, `${method} ${p} (${res.status})`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `${method} ${p}`);
    await res.arrayBuffer();
  }
  // And the browser, for the console's own requests (304 revalidations included): the guard of
  // each page above checked every response it saw.
  const page = await openPage(browser);
  await page.goto(ledger.url + '/');
  await settle(page);
  await page.reload();
  await settle(page);
  assert.ok(page.guard.responses.length >= 5, 'the console loaded its files');
  await page.guard.check();
  await page.context().close();
});
