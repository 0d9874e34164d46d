// What every browser test needs: its own `hwledger serve` in a temporary folder, the command
// line to set up organisations and read the API as they would, headless Chromium driven by
// playwright-core, and checks that fail on anything a user would notice going wrong (a dialog,
// a script error, a Content-Security-Policy violation, a response without the policy).
//
// Environment (tests/browser.rs sets the first; the rest have defaults):
//   HWLEDGER_BIN          the hwledger binary          (default target/debug/hwledger)
//   HWLEDGER_CHROMIUM     the browser                  (default /usr/bin/chromium)
//   HWLEDGER_SCREENSHOTS  where screenshots go         (default target/browser-screenshots)
//   HWLEDGER_WEB_DIR      serve the console from this folder instead of the binary's copy

import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.HWLEDGER_BIN || path.join(REPO, 'target/debug/hwledger');
export const CHROMIUM = process.env.HWLEDGER_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.HWLEDGER_SCREENSHOTS || path.join(REPO, 'target/browser-screenshots');
export const REGULATOR_ORG = '11320404MB0000001Y';
export const ORIGIN = 'hwledger.local';

const { chromium } = await import(path.join(REPO, 'web/node_modules/playwright-core/index.mjs'));

// Short waits: a control that is not there after this long is a failure, not a slow machine.
export const ACTION_TIMEOUT_MS = 15_000;

/** The CSP the service sends (src/api/web.rs); every response must carry exactly this. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** The 18-character unified social credit code for a 17-character prefix (GB 32100-2015). */
export function uscc(prefix) {
  assert.equal(prefix.length, 17, `a USCC prefix has 17 characters: ${prefix}`);
  let sum = 0;
  let w = 1;
  for (const c of prefix) {
    const v = USCC_CHARS.indexOf(c);
    assert.ok(v >= 0, `not a USCC character: ${c}`);
    sum += v * w;
    w = (w * 3) % 31;
  }
  return prefix + USCC_CHARS[(31 - (sum % 31)) % 31];
}

let orgCounter = Math.floor(Math.random() * 9_000_000);
/** A fresh, valid enterprise id (91…), different from every other one this process made. */
export function newOrgId() {
  orgCounter += 1;
  return uscc(`91320404MA${String(orgCounter).padStart(7, '0')}`);
}

