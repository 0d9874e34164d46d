// Plans and declarations (HJ 1259-2022) through the console: the regulator sets the plant's
// management class on its registry page; the plant files its annual plan through the form
// (quantities typed in 千克), ships to the planned receiver and to one outside the plan, declares
// beyond its plan, and sees planned against actual with the excess marked; it views last month's
// declaration report, downloads the CSV, and confirms the declaration with one click; once a
// late entry changes that month, confirming over the old report is refused and the page shows the
// new report; the regulator sees the compliance tickets in Chinese, apart from the waste-loss
// kinds. Every fact the page shows is checked against the API as well.
//
// The ledger starts with compliance on from 1 January of this CST year (so that the plan decides
// whether a transfer is planned) and a backdating of 40 days (so that waste can be declared on
// the last day of last month whatever today is). The steps share the ledger and run in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Ledger, launch, openPage, signIn, settle, navigation, shot, today, addDays, go, needs, menu } from './lib/harness.mjs';

const CODE = '900-249-08';
const THIS_YEAR = today().slice(0, 4);
const FIRST_OF_MONTH = today().slice(0, 8) + '01';
const LAST_MONTH_END = addDays(FIRST_OF_MONTH, -1);
const LAST_MONTH = LAST_MONTH_END.slice(0, 7);
const LAST_MONTH_TEXT = `${+LAST_MONTH.slice(0, 4)} 年 ${+LAST_MONTH.slice(5, 7)} 月`;

let ledger;
let browser;
let plant;
let carrier;
let planned;
let unplanned;
const state = {};
const need = needs(state);

before(async () => {
  ledger = await Ledger.start({ maxBackdate: '40d', complianceFrom: `${THIS_YEAR}-01-01` });
  browser = await launch();
  plant = ledger.register('常州某机械制造有限公司', ['generator'], { keyName: 'plant' });
  carrier = ledger.register('常州某危险品运输有限公司', ['carrier'], { keyName: 'carrier' });
  planned = ledger.register('常州某环保处置有限公司', ['receiver'], { keyName: 'planned' });
  unplanned = ledger.register('无锡某资源再生有限公司', ['receiver'], { keyName: 'unplanned' });
  ledger.license(planned);
  ledger.license(unplanned);
  // 3 t produced on the last day of last month: last month's report has them.
  ledger.act(plant, 'waste.declared', { generator: plant.org, code: CODE, quantity_g: 3_000_000, date: LAST_MONTH_END });
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

/** Waits for `locator`; on a timeout, the failure quotes what the page shows instead. */
async function see(page, locator) {
  try {
    await locator.waitFor();
  } catch (e) {
    const shown = await page.locator('main').innerText().catch(() => '(no page)');
    throw new Error(`${e.message}\nthe page shows:\n${shown.slice(0, 3000)}`);
  }
}

/** Opens, picks up, and optionally receives and disposes a manifest of `q` grams of CODE. */
function ship(receiver, q, { received, disposed } = {}) {
  const manifest = randomUUID();
  ledger.act(plant, 'manifest.opened', {
    manifest, generator: plant.org, carrier: carrier.org, receiver: receiver.org, lines: [{ code: CODE, quantity_g: q }],
  });
  ledger.act(carrier, 'manifest.picked_up', { manifest, vehicle: '苏D54321' });
  if (received !== undefined) {
    ledger.act(receiver, 'manifest.received', { manifest, lines: [{ code: CODE, quantity_g: received }] });
  }
  if (disposed !== undefined) {
    ledger.act(receiver, 'manifest.disposed', { manifest, lines: [{ code: CODE, quantity_g: disposed, method: 'D10' }] });
  }
  return manifest;
}

test('regulator: sets the plant\'s management class to 重点监管 on its registry page', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator, { route: `orgs?org=${plant.org}` });
  await settle(page);
  await page.getByTestId('org-class').getByText('登记管理（按规则推定）').waitFor();
  await page.getByTestId('class-select').selectOption('key');
  await page.getByLabel('认定理由').fill('列入本年度重点监管单位名录');
  await navigation(page, () => page.getByRole('button', { name: '签名并设定' }).click());
  await page.getByText('已认定为重点监管').waitFor();
  await page.getByTestId('org-class').getByText('重点监管（由监管部门认定）').waitFor();
  await shot(page, 'plans-org-class');

  const o = await ledger.get(`/v1/orgs/${plant.org}`);
  assert.deepEqual([o.class.class, o.class.set], ['key', true]);
  await page.guard.check();
  await page.context().close();
  state.classSet = true;
});

