// How long the console's 总览 (regulator overview) takes to appear, in a real headless Chromium,
// on a given ledger: the figure should not depend on the ledger's size, since the page reads
// only GET /v1/stats/disposal (answered from the sums the service maintains) and a few registry
// and catalogue lists, and scans no history in the browser.
//
//   node benches/console_overview.mjs --bin target/release/hwledger --db sqlite://PATH \
//     --ledger-key PATH.ledger.pem --regulator-key PATH.regulator.pem \
//     [--origin bench.hwledger.local] [--org 11320404MB0000001Y] [--runs 10] [--web-dir web]
//
// It starts `hwledger serve` on the database on a free port of 127.0.0.1 (start-up replays the
// ledger, which takes minutes at millions of entries), waits for /healthz and for the sweep at
// start-up to finish (the ledger size steady for 5 s), signs in as the regulator with its key
// file as a person would, lets the overview load once (the warm-up: modules, the first read
// token), then `--runs` times goes to an empty route and back to `#/overview`, timing in the
// page from the hash change to the first animation frame in which the overview is complete:
// every section has its answer (`data-ready="all"` on the head), the big rate figure is there
// and the trend chart has its canvas. The time to the big rate figure alone is reported too.
// Every request the page makes is counted; a run whose page shows an error fails the
// measurement. Prints a Markdown table; the server is stopped at the end.
//
// The web console is taken from the binary, or from `--web-dir` (the folder `web`); Playwright
// from web/node_modules (`npm ci --prefix web`), the browser from `--chromium`
// (default /usr/bin/chromium, or HWLEDGER_CHROMIUM).

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: opt } = parseArgs({
  options: {
    bin: { type: 'string', default: path.join(HERE, '../target/release/hwledger') },
    db: { type: 'string' },
    'ledger-key': { type: 'string' },
    'regulator-key': { type: 'string' },
    origin: { type: 'string', default: 'bench.hwledger.local' },
    org: { type: 'string', default: '11320404MB0000001Y' },
    runs: { type: 'string', default: '10' },
    'web-dir': { type: 'string' },
    chromium: { type: 'string', default: process.env.HWLEDGER_CHROMIUM || '/usr/bin/chromium' },
    'start-timeout': { type: 'string', default: '3600' },
    'run-timeout': { type: 'string', default: '120' },
    label: { type: 'string', default: '' },
    screenshot: { type: 'string' },
    'ready-selector': { type: 'string', default: '.overview-head[data-ready="all"]' },
    'rate-selector': { type: 'string', default: '.figure.big.rate .value' },
    'chart-selector': { type: 'string', default: '.trend-chart canvas' },
  },
});

function need(name) {
  if (!opt[name]) {
    console.error(`--${name} is required (see the head of ${path.basename(fileURLToPath(import.meta.url))})`);
    process.exit(2);
  }
  return opt[name];
}

