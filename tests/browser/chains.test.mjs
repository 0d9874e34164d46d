// Collectors and chains through the console, as protocol v2 has them (§6 Stock, Chains): a
// generator ships waste in two containers and loose to a collector (收集单位, licensed to collect
// and store); the collector receives it at the dock weighing each container, stores it (入库贮存)
// packing the containers' waste into a new container of its own and the loose waste into its
// storage facility; finds both lots in 我的库存 with their origin; opens an onward manifest from
// them to a disposer in 开具联单; the disposer receives and disposes (API). The generator's
// manifest page then shows where its waste went on (后续转移) and links to 流向追溯, whose page is
// checked when the service serves GET /v1/chains, and whose 404 message is checked either way.
// Last, the collector stores a second receipt from the manifest page keeping the drums as they
// were weighed at the receipt.
//
// The steps share one ledger and run in order; a step that needs an earlier one's result says so.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ledger, launch, openPage, signIn, settle, navigation, shot, today, addDays, needs, menu } from './lib/harness.mjs';

const BOXED = '900-249-08';
const LOOSE = '900-214-08';
const PLATE = '苏D67890';

let ledger;
let browser;
let plant;
let carrier;
let collector;
let disposer;
const state = {};
const need = needs(state);

before(async () => {
  ledger = await Ledger.start();
  browser = await launch();
  plant = ledger.register('常州某机械加工有限公司', ['generator'], { keyName: 'plant' });
  carrier = ledger.register('常州某危险品运输有限公司', ['carrier'], { keyName: 'carrier' });
  collector = ledger.register('常州某危废收集有限公司', ['receiver'], { keyName: 'collector' });
  disposer = ledger.register('常州某环保处置有限公司', ['receiver'], { keyName: 'disposer' });
  // The collector may collect and store HW08, not utilise or dispose of it.
  ledger.regulate('license.issued', {
    license: `JSSJ${collector.org.slice(-8)}`,
    holder: collector.org,
    capacity_g: 500_000_000,
    valid_from: addDays(today(), -30),
    valid_until: addDays(today(), 700),
    scopes: [{ codes: ['HW08'], activities: ['collect', 'store'] }],
  });
  ledger.license(disposer);
  ledger.regulate('facility.registered', {
    org: collector.org, facility: 'SC01', kind: 'storage', storage_type: 'warehouse',
    capacity_g: 50_000_000, name: '收集贮存库',
  });

  // The generator declares 0.5 t in two drums and 0.3 t loose, and ships both to the collector.
  const date = today().replace(/-/g, '');
  state.drums = [1, 2].map((n) => `${plant.org}${BOXED.replace(/-/g, '')}${date}00${n}`);
  ledger.act(plant, 'waste.declared', {
    generator: plant.org, code: BOXED, quantity_g: 500_000, date: today(),
    containers: state.drums.map((id) => ({ id, quantity_g: 250_000 })),
  });
  ledger.act(plant, 'waste.declared', { generator: plant.org, code: LOOSE, quantity_g: 300_000, date: today() });
  state.first = '6d4f6f0e-2b1c-4c8e-9a51-7b3c2d1e0f01';
  ledger.act(plant, 'manifest.opened', {
    manifest: state.first, generator: plant.org, carrier: carrier.org, receiver: collector.org,
    lines: [{ code: BOXED, quantity_g: 500_000, containers: state.drums }, { code: LOOSE, quantity_g: 300_000 }],
  });
  ledger.act(carrier, 'manifest.picked_up', { manifest: state.first, vehicle: PLATE, containers: state.drums });
  state.firstNumber = (await ledger.get(`/v1/manifests/${state.first}`)).number;
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

test('collector: receives at the dock, weighing each drum', async () => {
  const number = state.firstNumber;
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, collector);
  await settle(page);
  await page.getByTestId('work-receive').getByRole('link', { name: new RegExp(number) }).click();
  await page.getByTestId('dock-number').getByText(number).waitFor();
  await page.getByRole('link', { name: '签收', exact: true }).click();
  for (const id of state.drums) await page.getByTestId(`weight-${id}`).fill('0.25');
  await page.getByTestId(`received-${LOOSE}`).fill('0.3');
  await page.getByRole('button', { name: '确认签收' }).click();
  await page.getByTestId('success').getByText('已签收').waitFor();
  // Next: dispose of it, or store it.
  await page.getByTestId('do-store').waitFor();
  await page.getByTestId('do-dispose').waitFor();
  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'received');
  state.received = true;
  await page.guard.check();
  await page.context().close();
});