test('generator: files this year\'s plan through the form, in 千克', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await menu(page, '年度管理计划');
  await page.getByTestId('unit').selectOption('kg');
  await page.getByTestId('plan-code-1').fill(CODE);
  await page.getByText('HW08 废矿物油').first().waitFor();
  await page.getByTestId('plan-generate-1').fill('10000');
  await page.getByTestId('plan-treat-1').fill('0');
  await page.getByTestId('plan-receiver-1-1').selectOption(planned.org);
  await page.getByTestId('plan-transfer-1-1').fill('6000');
  // A wrong code is pointed at before anything is signed.
  await page.getByTestId('plan-add-line').click();
  await page.getByTestId('plan-code-2').fill('900-999-99');
  await page.getByTestId('plan-generate-2').fill('1');
  await page.getByRole('button', { name: '签名并备案' }).click();
  await page.getByText('900-999-99 不在').waitFor();
  assert.equal((await ledger.get(`/v1/entries?from=0&limit=1000`)).entries.filter((e) => e.event.type === 'plan.filed').length, 0,
    'nothing is signed while a field is wrong');
  await page.getByTestId('plan-line-2').getByRole('button', { name: '删除此废物代码' }).click();
  await shot(page, 'plans-plan-form');
  await navigation(page, () => page.getByRole('button', { name: '签名并备案' }).click());
  await page.getByText(`已备案 ${THIS_YEAR} 年管理计划`).waitFor();

  const plan = await ledger.get(`/v1/plans/${plant.org}/${THIS_YEAR}`, plant);
  assert.deepEqual(plan.lines.map((l) => [l.code, l.generate_g, l.treat_onsite_g, l.transfers.map((t) => [t.receiver, t.quantity_g])]),
    [[CODE, 10_000_000, 0, [[planned.org, 6_000_000]]]]);
  state.plan = plan.seq;

  // Opening the form again shows the plan in force, ready to change.
  await menu(page, '年度管理计划');
  await page.getByTestId('plan-existing').getByText(`账本第 ${plan.seq} 条`).waitFor();
  assert.equal(await page.getByTestId('plan-generate-1').inputValue(), '10');
  await page.guard.check();
  await page.context().close();
});

test('generator: sees planned against actual, the excess and the unplanned receiver marked', async () => {
  need('plan', 'filing the plan');
  // 1 t to the planned receiver (which disposes only 0.9 t of it), 0.5 t to one outside the
  // plan, and 10 t more declared today: 13 t against 10 t planned, beyond the 20% allowed.
  ship(planned, 1_000_000, { received: 1_000_000, disposed: 900_000 });
  state.unplannedManifest = ship(unplanned, 500_000);
  ledger.act(plant, 'waste.declared', { generator: plant.org, code: CODE, quantity_g: 10_000_000, date: today() });

  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await menu(page, '计划执行情况');
  const generated = page.getByRole('table', { name: `${THIS_YEAR} 年计划产生量与实际产生量` });
  const row = generated.getByRole('row').filter({ hasText: CODE });
  for (const text of ['10 吨', '13 吨', '超出计划 20% 以上', '130%']) await see(page, row.getByText(text, { exact: true }));
  const transfers = page.getByRole('table', { name: `${THIS_YEAR} 年计划转移量与实际转移量` });
  const trow = transfers.getByRole('row').filter({ hasText: planned.name });
  for (const text of ['6 吨', '1 吨', '17%']) await see(page, trow.getByText(text, { exact: true }));
  assert.equal(await transfers.getByText(unplanned.name).count(), 0, 'a receiver outside the plan is not a planned row');
  await page.getByTestId('plan-over').getByText('有 1 项实际数量超出计划').waitFor();
  await shot(page, 'plans-plan-status');

  const plan = await ledger.get(`/v1/plans/${plant.org}/${THIS_YEAR}`, plant);
  assert.equal(plan.lines[0].declared_g, 13_000_000);
  assert.equal(plan.lines[0].transfers[0].shipped_g, 1_000_000);
  await page.guard.check();
  await page.context().close();
  state.shipped = true;
});

