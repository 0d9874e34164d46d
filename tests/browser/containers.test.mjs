// Facilities and containers (一物一码) through the console, as protocol v2 has them: the regulator
// registers a storage facility; the generator declares a lot packed in 3 containers into it,
// sees their 37-character codes before signing and prints their labels (each with a QR code);
// opens a manifest naming 2 of them; the carrier scans both at pickup (codes typed, as a
// handheld scanner types them); the receiver weighs one and marks the other as not arrived, and
// the ledger's quantity_shortfall ticket names the missing container; the container page shows
// its trace; the generator treats the third container on site. The facts are checked through
// the API as well as on the page.
//
// The steps share one ledger and run in order; a step that needs an earlier one's result says so.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ledger, launch, openPage, signIn, settle, navigation, shot, today, needs, menu } from './lib/harness.mjs';

const CODE = '900-249-08';
const PLATE = '苏D54321';

let ledger;
let browser;
let plant;
let carrier;
let receiver;
const state = {};
const need = needs(state);

before(async () => {
  ledger = await Ledger.start();
  browser = await launch();
  plant = ledger.register('常州某机械制造有限公司', ['generator'], { keyName: 'plant' });
  carrier = ledger.register('常州某危险品运输有限公司', ['carrier'], { keyName: 'carrier' });
  receiver = ledger.register('常州某环保处置有限公司', ['receiver'], { keyName: 'receiver' });
  ledger.license(receiver);
  // The plant's own incinerator, for the on-site treatment at the end.
  ledger.regulate('facility.registered', {
    org: plant.org, facility: 'DF01', kind: 'dispose', capacity_g: 50_000_000,
    methods: ['D10'], name: '厂内危废焚烧炉',
  });
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

test('regulator: registers a storage facility of the generator in 贮存设施', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator);
  await settle(page);
  await menu(page, '贮存设施');
  await page.getByLabel('所属单位', { exact: true }).selectOption(plant.org);
  await page.getByLabel('设施编码').fill('TS01');
  await page.getByLabel('设施名称').fill('1号危废贮存库');
  await page.getByLabel('设施类别').selectOption('storage');
  await page.getByLabel('贮存设施类型').selectOption('warehouse');
  await page.getByLabel('能力', { exact: true }).fill('10');
  await page.getByRole('button', { name: '签名并登记' }).click();
  await page.getByText('已登记设施 1号危废贮存库').waitFor();
  await page.getByTestId('facility').getByText('贮存设施（贮存库）').waitFor();
  await shot(page, 'containers-facility-registered');

  const f = await ledger.get(`/v1/facilities/${plant.org}/TS01`);
  assert.equal(f.kind, 'storage');
  assert.equal(f.storage_type, 'warehouse');
  assert.equal(f.capacity_g, 10_000_000);
  assert.equal(f.status, 'active');
  state.facility = 'TS01';

  // Every org sees the list; the plant finds both of its facilities.
  await page.guard.check();
  await page.context().close();
  const list = await ledger.get(`/v1/facilities?org=${plant.org}`, carrier);
  assert.deepEqual(list.facilities.map((x) => x.facility).sort(), ['DF01', 'TS01']);
});