test('collector: stores the receipt, relabelling the drums into one container of its own', async () => {
  need('received', 'the receipt');
  const number = state.firstNumber;
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, collector, { route: `dock?n=${number}` });
  await settle(page);
  await navigation(page, () => page.getByTestId('do-store').click());
  await page.getByTestId('store-line-1').waitFor();
  // The drums were weighed one by one, so keeping them is offered; they are relabelled instead.
  const mode = page.getByTestId(`store-mode-${BOXED}`);
  assert.deepEqual(await mode.locator('option').evaluateAll((os) => os.map((o) => o.value)), ['keep', 'relabel']);
  assert.equal(await page.getByTestId(`stored-${BOXED}`).inputValue(), '0.5', 'the received quantity is the default');
  await mode.selectOption('relabel');
  await page.getByTestId(`store-count-${BOXED}`).fill('1');
  const newId = `${collector.org}${BOXED.replace(/-/g, '')}${today().replace(/-/g, '')}001`;
  await page.locator(`[data-container="${newId}"]`).waitFor();
  assert.equal(await page.getByTestId(`store-weight-${BOXED}-1`).inputValue(), '0.5');
  await page.getByTestId('store-facility').selectOption('SC01');
  const preview = page.getByTestId('store-preview');
  await preview.getByText('装入 1 个新容器').waitFor();
  await preview.getByText('存入贮存设施 收集贮存库').waitFor();
  await shot(page, 'chains-store-390');
  await page.getByRole('button', { name: '签名并入库贮存' }).click();
  await page.getByTestId('success').getByText('已入库贮存').waitFor();
  assert.match(await page.getByTestId('success').innerText(), /已贮存/);
  await page.getByRole('link', { name: '打印新容器标签' }).waitFor();

  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'stored');
  assert.deepEqual(m.lines.map((l) => [l.code, l.stored_g]), [[BOXED, 500_000], [LOOSE, 300_000]]);
  const stock = await ledger.get(`/v1/stock?generator=${collector.org}`, collector);
  assert.equal(stock.lots.length, 2);
  for (const lot of stock.lots) assert.equal(lot.origin.number, number);
  const boxed = stock.lots.find((l) => l.code === BOXED);
  assert.deepEqual(boxed.containers.map((c) => [c.id, c.quantity_g]), [[newId, 500_000]]);
  assert.equal(stock.lots.find((l) => l.code === LOOSE).facility, 'SC01');
  state.newId = newId;
  state.lot = boxed.seq;

  // The labels of the new container.
  await navigation(page, () => page.getByRole('link', { name: '打印新容器标签' }).click());
  await page.locator(`[data-testid=label][data-container="${newId}"]`).waitFor();
  await page.guard.check();
  await page.context().close();
});