test('generator: views last month\'s report, downloads the CSV and declares with one click', async () => {
  need('shipped', 'planned against actual');
  const page = await openPage(browser, { acceptDownloads: true });
  await signIn(page, ledger, plant);
  await menu(page, '定期申报');
  await see(page, page.getByRole('table', { name: `${LAST_MONTH_TEXT}危险废物申报表` }));
  await page.getByTestId('report-class').getByText('重点监管').waitFor();
  const row = page.getByRole('row').filter({ hasText: CODE });
  // Opening 0, generated 3 t, nothing treated or transferred in the month, closing 3 t.
  const cells = (await row.locator('td').allInnerTexts()).map((t) => t.trim());
  const cat = await (await fetch(`${ledger.url}/v1/catalogue/codes?category=HW08`)).json();
  const description = cat.codes.find((c) => c.code === CODE).description;
  assert.deepEqual(cells, [CODE, description, '0 吨', '3 吨', '—', '—', '3 吨']);
  const shown = (await page.getByTestId('report-sha256').innerText()).trim();
  const report = await ledger.get(`/v1/reports/declaration?org=${plant.org}&period=${LAST_MONTH}`, plant);
  assert.equal(shown, report.report_sha256, 'the page shows the ledger\'s hash of the report');
  await see(page, page.getByTestId('declaration-status').getByText('未申报', { exact: true }));
  await shot(page, 'plans-declaration-report');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('report-csv').click()]);
  assert.equal(download.suggestedFilename(), `危险废物申报表-${plant.org}-${LAST_MONTH}.csv`);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  assert.ok(csv.startsWith('\ufeff危险废物名称,'), 'UTF-8 with BOM and the 附录C headers');
  const lines = csv.trim().split('\r\n');
  assert.equal(lines.length, 2);
  assert.match(lines[1], new RegExp(`,HW08,${CODE},3\\.000000,`));

  await page.getByTestId('file-declaration').click();
  const filed = page.getByTestId('declaration-filed');
  await filed.getByText(`已申报${LAST_MONTH_TEXT}`).waitFor();
  const seq = Number(/第 (\d+) 条/.exec(await filed.innerText())[1]);
  const entry = await ledger.get(`/v1/entries/${seq}`);
  assert.equal(entry.event.type, 'declaration.filed');
  assert.deepEqual(entry.event.body, { org: plant.org, period: LAST_MONTH, report_sha256: shown });
  await shot(page, 'plans-declaration-filed');

  // A late entry changes last month: 0.2 t more, dated its last day. Confirming over the report
  // still on screen is refused; the page says why and shows the new report.
  ledger.act(plant, 'waste.declared', { generator: plant.org, code: CODE, quantity_g: 200_000, date: LAST_MONTH_END });
  await page.getByTestId('file-declaration').click();
  await see(page, page.getByTestId('report-changed').getByText('申报未被接受'));
  await page.getByRole('row').filter({ hasText: CODE }).getByText('3.2 吨').first().waitFor();
  const fresh = (await page.getByTestId('report-sha256').innerText()).trim();
  assert.notEqual(fresh, shown);
  // The declaration filed over the old report is on record, and said to differ from this one.
  await see(page, page.getByTestId('declaration-status').getByText('当前报表与申报时不同'));
  await shot(page, 'plans-declaration-changed');
  await page.getByTestId('file-declaration').click();
  await page.getByTestId('declaration-filed').getByText(`已申报${LAST_MONTH_TEXT}`).waitFor();
  const entries = (await ledger.get('/v1/entries?from=0&limit=1000')).entries.filter((e) => e.event.type === 'declaration.filed');
  assert.deepEqual(entries.map((e) => e.event.body.report_sha256), [shown, fresh]);
  // A later visit says the period is declared, over the report it shows.
  await go(page, `/declaration?period=${LAST_MONTH}`);
  await see(page, page.getByTestId('declaration-status').getByText('与当前报表一致'));

  // This month has not ended: the report shows, the button waits.
  await go(page, `/declaration?period=${today().slice(0, 7)}`);
  await page.getByText('尚未结束，期满后').first().waitFor();
  assert.equal(await page.getByTestId('file-declaration').isDisabled(), true);
  await page.guard.check();
  await page.context().close();
});

test('regulator: sees the compliance tickets with Chinese labels, apart from waste loss', async () => {
  const manifest = need('unplannedManifest', 'planned against actual');
  const page = await openPage(browser);
  await signIn(page, ledger, ledger.regulator);
  await settle(page);
  await menu(page, '合规问题');
  const counts = page.getByTestId('compliance-counts');
  for (const [label, n] of [['计划外转移', '1'], ['超计划产生', '1'], ['利用处置量少于接收量', '1'], ['未备案管理计划', '0'], ['逾期未申报', '0'], ['贮存超能力', '0']]) {
    const fig = counts.getByRole('link').filter({ hasText: label });
    assert.equal((await fig.locator('.value').innerText()).trim(), n, `${label}: ${n}`);
  }
  const table = page.getByRole('table', { name: '合规问题' });
  await see(page, table);
  for (const label of ['计划外转移', '超计划产生', '利用处置量少于接收量', `年度 ${THIS_YEAR}`]) {
    await table.getByText(label, { exact: true }).waitFor();
  }
  assert.equal(await table.getByText('数量短缺').count(), 0, 'no waste-loss kind in the compliance list');
  assert.equal(await page.locator('main').getByText(/unplanned_transfer|plan_exceeded|disposal_short/).count(), 0, 'no English kind names');
  await shot(page, 'plans-compliance');

  // One kind at a time; the unplanned transfer names its manifest.
  await navigation(page, () => counts.getByRole('link').filter({ hasText: '计划外转移' }).click());
  assert.equal(await table.getByRole('row').count(), 2);
  const m = await ledger.get(`/v1/manifests/${manifest}`);
  await table.getByRole('link', { name: m.number }).waitFor();

  const api = (await ledger.get('/v1/tickets?kind=unplanned_transfer')).tickets;
  assert.deepEqual(api.map((t) => [t.subject.manifest, t.quantity_g]), [[manifest, 500_000]]);

  // 问题清单 marks them as 合规事项 and offers them apart in its type filter.
  await menu(page, '问题清单');
  await page.getByRole('table', { name: '问题清单' }).getByText('合规事项 · 自动发现').first().waitFor();
  assert.deepEqual(await page.locator('select[name=kind] optgroup').evaluateAll((gs) => gs.map((g) => g.label)),
    ['不规范处理（自动发现）', '合规事项（自动发现）', '手工立案']);
  await page.guard.check();
  await page.context().close();
});
