// Signing in with a key file: each refusal a user can run into is said in Chinese, with the
// problem's code, on the sign-in page; and where the browser cannot sign at all (plain HTTP
// from an origin that is not this machine), the page says why instead of failing later. Once
// signed in, a page the user left while it loaded never overwrites the one opened after it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Ledger, launch, openPage, signIn, signInRefusal, newOrgId, go } from './lib/harness.mjs';

let ledger;
let browser;
let plant;
let other;
let rotated;
let revokedKey;
let strayKey;

before(async () => {
  ledger = await Ledger.start();
  browser = await launch();
  plant = ledger.register('常州某化工有限公司', ['generator']);
  other = ledger.register('常州某运输有限公司', ['carrier']);
  // An org with two keys, one of which the regulator revokes with the command line.
  rotated = ledger.register('常州某环保科技有限公司', ['receiver']);
  const second = ledger.keygen('rotated-second');
  ledger.regulate('org.key_added', { org: rotated.org, key: second.pub });
  ledger.regulate('org.key_revoked', { org: rotated.org, key: rotated.pub, reason: '密钥文件遗失' });
  revokedKey = rotated.key;
  rotated = { ...rotated, key: second.path, pub: second.pub };
  strayKey = ledger.keygen('never-registered').path;
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

async function refusal(keyFile, org) {
  const page = await openPage(browser);
  try {
    const text = await signInRefusal(page, ledger, keyFile, org);
    assert.equal(await page.getByTestId('who').count(), 0, 'still signed out');
    await page.guard.check();
    return text;
  } finally {
    await page.context().close();
  }
}

test('a file that is not a key is refused at the file field', async () => {
  const notAKey = path.join(ledger.files, 'notes.txt');
  fs.writeFileSync(notAKey, '这不是密钥文件，只是一份说明。\n');
  const text = await refusal(notAKey, plant.org);
  assert.match(text, /不是私钥文件/);
});

test('a key never registered in the ledger is refused as unregistered', async () => {
  const text = await refusal(strayKey, plant.org);
  assert.match(text, /未在账本中登记/);
  assert.match(text, /token_key/);
});

test("another organisation's key is refused as not the org's", async () => {
  const text = await refusal(other.key, plant.org);
  assert.match(text, /另一个单位/);
  assert.match(text, /token_key/);
});

test('a revoked key is refused as revoked, while the org signs in with its live key', async () => {
  const text = await refusal(revokedKey, rotated.org);
  assert.match(text, /已被吊销/);
  assert.match(text, /token_key/);
  const page = await openPage(browser);
  await signIn(page, ledger, rotated);
  await page.guard.check();
  await page.context().close();
});

test('an organisation the ledger does not know is refused', async () => {
  const unknown = newOrgId();
  // The key is a live key, of another org: the ledger says so rather than letting it in.
  const text = await refusal(plant.key, unknown);
  assert.match(text, /不是所填单位的密钥|没有这个单位/);
  assert.match(text, /token_key|not_found/);
  // A malformed code never reaches the ledger: the field says what is wrong.
  const malformed = await refusal(plant.key, '91320404MA1MXR0C0');
  assert.match(malformed, /18 位/);
});

test('over plain HTTP from a name that is not this machine, the page says why it cannot sign', async () => {
  // console.test resolves to the service, but http://console.test is not a secure context,
  // so WebCrypto is not there: the page must say so and offer no key field.
  const insecure = await launch([`--host-resolver-rules=MAP console.test 127.0.0.1`]);
  try {
    const page = await openPage(insecure);
    await page.goto(`http://console.test:${ledger.port}/`);
    assert.equal(await page.evaluate(() => window.isSecureContext), false, 'the origin is not potentially trustworthy');
    const notice = page.getByRole('alert');
    await notice.waitFor();
    const text = await notice.innerText();
    assert.match(text, /无法在浏览器中签名/);
    assert.match(text, /HTTPS/);
    assert.match(text, /127\.0\.0\.1|localhost/);
    assert.equal(await page.getByLabel('密钥文件').count(), 0, 'no key field where the key could not be used');
    await page.guard.check();
  } finally {
    await insecure.close();
  }
});

test('a page left while it still loads never overwrites the page opened after it', async () => {
  const page = await openPage(browser);
  await signIn(page, ledger, plant);
  await go(page, '/tickets');
  // The code of the figures page is held back until the user has moved on to another page,
  // as a slow network would.
  const figures = '/assets/app/pages/generator/figures.js';
  let release;
  const released = new Promise((r) => { release = r; });
  let held;
  const heldNow = new Promise((r) => { held = r; });
  await page.route((url) => url.pathname === figures, async (route) => {
    held();
    await released;
    await route.continue();
  });
  await page.evaluate(() => { location.hash = '#/figures'; });
  await heldNow;
  await go(page, '/declare');
  const declare = await page.locator('#main').innerText();
  const answered = page.waitForResponse((res) => new URL(res.url()).pathname === figures);
  release();
  await answered;
  // Whatever the late page would do, it has had the time to do it.
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => location.hash), '#/declare');
  assert.equal(await page.locator('#main h1').innerText(), '申报登记');
  assert.equal(await page.locator('#main').innerText(), declare, 'the page opened last is still the one shown');
  await page.guard.check();
  await page.context().close();
});