test('collector: finds its lots in 我的库存 with their origin, and opens an onward manifest', async () => {
  const newId = need('newId', 'the storing');
  const number = state.firstNumber;
  const page = await openPage(browser);
  await signIn(page, ledger, collector);
  await settle(page);
  await menu(page, '我的库存');
  const origin = page.getByTestId(`lot-origin-${state.lot}-${BOXED}`);
  await origin.getByRole('link', { name: number }).waitFor();
  await shot(page, 'chains-collector-stock');

  await menu(page, '开具联单');
  // Line 1: the loose waste (codes in order), taken by quantity.
  await page.getByTestId('line-code-1').selectOption(LOOSE);
  await page.getByTestId('line-origin-1').getByRole('link', { name: number }).waitFor();
  await page.getByTestId('line-quantity-1').fill('0.3');
  await page.getByTestId('add-line').click();
  await page.getByTestId('line-code-2').selectOption(BOXED);
  await page.locator(`[data-testid=line-containers-2] input[data-container="${newId}"]`).check();
  await page.getByLabel('运输单位').selectOption(carrier.org);
  await page.waitForFunction((org) => [...document.querySelectorAll('[data-testid=receiver] option')].some((o) => o.value === org), disposer.org);
  const offered = await page.getByTestId('receiver').locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(!offered.includes(collector.org), 'the opener is not offered as its own receiver');
  await page.getByLabel('接收单位').selectOption(disposer.org);
  await shot(page, 'chains-open-onward');
  await page.getByRole('button', { name: '签名并开具联单' }).click();
  const onward = page.getByTestId('manifest-number');
  await onward.waitFor();
  state.onward = (await onward.innerText()).trim();
  // The onward manifest's lines name where they came from.
  await page.getByTestId(`origin-${BOXED}`).getByRole('link', { name: number }).waitFor();

  const m = await ledger.get(`/v1/manifests/${state.onward}`);
  assert.equal(m.generator, collector.org);
  assert.equal(m.receiver, disposer.org);
  const boxed = m.lines.find((l) => l.code === BOXED);
  assert.deepEqual(boxed.containers.map((c) => c.id), [newId]);
  assert.equal(boxed.origin[0].number, number);
  await page.guard.check();
  await page.context().close();
});

test('disposer: receives and disposes of the onward manifest (API)', async () => {
  const onward = need('onward', 'the onward manifest');
  const m = await ledger.get(`/v1/manifests/${onward}`);
  ledger.act(carrier, 'manifest.picked_up', { manifest: m.manifest, vehicle: PLATE, containers: [state.newId] });
  ledger.act(disposer, 'manifest.received', {
    manifest: m.manifest,
    lines: m.lines.map((l) => (l.containers
      ? { code: l.code, quantity_g: l.quantity_g, containers: l.containers.map((c) => ({ id: c.id, quantity_g: c.quantity_g })) }
      : { code: l.code, quantity_g: l.quantity_g })),
  });
  ledger.act(disposer, 'manifest.disposed', {
    manifest: m.manifest, lines: m.lines.map((l) => ({ code: l.code, quantity_g: l.quantity_g, method: 'D10' })),
  });
  assert.equal((await ledger.get(`/v1/manifests/${onward}`)).status, 'disposed');
  state.disposed = true;
});

/** The status of GET /v1/chains/{number} for `party`. */
async function chainsStatus(number, party) {
  const res = await fetch(`${ledger.url}/v1/chains/${number}`, { headers: { authorization: `Bearer ${ledger.token(party)}` } });
  return res.status;
}