test('generator: declares 0.6 t in 3 containers into the facility, seeing the codes first', async () => {
  need('facility', 'registering the facility');
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await menu(page, '申报登记');
  await page.getByLabel('废物代码').fill(CODE);
  await page.getByLabel('废物代码').press('Enter');
  await page.getByTestId('chosen-code').getByText(CODE).waitFor();
  await page.getByLabel('数量', { exact: true }).fill('0.6');
  await page.getByLabel('贮存设施').selectOption('TS01');
  await page.getByLabel('容器数量').fill('3');
  const prefix = `${plant.org}${CODE.replace(/-/g, '')}${today().replace(/-/g, '')}`;
  const ids = [1, 2, 3].map((n) => `${prefix}${String(n).padStart(3, '0')}`);
  for (const id of ids) await page.locator(`[data-container="${id}"]`).waitFor();
  assert.equal(await page.getByTestId('container-weight-1').inputValue(), '0.2', 'an even split is offered');
  await page.getByText('装入 3 个容器').waitFor();
  await shot(page, 'containers-declare');
  await page.getByRole('button', { name: '签名并申报' }).click();
  await page.getByText('申报已记入账本').waitFor();

  const stock = await ledger.get(`/v1/stock?generator=${plant.org}`, plant);
  assert.equal(stock.lots.length, 1);
  const lot = stock.lots[0];
  assert.equal(lot.quantity_g, 600_000);
  assert.equal(lot.facility, 'TS01');
  assert.deepEqual(lot.containers.map((c) => [c.id, c.quantity_g, c.status]),
    ids.map((id) => [id, 200_000, 'in_stock']));
  state.lot = lot.seq;
  state.ids = ids;

  // 打印容器标签: one label per container, each with the code as a QR code.
  await navigation(page, () => page.getByRole('link', { name: '打印容器标签' }).click());
  const labels = page.getByTestId('label');
  assert.equal(await labels.count(), 3);
  for (const id of ids) {
    const label = page.locator(`[data-testid=label][data-container="${id}"]`);
    assert.equal(await label.locator('.hw-label-qr svg path').count(), 1, `a QR code on the label of ${id}`);
    assert.match(await label.innerText(), new RegExp(plant.name));
  }
  assert.match(await labels.first().innerText(), /废矿物油|矿物油/);
  await shot(page, 'containers-labels');
  await page.guard.check();
  await page.context().close();
});

test('generator: opens a manifest naming 2 of the containers', async () => {
  const ids = need('ids', 'declaring in containers');
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await menu(page, '开具联单');
  await page.getByTestId('line-container-1-1').check();
  await page.getByTestId('line-container-1-2').check();
  await page.getByText('已选 2 个容器').waitFor();
  assert.equal(await page.getByTestId('line-quantity-1').inputValue(), '0.4', 'the quantity follows the containers');
  await page.getByLabel('运输单位').selectOption(carrier.org);
  await page.waitForFunction((org) => [...document.querySelectorAll('select option')].some((o) => o.value === org), receiver.org);
  await page.getByLabel('接收单位').selectOption(receiver.org);
  await page.getByRole('button', { name: '签名并开具联单' }).click();
  const number = page.getByTestId('manifest-number');
  await number.waitFor();
  state.number = (await number.innerText()).trim();
  // The manifest page lists its containers, each linking to its trace.
  await page.getByTestId('manifest-containers').getByRole('link').first().waitFor();
  assert.equal(await page.getByTestId('manifest-containers').getByRole('link').count(), 2);

  const m = await ledger.get(`/v1/manifests/${state.number}`);
  assert.equal(m.lines[0].quantity_g, 400_000);
  assert.deepEqual(m.lines[0].containers.map((c) => c.id), ids.slice(0, 2));
  await page.guard.check();
  await page.context().close();
});

test('carrier: scans both containers at pickup (codes typed) and picks up', async () => {
  const number = need('number', 'opening the manifest');
  const ids = state.ids;
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, carrier);
  await settle(page);
  await page.getByLabel('联单编号').fill(number);
  await page.getByRole('button', { name: '查找' }).click();
  await page.getByTestId('dock-number').getByText(number).waitFor();
  await page.getByRole('link', { name: '起运', exact: true }).click();
  await page.getByTestId('scan-count').getByText('已扫描 0 / 2').waitFor();
  // A code not on the manifest is refused on the spot.
  await page.getByTestId('scan-input').fill(ids[2]);
  await page.getByTestId('scan-input').press('Enter');
  await page.getByTestId('scan-said').getByText('不在本联单中').waitFor();
  await page.getByLabel('车辆号牌').fill(PLATE);
  await page.getByRole('button', { name: '确认起运' }).click();
  await page.getByText('还有 2 个容器未扫描').waitFor();
  for (const id of ids.slice(0, 2)) {
    await page.getByTestId('scan-input').fill(id);
    await page.getByTestId('scan-input').press('Enter');
  }
  await page.getByTestId('scan-count').getByText('已扫描 2 / 2').waitFor();
  assert.equal(await page.getByText('还有 2 个容器未扫描').count(), 0, 'the refusal goes once the drums are scanned');
  await shot(page, 'containers-pickup-scanned-390');
  await page.getByRole('button', { name: '确认起运' }).click();
  await page.getByTestId('success').getByText('已起运').waitFor();

  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'picked_up');
  const entry = await ledger.get(`/v1/entries/${m.history.at(-1).seq}`);
  assert.deepEqual(entry.event.body.containers, ids.slice(0, 2), 'the scanned codes are sent');
  await page.guard.check();
  await page.context().close();
});

