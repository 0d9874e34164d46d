// The main flow through the console, as its four kinds of users do it, with key files and no
// JSON typed: the generator declares waste and opens a manifest; the carrier picks it up at the
// dock; the receiver weighs it short beyond the weighing tolerance and disposes of it; the
// regulator sees the rate and the automatic quantity_shortfall ticket, and closes it out
// (交办, 整改 with evidence, 退回, 整改, 销号), and opens a 偷倒 ticket by hand. What the page
// says is checked, and the facts through the API.
//
// The steps share one ledger and run in order; a step that needs an earlier one's result says so.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Ledger, launch, openPage, signIn, settle, navigation, shot, sha256Hex, needs, menu } from './lib/harness.mjs';

const CODE = '900-249-08';
const PLATE = '苏D12345';

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
  plant = ledger.register('常州某化工有限公司', ['generator'], { keyName: 'plant' });
  carrier = ledger.register('常州某危险品运输有限公司', ['carrier'], { keyName: 'carrier' });
  receiver = ledger.register('常州某环保处置有限公司', ['receiver'], { keyName: 'receiver' });
  state.license = ledger.license(receiver);
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

/** Waits for the API to show `ticket` in `status` (the page has already said so). */
async function ticketStatus(id) {
  return (await ledger.get(`/v1/tickets/${id}`)).status;
}

test('generator: signs in with its key file and declares 2 t of waste', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await menu(page, '申报登记');
  await page.getByLabel('废物代码').fill(CODE);
  await page.getByLabel('废物代码').press('Enter');
  await page.getByTestId('chosen-code').getByText(CODE).waitFor();
  await page.getByLabel('数量', { exact: true }).fill('2');
  await page.getByLabel('单位', { exact: true }).selectOption({ label: '吨' });
  await page.getByRole('button', { name: '签名并申报' }).click();
  await page.getByText('申报已记入账本').waitFor();

  const stock = await ledger.get(`/v1/stock?generator=${plant.org}`, plant);
  assert.equal(stock.lots.length, 1);
  assert.equal(stock.lots[0].code, CODE);
  assert.equal(stock.lots[0].quantity_g, 2_000_000, '2 吨 = 2,000,000 g exactly');
  await page.guard.check();
  await page.context().close();
});

test('generator: opens a manifest for 1.5 t to the licensed receiver with the carrier', async () => {
  const page = await openPage(browser);
  try {
    await signIn(page, ledger, plant);
    await menu(page, '开具联单');
    await page.getByLabel('数量', { exact: true }).fill('1.5');
    await page.getByLabel('物理形态（可选）').fill('液态');
    await page.getByLabel('包装方式（可选）').fill('桶');
    await page.getByLabel('运输单位').selectOption(carrier.org);
    const receiverSelect = page.getByLabel('接收单位');
    await page.waitForFunction((org) => [...document.querySelectorAll('select option')].some((o) => o.value === org), receiver.org);
    await receiverSelect.selectOption(receiver.org);
    await page.getByRole('button', { name: '签名并开具联单' }).click();
    const number = page.getByTestId('manifest-number');
    await number.waitFor();
    state.number = (await number.innerText()).trim();
    assert.match(state.number, /^\d{14}$/);
    await page.getByText(`联单已开具，编号 ${state.number}`).waitFor();
    await shot(page, 'flow-manifest-opened');
    await page.guard.check();
  } finally {
    await page.context().close();
    const m = state.number && await ledger.get(`/v1/manifests/${state.number}`);
    if (m) {
      state.manifest = m;
    } else {
      // So that the later steps still exercise their pages, the manifest is opened with the
      // command line; this step has failed all the same.
      const id = randomUUID();
      ledger.act(plant, 'manifest.opened', {
        manifest: id, generator: plant.org, carrier: carrier.org, receiver: receiver.org,
        lines: [{ code: CODE, quantity_g: 1_500_000 }],
      });
      state.manifest = await ledger.get(`/v1/manifests/${id}`);
      state.number = state.manifest.number;
    }
  }
  const m = state.manifest;
  assert.equal(m.status, 'opened');
  assert.equal(m.generator, plant.org);
  assert.equal(m.carrier, carrier.org);
  assert.equal(m.receiver, receiver.org);
  assert.deepEqual(m.lines.map((l) => [l.code, l.quantity_g]), [[CODE, 1_500_000]]);
});

test('carrier: at the dock on a phone, finds the manifest by number and picks it up with a plate', async () => {
  const number = need('number', 'opening the manifest');
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, carrier);
  await settle(page);
  await page.getByLabel('联单编号').fill(number);
  await page.getByRole('button', { name: '查找' }).click();
  await page.getByTestId('dock-number').getByText(number).waitFor();
  await page.getByRole('link', { name: '起运', exact: true }).click();
  await page.getByLabel('车辆号牌').fill(PLATE);
  await page.getByRole('button', { name: '确认起运' }).click();
  await page.getByTestId('success').getByText('已起运').waitFor();
  await shot(page, 'flow-dock-picked-up-390');

  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'picked_up');
  assert.equal(m.vehicle, PLATE);
  await page.guard.check();
  await page.context().close();
});