const dbArg = need('db');
const DB = dbArg.includes('://') ? dbArg : `sqlite://${path.resolve(dbArg)}`;
const LEDGER_KEY = path.resolve(need('ledger-key'));
const REGULATOR_KEY = path.resolve(need('regulator-key'));
const BIN = path.resolve(opt.bin);
const RUNS = Number(opt.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a positive whole number');

const { chromium } = await import(path.join(HERE, '../web/node_modules/playwright-core/index.mjs')).catch((e) => {
  throw new Error(`Playwright is not installed in web/node_modules (npm ci --prefix web): ${e.message}`);
});

function freePort() {
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

/** `hwledger serve` on the database; resolves once /healthz answers. */
async function serve() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-overview-'));
  const logPath = path.join(dir, 'serve.log');
  const log = fs.openSync(logPath, 'w');
  const args = ['serve', '--db', DB, '--listen', `127.0.0.1:${port}`, '--origin', opt.origin,
    '--ledger-key', LEDGER_KEY, '--regulator-key', REGULATOR_KEY, '--regulator-org', opt.org];
  if (opt['web-dir']) args.push('--web-dir', path.resolve(opt['web-dir']));
  const started = performance.now();
  // Its own working directory: serve never writes beside the database or the keys.
  const child = spawn(BIN, args, { cwd: dir, stdio: ['ignore', log, log], env: { ...process.env, RUST_LOG: 'warn' } });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = signal || code;
  });
  child.on('error', (e) => {
    exited = e.message;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = started + Number(opt['start-timeout']) * 1000;
  for (;;) {
    if (exited !== null) {
      throw new Error(`hwledger serve exited (${exited}):\n${fs.readFileSync(logPath, 'utf8').slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) {
        const health = await res.json();
        return { child, url, logPath, startS: (performance.now() - started) / 1000, size: health.size };
      }
    } catch {
      /* not listening yet */
    }
    if (performance.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`hwledger serve did not answer /healthz within ${opt['start-timeout']} s`);
    }
    await sleep(250);
  }
}

const running = (child) => child.exitCode === null && child.signalCode === null;

async function stop(server) {
  if (!server || !running(server.child)) return;
  const gone = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  // The timer must not keep the process alive once the server is gone.
  await Promise.race([gone, new Promise((r) => setTimeout(r, 60_000).unref())]);
  if (running(server.child)) server.child.kill('SIGKILL');
  else fs.rmSync(path.dirname(server.logPath), { recursive: true, force: true });
}

/**
 * Goes to `#/overview` from an empty route and times it in the page: `headline` when the big
 * rate figure is in the DOM, `complete` at the first animation frame in which every condition
 * holds (the frame that paints it).
 */
function timeOverview(page) {
  return page.evaluate(({ ready, rate, chart, timeoutMs }) => new Promise((resolve, reject) => {
    const main = document.getElementById('main');
    const t0 = performance.now();
    let headline = null;
    const complete = () => document.querySelector(ready) && document.querySelector(rate)
      && document.querySelector(chart);
    const tick = () => {
      const now = performance.now();
      if (headline === null && document.querySelector(rate)) headline = now - t0;
      if (complete()) {
        const errors = [...main.querySelectorAll('.notice-error')].map((e) => e.innerText.trim());
        resolve({ complete: now - t0, headline, errors });
        return;
      }
      if (now - t0 > timeoutMs) {
        reject(new Error(`the overview was not complete after ${timeoutMs} ms: ${main.innerText.slice(0, 500)}`));
        return;
      }
      requestAnimationFrame(tick);
    };
    location.hash = '#/overview';
    requestAnimationFrame(tick);
  }), {
    ready: opt['ready-selector'],
    rate: opt['rate-selector'],
    chart: opt['chart-selector'],
    timeoutMs: Number(opt['run-timeout']) * 1000,
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ms = (x) => x.toFixed(0);

let server;
let browser;
try {
  console.error(`starting hwledger serve on ${DB} …`);
  server = await serve();
  console.error(`serving ${server.size} entries at ${server.url} after ${server.startS.toFixed(1)} s`);
  // The sweep at start-up opens the tickets of every deadline passed since the ledger was last
  // served, in one write; the measurement starts once the ledger has stopped growing.
  for (let still = 0; still < 5;) {
    await sleep(1000);
    const size = (await (await fetch(`${server.url}/healthz`)).json()).size;
    still = size === server.size ? still + 1 : 0;
    server.size = size;
  }
  console.error(`the ledger holds ${server.size} entries and has not grown for 5 s`);
  browser = await chromium.launch({ executablePath: opt.chromium, args: ['--no-sandbox'] });
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Requests of the current view, by path, and how many have no answer yet.
  let requests = [];
  let inFlight = 0;
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith('/v1/')) return;
    requests.push(u.pathname);
    inFlight += 1;
    const done = () => {
      inFlight -= 1;
    };
    r.response().then(done, done);
  });

  await page.goto(`${server.url}/#/`);
  await page.getByLabel('密钥文件').setInputFiles(REGULATOR_KEY);
  await page.getByLabel('统一社会信用代码').fill(opt.org);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForFunction((org) => {
    const who = document.querySelector('[data-testid=who]');
    return who && who.textContent.includes(org);
  }, opt.org, { timeout: 120_000 });

  const away = async () => {
    await page.evaluate(() => {
      location.hash = '#/-';
    });
    await page.getByRole('heading', { name: '未找到' }).waitFor();
    requests = [];
  };

  // Warm-up: the overview's modules and the first read token.
  await away();
  const warm = await timeOverview(page);
  if (warm.errors.length) throw new Error(`the overview shows errors: ${warm.errors.join(' | ')}`);
  console.error(`warm-up: complete in ${ms(warm.complete)} ms, ${requests.length} API requests`);

  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    await away();
    const r = await timeOverview(page);
    // Every section has its answer, so nothing should be left; a request still out would be
    // counted in the next view.
    for (let t = 0; inFlight > 0 && t < 100; t++) await sleep(50);
    const stats = requests.filter((p) => p === '/v1/stats/disposal').length;
    const other = requests.length - stats;
    if (r.errors.length) throw new Error(`run ${i + 1}: the overview shows errors: ${r.errors.join(' | ')}`);
    runs.push({ ...r, stats, other, paths: [...new Set(requests)] });
    console.error(`run ${i + 1}: headline ${ms(r.headline)} ms, complete ${ms(r.complete)} ms, ${stats} stats requests, ${other} other`);
  }
  if (pageErrors.length) throw new Error(`script errors in the page: ${pageErrors.join(' | ')}`);
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });

  const complete = runs.map((r) => r.complete);
  const headline = runs.map((r) => r.headline);
  const statsCounts = [...new Set(runs.map((r) => r.stats))].join('/');
  const otherCounts = [...new Set(runs.map((r) => r.other))].join('/');
  const otherPaths = [...new Set(runs.flatMap((r) => r.paths))].filter((p) => p !== '/v1/stats/disposal');
  let version = '';
  try {
    version = execFileSync(BIN, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* older binaries have no --version */
  }
  console.log(`\n${opt.label ? opt.label + ': ' : ''}${server.size.toLocaleString('en')} entries (${DB}); ` +
    `\`hwledger serve\` answered /healthz after ${server.startS.toFixed(1)} s; Chromium ${browser.version()}` +
    `${version ? `; ${version}` : ''}; ${RUNS} runs after one warm-up, 1366×768.\n`);
  console.log('| ledger entries | runs | big rate figure: median ms | complete: median ms | min ms | max ms | stats requests per view | other requests per view |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  console.log(`| ${server.size.toLocaleString('en')} | ${RUNS} | ${ms(median(headline))} | **${ms(median(complete))}** | ` +
    `${ms(Math.min(...complete))} | ${ms(Math.max(...complete))} | ${statsCounts} | ${otherCounts} (${otherPaths.map((p) => `\`${p}\``).join(', ')}) |`);
} finally {
  await browser?.close().catch(() => {});
  await stop(server);
}