test('generator: the manifest page shows the onward manifest and links to 流向追溯', async () => {
  need('disposed', 'the disposal');
  const number = state.firstNumber;
  const page = await openPage(browser);
  await signIn(page, ledger, plant, { route: `manifests/${number}` });
  await settle(page);
  for (const code of [BOXED, LOOSE]) {
    await page.getByTestId(`onward-${code}`).getByRole('link', { name: state.onward }).waitFor();
  }
  assert.match(await page.locator('table').first().innerText(), /贮存量/);
  await shot(page, 'chains-manifest-onward');

  await navigation(page, () => page.locator('#main').getByRole('link', { name: '流向追溯', exact: true }).click());
  assert.equal(await page.evaluate(() => location.hash), `#/chains/${number}`);
  const status = await chainsStatus(number, plant);
  if (status === 200) {
    const chains = page.getByTestId('chain');
    assert.equal(await chains.count(), 2, 'one chain per line of the first leg');
    for (let i = 0; i < 2; i++) {
      const legs = chains.nth(i).getByTestId('chain-legs');
      await legs.getByRole('link', { name: number }).waitFor();
      await legs.getByRole('link', { name: state.onward }).waitFor();
      assert.equal(await legs.locator('[data-depth="1"]').count(), 1, 'the onward leg hangs under the first');
      await chains.nth(i).getByTestId('chain-lots').getByText(collector.name).waitFor();
    }
    const api = await ledger.get(`/v1/chains/${number}`, plant);
    assert.equal(api.chains.reduce((a, c) => a + c.proper_g, 0), 800_000);
    assert.match(await chains.first().innerText(), /规范利用\/处置/);
  } else {
    // The service in this build does not serve chains: the page says so in Chinese.
    assert.equal(status, 404);
    console.log('note: GET /v1/chains answered 404; the chain page\'s figures are not checked in this build');
    await page.getByText('本服务暂未提供流向追溯查询').waitFor();
  }
  await shot(page, 'chains-chain');

  // A number that names no manifest reads as such, whatever the service serves.
  await page.getByTestId('chain-search').fill('20993204999999');
  await navigation(page, () => page.getByRole('button', { name: '追溯' }).click());
  await page.getByText('没有找到联单 20993204999999').waitFor();
  await page.guard.check();
  await page.context().close();
});

test('collector: stores another receipt from the manifest page, keeping the drums as weighed', async () => {
  need('disposed', 'the first chain');
  // Two more drums, weighed one by one at the receipt (API).
  const date = today().replace(/-/g, '');
  const drums = [3, 4].map((n) => `${plant.org}${BOXED.replace(/-/g, '')}${date}00${n}`);
  ledger.act(plant, 'waste.declared', {
    generator: plant.org, code: BOXED, quantity_g: 400_000, date: today(),
    containers: drums.map((id) => ({ id, quantity_g: 200_000 })),
  });
  const id = '6d4f6f0e-2b1c-4c8e-9a51-7b3c2d1e0f02';
  ledger.act(plant, 'manifest.opened', {
    manifest: id, generator: plant.org, carrier: carrier.org, receiver: collector.org,
    lines: [{ code: BOXED, quantity_g: 400_000, containers: drums }],
  });
  ledger.act(carrier, 'manifest.picked_up', { manifest: id, vehicle: PLATE, containers: drums });
  ledger.act(collector, 'manifest.received', {
    manifest: id,
    lines: [{ code: BOXED, quantity_g: 399_000, containers: [{ id: drums[0], quantity_g: 199_000 }, { id: drums[1], quantity_g: 200_000 }] }],
  });
  const number = (await ledger.get(`/v1/manifests/${id}`)).number;

  const page = await openPage(browser);
  await signIn(page, ledger, collector, { route: `manifests/${number}` });
  await settle(page);
  const card = page.locator('[data-action=store]');
  assert.equal(await card.getByTestId(`store-mode-${BOXED}`).inputValue(), 'keep', 'keeping the weighed drums is the default');
  assert.equal(await card.getByTestId(`stored-${BOXED}`).inputValue(), '0.399');
  await card.getByTestId('store-preview').getByText('保留 2 个原容器').waitFor();
  await card.getByRole('button', { name: '签名并入库贮存' }).click();
  await page.getByText('接收单位入库贮存已记入账本').waitFor();

  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'stored');
  const lot = (await ledger.get(`/v1/stock?generator=${collector.org}`, collector)).lots.find((l) => l.seq === m.lines[0].lot);
  assert.deepEqual(lot.containers.map((c) => [c.id, c.quantity_g, c.status]),
    [[drums[0], 199_000, 'in_stock'], [drums[1], 200_000, 'in_stock']]);
  await page.guard.check();
  await page.context().close();
});