test('receiver: receives 1.45 t of 1.5 t (short beyond 1%), is warned, then disposes by D10', async () => {
  const number = need('number', 'opening the manifest');
  const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await signIn(page, ledger, receiver);
  await settle(page);
  // The manifest waits in the receiver's list.
  await page.getByTestId('work-receive').getByRole('link', { name: new RegExp(number) }).click();
  await page.getByTestId('dock-number').getByText(number).waitFor();
  await page.getByRole('link', { name: '签收', exact: true }).click();
  const received = page.getByLabel(/实收数量/);
  await received.fill('1.45');
  await page.getByText(/超过允许的称量误差/).waitFor();
  await page.getByRole('button', { name: '确认签收' }).click();
  await page.getByTestId('success').getByText('已签收').waitFor();

  await page.getByRole('link', { name: '利用/处置', exact: true }).click();
  const disposed = page.getByLabel('利用/处置数量');
  await disposed.waitFor();
  assert.equal(await disposed.inputValue(), '1.45', 'offers the received quantity');
  await page.getByLabel('利用/处置方式').selectOption('D10');
  await page.getByRole('button', { name: '确认利用/处置' }).click();
  await page.getByTestId('success').getByText('已利用/处置').waitFor();

  const m = await ledger.get(`/v1/manifests/${number}`);
  assert.equal(m.status, 'disposed');
  assert.equal(m.lines[0].received_g, 1_450_000);
  assert.equal(m.lines[0].disposed_g, 1_450_000);
  assert.equal(m.lines[0].method, 'D10');
  await page.guard.check();
  await page.context().close();
});

test('regulator: 总览 shows the rate, 问题清单 the quantity_shortfall ticket', async () => {
  need('number', 'opening the manifest');
  const stats = await ledger.get('/v1/stats/disposal');
  // 1.45 t disposed properly, 0.05 t lost beyond tolerance: 1,450,000 ÷ 1,500,000.
  assert.equal(stats.proper_g, 1_450_000);
  assert.equal(stats.improper_g, 50_000);
  const tickets = (await ledger.get('/v1/tickets?kind=quantity_shortfall')).tickets;
  assert.equal(tickets.length, 1, 'the ledger opened one quantity_shortfall ticket');
  state.ticket = tickets[0].ticket;
  assert.equal(tickets[0].quantity_g, 50_000);

  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator);
  await settle(page);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), '总览');
  await page.getByText('96.66%').first().waitFor();

  await menu(page, '问题清单');
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `问题 ${state.ticket}` }) });
  await row.getByText('数量短缺').waitFor();
  await row.getByText('已立案').waitFor();
  await row.getByText('50 千克').waitFor();
  await navigation(page, () => row.getByRole('link', { name: `问题 ${state.ticket}` }).click());
  await page.getByRole('heading', { name: /数量短缺/ }).waitFor();
  await page.getByRole('link', { name: state.number }).first().waitFor();
  await page.guard.check();
  await page.context().close();
});

async function submitStep(page, button, said) {
  // The step's own message, with the seq it was recorded at: '整改…' must not be taken for the
  // '退回整改…' shown before it, nor for an earlier 整改's.
  const message = page.getByText(new RegExp(`^${said}第 \\d+ 条`));
  const seen = new Set(await message.allTextContents());
  await page.getByRole('button', { name: button }).click();
  const deadline = Date.now() + 30_000;
  while (!(await message.allTextContents()).some((t) => !seen.has(t))) {
    assert.ok(Date.now() < deadline, `no new "${said}" after ${button}`);
    await page.waitForTimeout(50);
  }
  await settle(page);
}

async function rectify(page, file, note) {
  await page.getByLabel('整改情况').fill(note);
  await page.getByLabel('证明材料').setInputFiles(file);
  const hash = sha256Hex(fs.readFileSync(file));
  // The page hashes the file itself and shows the digest before anything is signed.
  await page.getByText(hash).first().waitFor();
  await submitStep(page, '签名并提交整改', '整改已签名并记入账本');
  return hash;
}

/** The evidence of the last ticket.rectified of `id`, as recorded in its entry. */
async function recordedEvidence(id) {
  const t = await ledger.get(`/v1/tickets/${id}`);
  const step = t.history.filter((s) => s.type === 'ticket.rectified').at(-1);
  return (await ledger.get(`/v1/entries/${step.seq}`)).event.body.evidence;
}

