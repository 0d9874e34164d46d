// Layout and keyboard: every main page at 1366×768 and the dock view at 390×844 fits the width
// of the window (the document never scrolls sideways) and every control on it can be reached
// with Tab. Each page is photographed into target/browser-screenshots/ on the way, with a
// ledger holding five months of history made with the command line (backdated), so that the
// charts, lists and tickets show what a real bureau would see.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  Ledger, launch, openPage, signIn, go, settle, shot, today,
  assertNoHorizontalOverflow, assertTabReachesEverything,
} from './lib/harness.mjs';

const CODE = '900-249-08';
const CODE2 = '900-041-49';
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

let ledger;
let browser;
const d = {};

function ago(days, hours = 0) {
  return new Date(Date.now() - days * 86400e3 + hours * 3600e3).toISOString();
}
function cst(ts) {
  return new Date(Date.parse(ts) + 8 * 3600e3).toISOString().slice(0, 10);
}

/** A manifest from `plant` to the receiver, taken as far as `until` (opened … disposed). */
function ship(plant, { days, code = CODE, shipped, received = shipped, until = 'disposed' }) {
  const t0 = days === 0 ? null : (h) => ago(days, h);
  const at = (h) => (t0 ? t0(h) : undefined);
  const id = randomUUID();
  ledger.act(plant, 'manifest.opened', {
    manifest: id, generator: plant.org, carrier: d.carrier.org, receiver: d.receiver.org,
    lines: [{ code, quantity_g: shipped, form: '液态', packaging: '桶' }],
  }, at(1));
  if (until !== 'opened') {
    ledger.act(d.carrier, 'manifest.picked_up', { manifest: id, vehicle: '苏D12345' }, at(2));
  }
  if (until === 'received' || until === 'disposed') {
    ledger.act(d.receiver, 'manifest.received', { manifest: id, lines: [{ code, quantity_g: received }] }, at(20));
  }
  if (until === 'disposed') {
    ledger.act(d.receiver, 'manifest.disposed', {
      manifest: id, lines: [{ code, quantity_g: received, method: 'D10' }],
    }, at(26));
  }
  return id;
}