test('receiver: weighs one container and leaves the other out; the shortfall ticket names it', async () => {
  const number = need('number', 'opening the manifest');
  const ids = state.ids;
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, receiver);
  await settle(page);
  await page.getByTestId('work-receive').getByRole('link', { name: new RegExp(number) }).click();
  await page.getByTestId('dock-number').getByText(number).waitFor();
  await page.getByRole('link', { name: '签收', exact: true }).click();
  await page.getByTestId(`weight-${ids[0]}`).fill('0.2');
  await page.getByTestId(`missing-${ids[1]}`).check();
  await page.getByText('1 个容器未到').waitFor();
  await shot(page, 'containers-receive-390');
  await page.getByRole('button', { name: '确认签收' }).click();
  await page.getByTestId('success').getByText('已签收').waitFor();

  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'received');
  assert.equal(m.lines[0].received_g, 200_000);
  const tickets = (await ledger.get('/v1/tickets?kind=quantity_shortfall')).tickets;
  assert.equal(tickets.length, 1);
  assert.deepEqual(tickets[0].subject.containers, [ids[1]], 'the ticket names the missing container');
  state.ticket = tickets[0].ticket;
  await page.guard.check();
  await page.context().close();
});

test('generator: the container page shows the missing container\'s trace', async () => {
  need('ticket', 'the receipt');
  const ids = state.ids;
  const page = await openPage(browser);
  await signIn(page, ledger, plant, { route: `containers/${ids[1]}` });
  await settle(page);
  await page.getByTestId('container').getByText('缺失').waitFor();
  const trace = page.getByTestId('container-trace');
  for (const step of ['申报登记', '开具联单', '运输单位接收（起运）', '接收单位签收']) {
    await trace.getByText(step, { exact: true }).waitFor();
  }
  await trace.getByRole('link', { name: state.number }).first().waitFor();
  const c = await ledger.get(`/v1/containers/${ids[1]}`, plant);
  assert.equal(c.status, 'missing');
  assert.deepEqual(c.trace.map((s) => s.type),
    ['waste.declared', 'manifest.opened', 'manifest.picked_up', 'manifest.received']);
  await shot(page, 'containers-trace');

  // The search box finds a container from a code as a scanner reads it.
  await page.getByTestId('container-search').fill(` ${ids[0]} `);
  await navigation(page, () => page.getByRole('button', { name: '查询' }).click());
  await page.getByTestId('container-id').waitFor();
  assert.equal((await page.getByTestId('container-id').innerText()).replace(/\s/g, ''), ids[0]);
  await page.guard.check();
  await page.context().close();
});

test('generator: treats the third container on site in its incinerator', async () => {
  const ids = need('ids', 'declaring in containers');
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await menu(page, '自行利用处置');
  await page.getByLabel('利用/处置设施').selectOption('DF01');
  await page.getByLabel('废物代码', { exact: true }).selectOption(CODE);
  const box = page.locator(`[data-testid=treat-containers] input[data-container="${ids[2]}"]`);
  await box.check();
  await page.getByLabel('利用/处置方式').selectOption('D10');
  await page.getByText('（1 个容器）').waitFor();
  await page.getByRole('button', { name: '签名并记录' }).click();
  await page.getByText('已记入账本').waitFor();
  await shot(page, 'containers-treated');

  const c = await ledger.get(`/v1/containers/${ids[2]}`, plant);
  assert.equal(c.status, 'treated');
  const stats = await ledger.get(`/v1/stats/disposal?org=${plant.org}`, plant);
  assert.equal(stats.treated_onsite_g, 200_000);
  const f = await ledger.get(`/v1/facilities/${plant.org}/DF01`, plant);
  assert.equal(f.treated_g, 200_000);
  await page.guard.check();
  await page.context().close();
});