export function sha256Hex(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

export function today() {
  // China Standard Time, as every date rule of the ledger.
  return new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
}

export function addDays(date, days) {
  const d = new Date(date + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A running `hwledger serve` in its own temporary folder, and the command line against it.
 * The genesis regulator's key is `hwledger-keys/regulator.pem` there.
 */
export class Ledger {
  static async start({ maxBackdate, complianceFrom } = {}) {
    if (!fs.existsSync(BIN)) {
      throw new Error(`the hwledger binary is not at ${BIN}: run the tests with cargo test --test browser, or set HWLEDGER_BIN`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hwledger-browser-'));
    const port = await freePort();
    const args = ['serve', '--listen', `127.0.0.1:${port}`];
    if (maxBackdate) args.push('--max-backdate', maxBackdate);
    if (complianceFrom) args.push('--compliance-from', complianceFrom);
    if (process.env.HWLEDGER_WEB_DIR) args.push('--web-dir', path.resolve(process.env.HWLEDGER_WEB_DIR));
    const log = fs.openSync(path.join(dir, 'serve.log'), 'a');
    const child = spawn(BIN, args, { cwd: dir, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const ledger = new Ledger(dir, port, child);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`hwledger serve exited (${child.exitCode}):\n${ledger.log()}`);
      }
      try {
        const res = await fetch(`${ledger.url}/healthz`);
        if (res.ok) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        await ledger.stop();
        throw new Error(`hwledger serve did not answer within 30 s:\n${ledger.log()}`);
      }
      await sleep(100);
    }
    ledger.regulator = {
      org: REGULATOR_ORG,
      key: path.join(dir, 'hwledger-keys/regulator.pem'),
      name: '示例生态环境局',
    };
    return ledger;
  }

  constructor(dir, port, child) {
    this.dir = dir;
    this.port = port;
    this.child = child;
    this.url = `http://127.0.0.1:${port}`;
    this.files = path.join(dir, 'files');
    fs.mkdirSync(this.files, { recursive: true });
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, 'serve.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  /** Stops the service (SIGTERM, then SIGKILL after 10 s) and removes its folder. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        this.child.kill('SIGKILL');
        await exited;
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs `hwledger ARGS…` in the service's folder; throws with its output when it fails. */
  cli(args) {
    try {
      return execFileSync(BIN, args, { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = new Error(`hwledger ${args.join(' ')} failed:\n${e.stdout || ''}${e.stderr || ''}`);
      err.stdout = e.stdout;
      throw err;
    }
  }

  /** A new key file under files/; returns {path, pub}. */
  keygen(name) {
    const file = path.join(this.files, `${name}.pem`);
    const pub = this.cli(['keygen', '--out', file]).trim();
    assert.match(pub, /^[0-9a-f]{64}$/);
    return { path: file, pub };
  }

  /** Signs `event` ({type, actor, body, at?}) with `key` and submits it; the recorded entry. */
  submit(key, event) {
    const file = path.join(this.files, `event-${randomUUID()}.json`);
    fs.writeFileSync(file, JSON.stringify(event));
    return JSON.parse(this.cli(['submit', '--key', key, '--url', this.url, file]));
  }

  /** As the genesis regulator. */
  regulate(type, body, at) {
    return this.submit(this.regulator.key, { type, actor: REGULATOR_ORG, body, ...(at ? { at } : {}) });
  }

  /** Registers an organisation with a fresh key; {org, name, roles, key, pub}. */
  register(name, roles, { org = newOrgId(), keyName } = {}) {
    const k = this.keygen(keyName || `${roles.join('-')}-${org}`);
    this.regulate('org.registered', { org, name, region: '320404', roles, keys: [k.pub] });
    return { org, name, roles, key: k.path, pub: k.pub };
  }

  /** Issues a licence covering `codes` for utilise and dispose, valid this year and next. */
  license(holder, codes = ['HW08'], capacity_g = 1_000_000_000) {
    const license = `JS${holder.org.slice(-8)}${Math.floor(Math.random() * 1e6)}`;
    this.regulate('license.issued', {
      license,
      holder: holder.org,
      capacity_g,
      valid_from: addDays(today(), -400),
      valid_until: addDays(today(), 700),
      scopes: [{ codes, activities: ['collect', 'store', 'utilize', 'dispose'] }],
    });
    return license;
  }

  /** Acts as `party` (from register): signs with its key. */
  act(party, type, body, at) {
    return this.submit(party.key, { type, actor: party.org, body, ...(at ? { at } : {}) });
  }

  /** A read token for `party` ({org, key}), minted by `hwledger token`. */
  token(party) {
    return this.cli(['token', '--key', party.key, '--org', party.org, '--origin', ORIGIN]).trim();
  }

  /** GET `apiPath` as `party` (the regulator by default); the JSON, or throws with the problem. */
  async get(apiPath, party = this.regulator) {
    const res = await fetch(this.url + apiPath, { headers: { authorization: `Bearer ${this.token(party)}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`GET ${apiPath}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }
}

/** Headless Chromium (Debian's), with extra command-line switches if given. */
export async function launch(args = []) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium fonts-noto-cjk, or set HWLEDGER_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', ...args] });
}

/**
 * A new page (in its own context: nothing shared between users) with the guards attached.
 * `page.guard.check()` fails on a dialog, an uncaught script error, a CSP violation or a
 * response without the CSP; call it at the end of each test.
 */
export async function openPage(browser, { viewport = { width: 1366, height: 768 }, acceptDownloads = false } = {}) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  const guard = { dialogs: [], errors: [], violations: [], responses: [], missingCsp: [] };
  page.on('dialog', async (d) => {
    guard.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => guard.errors.push(String(e && e.stack ? e.stack : e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) guard.violations.push(m.text());
  });
  page.on('response', (res) => {
    if (!res.url().startsWith('http')) return;
    guard.responses.push(res.url());
    const csp = res.headers()['content-security-policy'];
    if (csp !== CSP) guard.missingCsp.push(`${res.status()} ${res.url()}: ${csp === undefined ? 'no CSP' : csp}`);
  });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile || ''}:${e.lineNumber || ''}`);
    });
  });
  guard.check = async () => {
    let inPage = [];
    try {
      inPage = await page.evaluate(() => window.__cspViolations || []);
    } catch {
      /* the page is gone; the console listener still saw the violations */
    }
    assert.deepEqual(guard.dialogs, [], 'no dialog may open (an injected script would)');
    assert.deepEqual(guard.errors, [], 'no script error');
    assert.deepEqual([...guard.violations, ...inPage], [], 'nothing the page does breaks its Content-Security-Policy');
    assert.deepEqual(guard.missingCsp, [], 'every response carries the Content-Security-Policy');
  };
  page.guard = guard;
  return page;
}

/** Signs in through the page with a key file; waits for the top bar to show the org. */
export async function signIn(page, ledger, party, { route = '' } = {}) {
  await page.goto(`${ledger.url}/#/${route}`);
  await page.getByLabel('密钥文件').setInputFiles(party.key);
  await page.getByLabel('统一社会信用代码').fill(party.org);
  await page.getByRole('button', { name: '登录' }).click();
  // The code may be hidden on a phone-wide screen; the name and code are in the top bar either way.
  await page.waitForFunction((org) => {
    const who = document.querySelector('[data-testid=who]');
    return who && who.textContent.includes(org);
  }, party.org);
}

/** Tries to sign in and returns the page's refusal text (the alert or the field error). */
export async function signInRefusal(page, ledger, keyFile, org) {
  await page.goto(`${ledger.url}/#/`);
  await page.getByLabel('密钥文件').setInputFiles(keyFile);
  await page.getByLabel('统一社会信用代码').fill(org);
  await page.getByRole('button', { name: '登录' }).click();
  const refusal = page.locator('.notice-error, .field.has-error .field-error').first();
  await refusal.waitFor();
  return (await refusal.innerText()).trim();
}

/** Opens a route of the signed-in console and waits for the page to finish loading. */
export async function go(page, route) {
  const here = await page.evaluate(() => location.hash);
  if (here === '#' + route) {
    await settle(page);
    return;
  }
  await navigation(page, () => page.evaluate((r) => {
    location.hash = '#' + r;
  }, route));
}

/**
 * Runs `act` (a click on a link, a hash change) and waits until the router has replaced the
 * page and the new one has finished loading. A marker left in the old page tells them apart:
 * the router's hash change runs after `act` returns, so "no 正在加载" alone could still be the
 * old page.
 */
export async function navigation(page, act) {
  await page.evaluate(() => {
    const marker = document.createElement('span');
    marker.hidden = true;
    marker.setAttribute('data-old-page', '');
    document.getElementById('main').append(marker);
  });
  await act();
  await page.waitForFunction(() => !document.querySelector('#main [data-old-page]'), null, { timeout: ACTION_TIMEOUT_MS });
  await settle(page);
}

/**
 * Waits until the main area shows a page and no "正在加载……" placeholder is left in it (the
 * router empties the area while a page fetches what it shows first).
 */
/**
 * The `need` of a test file whose steps build on each other through `state`: the value an
 * earlier step left under `key`, failing with the step's name when that step did not run.
 */
export function needs(state) {
  return (key, step) => {
    assert.ok(state[key], `needs the earlier step: ${step}`);
    return state[key];
  };
}

/** Follows the console's navigation link named `title`. */
export async function menu(page, title) {
  await navigation(page, () => page.getByRole('navigation').getByRole('link', { name: title, exact: true }).click());
}

export async function settle(page) {
  await page.waitForFunction(() => {
    const main = document.getElementById('main');
    return main && main.innerText.trim() !== '' && !/正在加载/.test(main.innerText);
  }, null, { timeout: ACTION_TIMEOUT_MS });
}

/** A full-page screenshot in the screenshots folder, named `name`.png. */
export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The document does not scroll sideways. */
export async function assertNoHorizontalOverflow(page, what) {
  const m = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    wide: [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
      .filter((el) => !el.closest('.table-wrap') || el.classList.contains('table-wrap'))
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : ''}`),
  }));
  assert.ok(m.scroll <= m.inner,
    `${what}: the page scrolls sideways (scrollWidth ${m.scroll} > innerWidth ${m.inner}); too wide: ${m.wide.join(', ')}`);
}

/**
 * Every visible, enabled interactive control can be reached with Tab from the top of the page.
 * Returns how many controls there were.
 */
export async function assertTabReachesEverything(page, what) {
  const count = await page.evaluate(() => {
    const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
    let i = 0;
    for (const el of document.querySelectorAll('[data-tab-check]')) el.removeAttribute('data-tab-check');
    for (const el of document.querySelectorAll(sel)) {
      if (el.disabled || el.closest('[inert]')) continue;
      if (el.tagName === 'SUMMARY' && el.parentElement.tagName !== 'DETAILS') continue;
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      const visible = (box.width > 0 || box.height > 0) && style.visibility !== 'hidden';
      // A visually hidden file input behind a styled label still takes focus: keep it.
      if (!visible && !(el.type === 'file' && el.offsetParent !== null)) continue;
      el.setAttribute('data-tab-check', String(i++));
    }
    document.activeElement && document.activeElement.blur && document.activeElement.blur();
    window.scrollTo(0, 0);
    return i;
  });
  // The page records what takes the focus; Tab is pressed in batches between looks.
  await page.evaluate(() => {
    window.__tabSeen = new Set();
    window.__tabListener = (e) => {
      const id = e.target && e.target.getAttribute && e.target.getAttribute('data-tab-check');
      if (id !== null && id !== undefined) window.__tabSeen.add(id);
    };
    document.addEventListener('focusin', window.__tabListener, true);
  });
  let seen = new Set();
  const limit = count * 2 + 20;
  for (let pressed = 0; pressed < limit && seen.size < count; pressed += 10) {
    for (let i = 0; i < 10; i++) await page.keyboard.press('Tab');
    seen = new Set(await page.evaluate(() => [...window.__tabSeen]));
  }
  await page.evaluate(() => document.removeEventListener('focusin', window.__tabListener, true));
  if (seen.size < count) {
    const missed = await page.evaluate((seenIds) => [...document.querySelectorAll('[data-tab-check]')]
      .filter((el) => !seenIds.includes(el.getAttribute('data-tab-check')))
      .slice(0, 8)
      .map((el) => `<${el.tagName.toLowerCase()}> ${(el.innerText || el.value || el.getAttribute('aria-label') || el.id || '').trim().slice(0, 30)}`), [...seen]);
    assert.fail(`${what}: ${count - seen.size} of ${count} controls cannot be reached with Tab: ${missed.join('; ')}`);
  }
  return count;
}

/** The shared test vectors folder: HWLEDGER_SHARED_DATA, else ../shared/data beside the project. */
export function sharedData() {
  const dir = process.env.HWLEDGER_SHARED_DATA
    ? path.resolve(process.env.HWLEDGER_SHARED_DATA)
    : path.resolve(REPO, '../shared/data');
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`test vectors not found at ${dir}: set HWLEDGER_SHARED_DATA to the folder holding jcs-vectors and rfc6962-vectors`);
  }
  return dir;
}