test('regulator: closes the ticket out: 交办, 整改 with evidence, 退回, 整改 again, 销号', async () => {
  const id = need('ticket', 'the quantity_shortfall ticket');
  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator, { route: `tickets/${id}` });
  await settle(page);
  await page.getByRole('heading', { name: /数量短缺/ }).waitFor();

  // 交办
  await page.getByLabel('牵头部门').fill('钟楼生态环境局');
  await page.getByLabel('配合部门').fill('钟楼区交通运输局\n钟楼公安分局');
  await page.getByLabel(/责任单位/).fill(carrier.org);
  const due = await page.getByLabel('整改期限').inputValue();
  assert.match(due, /^\d{4}-\d{2}-\d{2}$/, 'a due date is offered');
  await submitStep(page, '签名并交办', '交办已签名并记入账本');
  assert.equal(await ticketStatus(id), 'assigned');
  const assigned = await ledger.get(`/v1/tickets/${id}`);
  assert.equal(assigned.lead, '钟楼生态环境局');
  assert.deepEqual(assigned.support, ['钟楼区交通运输局', '钟楼公安分局']);
  assert.equal(assigned.responsible, carrier.org);
  assert.equal(assigned.due, due);

  // 整改, with a photo of the site as evidence: the page hashes it; only the digest is signed.
  const photo = path.join(ledger.files, '现场照片-1.jpg');
  fs.writeFileSync(photo, randomBytes(48 * 1024));
  const hash1 = await rectify(page, photo, '已追回短缺的 50 千克废矿物油，运输车辆已检修。');
  assert.equal(await ticketStatus(id), 'rectified');
  assert.deepEqual(await recordedEvidence(id), [{ sha256: hash1, name: '现场照片-1.jpg' }],
    'the recorded evidence is the SHA-256 of the file chosen');
  await page.getByText(hash1).first().waitFor();

  // 退回
  await page.getByLabel('退回理由').fill('证明材料不足：缺少处置单位的过磅单。');
  await submitStep(page, '签名并退回', '退回整改已签名并记入账本');
  assert.equal(await ticketStatus(id), 'assigned');

  // 整改 again
  const weighbridge = path.join(ledger.files, '过磅单.pdf');
  fs.writeFileSync(weighbridge, Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(4096)]));
  const hash2 = await rectify(page, weighbridge, '补充处置单位过磅单。');
  assert.equal(await ticketStatus(id), 'rectified');
  assert.deepEqual(await recordedEvidence(id), [{ sha256: hash2, name: '过磅单.pdf' }]);

  // 销号
  await page.getByLabel('销号意见').fill('整改到位，同意销号。');
  await submitStep(page, '签名并销号', '销号已签名并记入账本');
  const closed = await ledger.get(`/v1/tickets/${id}`);
  assert.equal(closed.status, 'closed');
  assert.ok(closed.closed_at, 'closed_at is set');
  assert.deepEqual(closed.history.map((s) => s.type), [
    'ticket.opened', 'ticket.assigned', 'ticket.rectified', 'ticket.returned', 'ticket.rectified', 'ticket.closed',
  ]);
  await page.getByText('已销号').first().waitFor();
  await shot(page, 'flow-ticket-closed');
  await page.guard.check();
  await page.context().close();
});

test('regulator: opens a 偷倒 ticket by hand in 问题清单', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator, { route: 'tickets' });
  await settle(page);
  const summary = '群众举报：夜间有罐车在河边倾倒黑色油状液体。';
  await page.getByLabel('问题类型').selectOption('reported_dumping');
  await page.getByLabel('问题摘要').fill(summary);
  await page.getByLabel('涉及单位（统一社会信用代码）').fill(carrier.org);
  await page.getByLabel('地点地址').fill('钟楼区某河道东岸');
  await page.getByLabel('纬度（WGS-84）').fill('31.778912');
  await page.getByLabel('经度（WGS-84）').fill('119.946973');
  await page.getByLabel('涉及数量').fill('3');
  await page.getByRole('button', { name: '签名并立案' }).click();
  await page.getByRole('heading', { name: /偷倒偷排/ }).waitFor();
  await page.getByText(summary).first().waitFor();

  const list = (await ledger.get('/v1/tickets?kind=reported_dumping')).tickets;
  assert.equal(list.length, 1);
  const t = list[0];
  assert.equal(t.status, 'open');
  assert.equal(t.summary, summary);
  assert.equal(t.quantity_g, 3_000_000);
  const given = Object.fromEntries(Object.entries(t.subject).filter(([, v]) => v !== null));
  assert.deepEqual(given, {
    org: carrier.org,
    site: { address: '钟楼区某河道东岸', lat: 31_778_912, lon: 119_946_973 },
  });
  assert.ok(page.url().endsWith(`#/tickets/${t.ticket}`), 'shows the new ticket');
  await page.guard.check();
  await page.context().close();
});