before(async () => {
  ledger = await Ledger.start({ maxBackdate: '400d' });
  browser = await launch();
  const reg = (name, roles) => ledger.register(name, roles);
  d.plant = reg('常州某化工有限公司', ['generator']);
  d.plant2 = reg('常州某电镀有限公司', ['generator']);
  d.carrier = reg('常州某危险品运输有限公司', ['carrier']);
  d.receiver = reg('常州某环保处置有限公司', ['receiver']);
  ledger.license(d.receiver, ['HW08', 'HW49']);

  // Five months of shipments, two of them short beyond the weighing tolerance.
  const history = [
    [d.plant, 150, CODE, 3_000_000, 3_000_000],
    [d.plant2, 135, CODE2, 800_000, 800_000],
    [d.plant, 120, CODE, 2_000_000, 1_900_000],
    [d.plant, 90, CODE, 4_000_000, 4_000_000],
    [d.plant2, 75, CODE2, 1_200_000, 1_000_000],
    [d.plant, 60, CODE, 1_000_000, 990_000],
    [d.plant, 30, CODE, 2_500_000, 2_500_000],
  ];
  for (const [plant, days, code, shipped, received] of history) {
    const at = ago(days);
    ledger.act(plant, 'waste.declared', { generator: plant.org, code, quantity_g: shipped + 300_000, date: cst(at) }, at);
    ship(plant, { days, code, shipped, received });
  }
  // Today: stock to ship, one manifest waiting for the carrier, one on the road to the receiver.
  ledger.act(d.plant, 'waste.declared', { generator: d.plant.org, code: CODE, quantity_g: 5_000_000, date: today() });
  d.opened = ship(d.plant, { days: 0, shipped: 1_200_000, until: 'opened' });
  d.onRoad = ship(d.plant, { days: 0, shipped: 800_000, until: 'picked_up' });
  d.received = ship(d.plant, { days: 0, shipped: 600_000, until: 'received' });
  d.openedNumber = (await ledger.get(`/v1/manifests/${d.opened}`)).number;
  d.onRoadNumber = (await ledger.get(`/v1/manifests/${d.onRoad}`)).number;
  d.receivedNumber = (await ledger.get(`/v1/manifests/${d.received}`)).number;

  const shortfalls = (await ledger.get('/v1/tickets?kind=quantity_shortfall')).tickets;
  assert.equal(shortfalls.length, 2, 'the history made two quantity_shortfall tickets');
  d.ticket = shortfalls[0].ticket;
  d.manifest = shortfalls[0].subject.manifest;
  ledger.regulate('ticket.assigned', {
    ticket: d.ticket, lead: '钟楼生态环境局', support: ['钟楼公安分局'], responsible: d.carrier.org, due: today(),
  });
  ledger.regulate('ticket.opened', {
    ticket: randomUUID(), kind: 'reported_dumping',
    subject: { site: { address: '钟楼区某河道东岸', lat: 31_778_912, lon: 119_946_973 } },
    summary: '群众举报：夜间有罐车在河边倾倒黑色油状液体。', quantity_g: 3_000_000,
  });
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

/** Signs `party` in on a page of `viewport`, then visits each [name, route] and checks it. */
async function checkPages(party, viewport, pages, { tab = true, suffix = '' } = {}) {
  const page = await openPage(browser, { viewport });
  await signIn(page, ledger, party);
  await settle(page);
  const problems = [];
  for (const [name, route] of pages) {
    await go(page, route);
    // Charts and QR codes are drawn after the data arrive.
    await page.waitForTimeout(300);
    await shot(page, name + suffix);
    const errors = await page.locator('#main .notice-error').allInnerTexts();
    if (errors.length) problems.push(`${name} (#${route}) shows an error: ${errors.join(' | ')}`);
    try {
      await assertNoHorizontalOverflow(page, `${name} (#${route}) at ${viewport.width}×${viewport.height}`);
      if (tab) await assertTabReachesEverything(page, `${name} (#${route})`);
    } catch (e) {
      problems.push(e.message);
    }
  }
  await page.guard.check();
  await page.context().close();
  assert.deepEqual(problems, [], 'every page fits and can be used with the keyboard');
}

const REGULATOR_PAGES = () => [
  ['overview', '/overview'],
  ['tickets', '/tickets'],
  ['compliance', '/compliance'],
  ['ticket', `/tickets/${d.ticket}`],
  ['manifests', '/manifests'],
  ['manifest', `/manifests/${d.manifest}`],
  ['print', `/manifests/${d.manifest}/print`],
  ['chains', `/chains/${d.manifest}`],
  ['stock', `/stock?generator=${d.plant.org}`],
  ['orgs', '/orgs'],
  ['licenses', '/licenses'],
  ['verify', '/verify'],
];

const GENERATOR_PAGES = () => [
  ['declare', '/declare'],
  ['open', '/open'],
  ['my-stock', '/my-stock'],
  ['figures', '/figures'],
  ['plan', '/plan'],
  ['plan-status', '/plan-status'],
  ['declaration', '/declaration'],
];

test('sign-in at 1366×768 and at 390×844: fits, and Tab reaches every control', async () => {
  for (const [viewport, name] of [[DESKTOP, 'signin'], [PHONE, 'signin-390']]) {
    const page = await openPage(browser, { viewport });
    await page.goto(ledger.url + '/');
    await page.getByLabel('密钥文件').waitFor();
    await shot(page, name);
    await assertNoHorizontalOverflow(page, `sign-in at ${viewport.width}`);
    await assertTabReachesEverything(page, 'sign-in');
    await page.guard.check();
    await page.context().close();
  }
});

test("the regulator's pages at 1366×768 fit and can be used with Tab", async () => {
  await checkPages(ledger.regulator, DESKTOP, REGULATOR_PAGES());
});

test("the generator's pages at 1366×768 fit and can be used with Tab", async () => {
  await checkPages(d.plant, DESKTOP, GENERATOR_PAGES());
});

test('the dock view at 390×844 (carrier and receiver) fits and can be used with Tab', async () => {
  await checkPages(d.carrier, PHONE, [
    ['dock-390', '/dock'],
    ['dock-manifest-390', `/dock?n=${d.openedNumber}`],
    ['dock-pickup-390', `/dock?n=${d.openedNumber}&do=pickup`],
  ]);
  await checkPages(d.receiver, PHONE, [
    ['dock-receiver-390', '/dock'],
    ['dock-receive-390', `/dock?n=${d.onRoadNumber}&do=receive`],
    ['dock-store-390', `/dock?n=${d.receivedNumber}&do=store`],
  ]);
});

test('the main pages at 390 px wide do not scroll sideways', async () => {
  await checkPages(ledger.regulator, PHONE, REGULATOR_PAGES(), { tab: false, suffix: '-390' });
  await checkPages(d.plant, PHONE, GENERATOR_PAGES(), { tab: false, suffix: '-390' });
});
