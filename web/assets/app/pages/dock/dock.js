// The dock view (扫码作业): the carrier at loading and the receiver at the gate, on a phone.
// Find a manifest by the QR code printed on it (camera or a photo) or by its 14-digit number,
// see it at a glance, and sign the one step that is due. One task per screen, each a route:
//   #/dock                    find, and the list of manifests waiting for this org
//   #/dock?n=<number>         the manifest and the steps this org may sign now
//   #/dock?n=<number>&do=<k>  one step's form (k: pickup, receive, reject, dispose, store, cancel)
//   #/dock?n=<number>&done=<seq>&did=<k>   the outcome, with 下一张 (&labels=1: a storing packed
//                             lines in new containers, whose labels it links to)
//   #/dock?scan=1             find, with the camera started (下一张 after a scan)
// so that the phone's back button walks back through the steps.

import { h, mount, field, fieldError, notice, link } from '../../core/dom.js';
import { Api, ProblemError } from '../../core/api.js';
import { errorNotice, heading, proofHref } from '../../core/ui.js';
import { formatQuantity } from '../../core/units.js';
import { formatTime } from '../../core/time.js';
import { MANIFEST_STATUS, label } from '../../core/i18n.js';
import {
  availableActions, nextStep, loadMethods, pickupForm, receiveForm, rejectForm, disposeForm, storeForm, cancelForm,
} from '../shared/actions.js';

const NUMBER_RE = /^\d{14}$/;
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

// The forms of the steps, by the keys availableActions() uses. availableActions decides which
// steps the org may take (by its part in the manifest and the status); the forms come from the
// same module as on the manifest page, so a rule of a step lives in one place.
const FORMS = {
  pickup: pickupForm, receive: receiveForm, reject: rejectForm, dispose: disposeForm, store: storeForm, cancel: cancelForm,
};

const DONE_TEXT = {
  pickup: '已起运',
  receive: '已签收',
  reject: '已拒收',
  dispose: '已利用/处置',
  store: '已入库贮存',
  cancel: '已作废',
};

// How the last manifest was found: 下一张 offers the same way again (the camera restarts
// after a scan; the number field takes the focus after typing).
let lastWay = 'typed';

// ---------------------------------------------------------------------------------------------
// Reference data, fetched once per page load.

const orgNames = new Map();
function orgName(api, org) {
  if (!org) return Promise.resolve('—');
  if (!orgNames.has(org)) {
    orgNames.set(org, api.get(`/v1/orgs/${encodeURIComponent(org)}`)
      .then((o) => o.name)
      .catch(() => {
        orgNames.delete(org);
        return org;
      }));
  }
  return orgNames.get(org);
}

let cataloguePromise = null;
function loadCatalogue() {
  if (!cataloguePromise) {
    cataloguePromise = Api.public('/v1/catalogue/codes')
      .then((r) => new Map(r.codes.map((c) => [c.code, c])))
      // The descriptions only help; a manifest reads fine with codes alone.
      .catch(() => {
        cataloguePromise = null;
        return new Map();
      });
  }
  return cataloguePromise;
}

let ledgerPromise = null;
function loadShortfallBp() {
  if (!ledgerPromise) {
    ledgerPromise = Api.public('/v1/ledger').catch(() => {
      ledgerPromise = null;
      return null;
    });
  }
  return ledgerPromise.then((l) => (l && l.limits ? l.limits.shortfall_bp : undefined));
}

// ---------------------------------------------------------------------------------------------
// Reading what a QR code or the number field holds.

/**
 * The manifest a scanned or typed text names: a 14-digit number (alone, or inside a longer text
 * such as a link), else a manifest UUID. Null when it names none.
 */
export function manifestRef(text) {
  const s = String(text || '').trim();
  const compact = s.replace(/[\s-]/g, '');
  if (NUMBER_RE.test(compact)) return compact;
  const inside = /(?:^|\D)(\d{14})(?!\d)/.exec(s);
  if (inside) return inside[1];
  const uuid = UUID_RE.exec(s);
  return uuid ? uuid[0].toLowerCase() : null;
}

/** Decodes a QR code in the pixels of `source` drawn at most `max` pixels on its longer side. */
function decodeFrom(source, width, height, canvas, max, inversion) {
  const scale = Math.min(1, max / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const hgt = Math.max(1, Math.round(height * scale));
  canvas.width = w;
  canvas.height = hgt;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(source, 0, 0, w, hgt);
  const img = g.getImageData(0, 0, w, hgt);
  const found = window.jsQR(img.data, w, hgt, { inversionAttempts: inversion });
  return found ? found.data : null;
}

/** The text of a QR code in an image file, or null. Tries a small copy first (phone photos are large). */
async function decodeFile(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('无法读取该图片，请选择 JPG 或 PNG 格式的照片。');
  }
  const canvas = document.createElement('canvas');
  try {
    for (const max of [800, 1600, 2400]) {
      const text = decodeFrom(bitmap, bitmap.width, bitmap.height, canvas, max, 'attemptBoth');
      if (text) return text;
      if (max >= Math.max(bitmap.width, bitmap.height)) break;
    }
    return null;
  } finally {
    bitmap.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The camera. One stream at a time; it stops whenever the screen changes or the page is hidden,
// so the light goes off when the user moves on.

let camera = null; // { stream, timer }
// Bumped by every stop, so that a camera granted after the user already moved on or pressed
// 停止扫描 (the permission prompt can take a while) is closed at once instead of left running.
let cameraGeneration = 0;

function stopCamera() {
  cameraGeneration += 1;
  if (!camera) return;
  clearTimeout(camera.timer);
  for (const t of camera.stream.getTracks()) t.stop();
  camera = null;
}
window.addEventListener('hashchange', stopCamera);
document.addEventListener('visibilitychange', () => {
  if (document.hidden) stopCamera();
});

function cameraAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.jsQR);
}

function cameraProblem(e) {
  switch (e && e.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return '未获得摄像头权限。请在浏览器设置中允许本站使用摄像头，或改为选择二维码照片、输入联单编号。';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return '未找到可用的摄像头。请改为选择二维码照片，或输入联单编号。';
    case 'NotReadableError':
    case 'AbortError':
      return '摄像头正被其他应用使用，请关闭后重试，或改为选择二维码照片。';
    default:
      return `无法打开摄像头（${(e && (e.name || e.message)) || e}）。请改为选择二维码照片，或输入联单编号。`;
  }
}

/**
 * Starts the camera into `video` and reads frames until one holds a QR code naming a manifest;
 * then stops and calls `found(ref)`. `say(text)` reports progress and problems.
 */
async function startCamera(video, say, found) {
  stopCamera();
  const generation = cameraGeneration;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    say(cameraProblem(e), true);
    return false;
  }
  if (!video.isConnected || generation !== cameraGeneration) {
    for (const t of stream.getTracks()) t.stop();
    return false;
  }
  camera = { stream, timer: 0 };
  const mine = camera;
  video.srcObject = stream;
  video.muted = true;
  try {
    await video.play();
  } catch {
    /* autoplay is allowed for a muted camera stream; frames are read regardless */
  }
  say('将联单上的二维码放入取景框内，保持稳定。');
  const canvas = document.createElement('canvas');
  let lastWrong = '';
  const tick = () => {
    if (camera !== mine) return;
    if (!video.isConnected) {
      stopCamera();
      return;
    }
    if (video.readyState >= 2 && video.videoWidth) {
      // 720 px on the longer side keeps a phone cool and still reads a code filling a fifth of the frame.
      const text = decodeFrom(video, video.videoWidth, video.videoHeight, canvas, 720, 'dontInvert');
      if (text) {
        const ref = manifestRef(text);
        if (ref) {
          stopCamera();
          if (navigator.vibrate) navigator.vibrate(60);
          found(ref);
          return;
        }
        if (text !== lastWrong) {
          lastWrong = text;
          say(`这个二维码不是联单编号（内容：${text.slice(0, 60)}）。请扫描纸质联单上的二维码。`, true);
        }
      }
    }
    mine.timer = setTimeout(tick, 150);
  };
  tick();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pieces of the screens.

const STATUS_TONE = {
  opened: 'info', picked_up: 'warn', received: 'ok', disposed: 'done', stored: 'done',
  rejected: 'bad', cancelled: 'bad',
};

function statusPill(status) {
  return h(`span.dock-status.dock-status-${STATUS_TONE[status] || 'info'}`, label(MANIFEST_STATUS, status));
}

function totalGrams(manifest) {
  return (manifest.lines || []).reduce((s, l) => s + (l.quantity_g || 0), 0);
}

/** The org's part in the manifest, for the words under the status. */
function partsOf(ctx, m) {
  const me = ctx.session.org;
  const parts = [];
  if (m.generator === me) parts.push('产废单位');
  if (m.carrier === me) parts.push('运输单位');
  if (m.receiver === me) parts.push('接收单位');
  return parts;
}

/** Why there is nothing for this org to sign now, in the words of its part. */
function nothingToDo(ctx, m) {
  const me = ctx.session.org;
  const s = m.status;
  if (m.carrier === me && s === 'picked_up') return '已起运。送达后由接收单位签收。';
  if (m.receiver === me && s === 'opened') return '尚未起运：运输单位起运后才能签收。';
  if (s === 'disposed') return '本联单已办结，无需再操作。';
  if (s === 'stored') return m.receiver === me
    ? '本联单的废物已入库贮存，可在“我的库存”查看，并从“开具联单”转移给有许可证的利用/处置单位。'
    : '本联单的废物已由接收单位入库贮存。';
  if (s === 'rejected') return '本联单已被拒收，废物已退回产废单位库存。';
  if (s === 'cancelled') return '本联单已作废。';
  if (m.carrier === me && s !== 'opened') return '运输单位的操作已完成。';
  return '当前状态下本单位没有需要签名的操作。';
}

const known = (v) => v !== null && v !== undefined;

function lineItem(line, catalogue, methods, shortfallBp) {
  const c = catalogue.get(line.code);
  const facts = [h('span', h('span.muted', '运单 '), h('strong', formatQuantity(line.quantity_g)))];
  if (known(line.received_g)) {
    const short = line.quantity_g - line.received_g;
    facts.push(h('span', h('span.muted', '实收 '), h('strong', formatQuantity(line.received_g)),
      short > 0 ? h(beyond(line.quantity_g, short, shortfallBp) ? 'span.dock-short.dock-short-bad' : 'span.dock-short',
        ` 少 ${formatQuantity(short)}`) : null));
  }
  if (known(line.disposed_g)) {
    const m = line.method && methods.get(line.method);
    facts.push(h('span', h('span.muted', '利用/处置 '), h('strong', formatQuantity(line.disposed_g)),
      line.method ? h('span.dock-method', ` ${line.method}${m ? ' ' + m.name : ''}`) : null));
  }
  if (known(line.stored_g)) {
    facts.push(h('span', h('span.muted', '入库贮存 '), h('strong', formatQuantity(line.stored_g)),
      known(line.lot) ? h('span.muted', ` 批次 ${line.lot}`) : null));
  }
  return h('li.dock-line',
    h('div.dock-line-head',
      h('span.dock-code', line.code),
      c ? h('span.dock-cat', c.category) : null),
    c ? h('div.dock-desc', c.description) : null,
    h('div.dock-qty', facts));
}

/** Whether a shortfall is beyond the weighing tolerance (protocol §6 Chains), as a ticket would say. */
function beyond(quantity, short, shortfallBp) {
  return shortfallBp === undefined || short * 10000 > quantity * shortfallBp;
}

/** The methods by code, or an empty map when they cannot be read (codes still show). */
function methodNames(m) {
  if (!m.lines.some((l) => l.method)) return Promise.resolve(new Map());
  return loadMethods().then((list) => new Map(list.map((x) => [x.code, x])), () => new Map());
}

const STEP_TIMES = [
  ['manifest.opened', '开单时间'],
  ['manifest.picked_up', '起运时间'],
  ['manifest.received', '签收时间'],
  ['manifest.rejected', '拒收时间'],
  ['manifest.disposed', '利用/处置时间'],
  ['manifest.stored', '入库贮存时间'],
  ['manifest.cancelled', '作废时间'],
];

/** The manifest at a glance: number, status, the three parties, the lines. */
async function manifestCard(ctx, m) {
  const [gen, car, rec, catalogue, methods, shortfallBp] = await Promise.all([
    orgName(ctx.api, m.generator), orgName(ctx.api, m.carrier), orgName(ctx.api, m.receiver),
    loadCatalogue(), methodNames(m), loadShortfallBp(),
  ]);
  const times = STEP_TIMES.map(([type, title]) => {
    const e = (m.history || []).find((x) => x.type === type);
    return e ? [h('dt', title), h('dd', formatTime(e.at))] : null;
  });
  const parts = partsOf(ctx, m);
  const next = nextStep(m);
  return h('section.dock-card', { 'aria-label': `联单 ${m.number}` },
    cardTop(m),
    next && next !== label(MANIFEST_STATUS, m.status) ? h('p.dock-next', next) : null,
    h('dl.dock-parties',
      h('dt', '产废单位'), h('dd', gen),
      h('dt', '运输单位'), h('dd', car),
      h('dt', '接收单位'), h('dd', rec),
      m.vehicle ? [h('dt', '车辆号牌'), h('dd.dock-plate', m.vehicle)] : null,
      times,
      parts.length ? [h('dt', '本单位'), h('dd', parts.join('、'))] : null),
    h('h2.dock-h2', `废物 ${m.lines.length} 项，共 ${formatQuantity(totalGrams(m))}`),
    h('ul.dock-lines', m.lines.map((l) => lineItem(l, catalogue, methods, shortfallBp))));
}

function cardTop(m) {
  return h('div.dock-card-top',
    h('div',
      h('div.dock-label', '联单编号'),
      h('div.dock-number', { 'data-testid': 'dock-number' }, m.number)),
    statusPill(m.status));
}

/**
 * Above a step's form: which manifest, from whom to whom, and (where the form does not list
 * them) its lines in one row each, so the form itself stays near the top of a phone screen.
 */
async function slimCard(ctx, m, withLines) {
  const [gen, rec] = await Promise.all([orgName(ctx.api, m.generator), orgName(ctx.api, m.receiver)]);
  return h('section.dock-card.dock-slim', { 'aria-label': `联单 ${m.number}` },
    cardTop(m),
    h('p.dock-route', h('span', gen), h('span.dock-arrow', { 'aria-hidden': 'true' }, ' → '),
      h('span.dock-sr', ' 送往 '), h('span', rec)),
    withLines ? h('ul.dock-slim-lines', m.lines.map((l) => h('li',
      h('span.dock-code', l.code), h('span', formatQuantity(l.quantity_g))))) : null);
}

function backLink(route, text) {
  return h('p.dock-back', link(route, '‹ ', text));
}

/** Fetches the manifest a reference names; a 404 reads in the dock's words. */
async function fetchManifest(ctx, ref) {
  try {
    return await ctx.api.get(`/v1/manifests/${encodeURIComponent(ref)}`);
  } catch (e) {
    if (e instanceof ProblemError && e.status === 404) {
      const err = new Error(`没有找到联单 ${ref}，或本单位不是该联单的产废、运输或接收单位。（not_found）`);
      err.notFound = true;
      throw err;
    }
    throw e;
  }
}

function manifestRoute(ref, extra) {
  return `/dock?n=${encodeURIComponent(ref)}${extra || ''}`;
}

// ---------------------------------------------------------------------------------------------
// Screen 1: find a manifest, and the work waiting.

async function renderFind(ctx) {
  const out = h('div.dock-out', { 'aria-live': 'polite' });
  const say = (text, bad) => mount(out, text ? notice(bad ? 'error' : 'info', text) : null);
  const go = (ref, way) => {
    lastWay = way;
    ctx.navigate(manifestRoute(ref));
  };

  // Scanning with the camera.
  const video = h('video.dock-video', { playsinline: true, muted: true, autoplay: true, 'aria-label': '摄像头取景' });
  const viewfinder = h('div.dock-viewfinder', { hidden: true }, video, h('div.dock-frame', { 'aria-hidden': 'true' }));
  const scanButton = h('button.primary.dock-big', { type: 'button', 'data-testid': 'scan' }, '扫描二维码');
  const stopButton = h('button.dock-big', { type: 'button', hidden: true }, '停止扫描');
  const stop = () => {
    stopCamera();
    viewfinder.hidden = true;
    stopButton.hidden = true;
    scanButton.hidden = false;
  };
  const start = async () => {
    scanButton.hidden = true;
    viewfinder.hidden = false;
    stopButton.hidden = false;
    say('正在打开摄像头……');
    const ok = await startCamera(video, say, (ref) => go(ref, 'camera'));
    if (!ok) {
      viewfinder.hidden = true;
      stopButton.hidden = true;
      scanButton.hidden = false;
    } else {
      stopButton.focus();
    }
  };
  scanButton.addEventListener('click', start);
  stopButton.addEventListener('click', () => {
    stop();
    say('');
    scanButton.focus();
  });

  // A photo of the QR code, for devices without a usable camera.
  const photo = h('input.dock-file-input#dock-photo', { type: 'file', accept: 'image/*', 'data-testid': 'qr-photo' });
  const photoField = h('div.dock-file',
    h('label.dock-big.dock-file-label', { for: 'dock-photo' }, '选择二维码照片'),
    photo,
    h('div.field-error', { role: 'alert', 'aria-live': 'polite' }));
  photo.addEventListener('change', async () => {
    const file = photo.files[0];
    photoField.classList.remove('has-error');
    photoField.querySelector('.field-error').textContent = '';
    if (!file) return;
    stop();
    say('正在识别照片中的二维码……');
    const fail = (text) => {
      say('');
      photoField.classList.add('has-error');
      photoField.querySelector('.field-error').textContent = text;
      photo.value = '';
      photo.focus();
    };
    try {
      if (!window.jsQR) throw new Error('二维码识别组件未能加载，请刷新页面后重试。');
      const text = await decodeFile(file);
      if (!text) return fail('照片中没有识别到二维码。请拍清楚联单上的二维码（完整、不反光），或直接输入联单编号。');
      const ref = manifestRef(text);
      if (!ref) return fail(`照片中的二维码不是联单编号（内容：${text.slice(0, 60)}）。`);
      go(ref, 'file');
    } catch (e) {
      fail(e.message || String(e));
    }
  });

  // Typing the number.
  const number = h('input.dock-number-input', {
    type: 'text', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false', maxlength: 40,
    enterkeyhint: 'search', 'data-testid': 'manifest-number', placeholder: '例如 20253204000123',
  });
  const find = h('button.primary.dock-big', { type: 'submit' }, '查找');
  const form = h('form.dock-find', { novalidate: true },
    field('联单编号', number, '14 位数字，印在纸质联单上。'),
    find);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fieldError(number, '');
    const raw = number.value.trim();
    if (!raw) return fieldError(number, '请输入联单编号');
    const ref = manifestRef(raw);
    if (!ref) {
      const digits = raw.replace(/\D/g, '').length;
      return fieldError(number, `联单编号应为 14 位数字，现在是 ${digits} 位数字${/[^\d\s-]/.test(raw) ? '并含有其他字符' : ''}`);
    }
    go(ref, 'typed');
  });

  const work = h('div.dock-work', h('p.muted', '正在加载待办联单……'));
  const scanArea = cameraAvailable()
    ? [scanButton, viewfinder]
    : [notice('info', '此浏览器不能在本页使用摄像头（需要通过 HTTPS 访问），可选择二维码照片或输入联单编号。')];
  mount(ctx.main,
    h('div.dock.dock-home',
      heading('扫码作业', '扫描纸质联单上的二维码，或输入联单编号。'),
      h('section.dock-panel', { 'aria-label': '查找联单' },
        scanArea, out, cameraAvailable() ? stopButton : null, photoField,
        h('div.dock-or', h('span', '或')),
        form),
      work));

  if (ctx.query.scan === '1' && cameraAvailable()) start();
  else if (ctx.query.focus === 'number') requestAnimationFrame(() => number.focus());
  else if (ctx.query.focus === 'photo') requestAnimationFrame(() => photo.focus());
  renderWork(ctx, work);
}

/** The manifests waiting for this org: to pick up, to receive, to dispose. */
async function renderWork(ctx, el) {
  const me = ctx.session.org;
  const groups = [];
  if (ctx.session.has('carrier')) {
    groups.push({ title: '待起运', hint: '本单位承运、尚未起运', params: { carrier: me, status: 'opened' }, testid: 'work-pickup' });
  }
  if (ctx.session.has('receiver')) {
    groups.push({ title: '待签收', hint: '运输中、送往本单位', params: { receiver: me, status: 'picked_up' }, testid: 'work-receive' });
    groups.push({ title: '待利用/处置或贮存', hint: '本单位已签收，尚未利用/处置或入库贮存', params: { receiver: me, status: 'received' }, testid: 'work-dispose' });
  }
  if (!groups.length) {
    mount(el);
    return;
  }
  try {
    const lists = await Promise.all(groups.map((g) => ctx.api.all('/v1/manifests', g.params, 'manifests', 200)));
    const sections = await Promise.all(groups.map(async (g, i) => {
      const rows = lists[i];
      const names = await Promise.all(rows.map((m) => orgName(ctx.api, m.generator)));
      return h('section.dock-group', { 'data-testid': g.testid, 'aria-label': g.title },
        h('h3', g.title, ' ', h('span.dock-count', String(rows.length))),
        h('p.muted.dock-hint', g.hint),
        rows.length
          ? h('ul.dock-list', rows.map((m, j) => h('li',
            h('a.dock-item', { href: '#' + manifestRoute(m.number) },
              h('span.dock-item-main',
                h('span.dock-item-number', m.number),
                h('span.dock-item-org', names[j])),
              h('span.dock-item-qty', formatQuantity(totalGrams(m))),
              h('span.dock-item-go', { 'aria-hidden': 'true' }, '›')))))
          : h('p.dock-empty', '暂无'));
    }));
    mount(el, h('h2', '待办联单'), sections);
  } catch (e) {
    mount(el, h('h2', '待办联单'), errorNotice(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Screen 2: the manifest and the steps due; screen 3: one step; screen 4: the outcome.

function actionOpts(catalogue, shortfallBp) {
  const opts = { catalogue };
  if (shortfallBp !== undefined) opts.shortfallBp = shortfallBp;
  return opts;
}

function actionButtons(ctx, m, actions, afterDone) {
  if (!actions.length) return h('p.dock-nothing', nothingToDo(ctx, m));
  // On a phone the buttons stay in view at the bottom while the manifest scrolls; after a step
  // 下一张 is the main button, so the next step then sits in the flow.
  return h(afterDone ? 'div.dock-actions' : 'div.dock-actions.dock-sticky', actions.map((a) => {
    const tone = a.key === 'reject' || a.key === 'cancel' ? '.danger' : '.primary';
    return h(`a.dock-action${tone}`, { href: '#' + manifestRoute(m.number, `&do=${a.key}`), 'data-testid': `do-${a.key}` }, a.title);
  }));
}

async function renderManifest(ctx, ref) {
  const body = h('div.dock');
  mount(ctx.main, body);
  mount(body, h('p.muted', '正在查找联单……'));
  let m;
  try {
    m = await fetchManifest(ctx, ref);
  } catch (e) {
    document.title = '扫码作业 · 危险废物转移联单账本';
    mount(body,
      backLink('/dock', '返回查找'),
      h('h1', '未找到联单'),
      e.notFound ? notice('error', h('strong', e.message)) : errorNotice(e),
      h('div.dock-actions', h('a.dock-action.primary', { href: '#/dock' + ({ camera: '?scan=1', file: '?focus=photo' }[lastWay] || '?focus=number') }, '重新查找')));
    return;
  }
  const [catalogue, shortfallBp] = await Promise.all([loadCatalogue(), loadShortfallBp()]);
  const onDone = (entry) => done(ctx, m, ctx.query.do, entry);
  const actions = availableActions(ctx, m, onDone, actionOpts(catalogue, shortfallBp));
  const key = ctx.query.do;
  const doneSeq = ctx.query.done;

  if (key) {
    const a = actions.find((x) => x.key === key);
    if (!a || !FORMS[key]) {
      mount(body,
        backLink(manifestRoute(m.number), '返回联单'),
        heading('不能进行此操作'),
        notice('error', h('strong', `联单当前状态为“${label(MANIFEST_STATUS, m.status)}”，本单位现在不能进行这一步。`)),
        await slimCard(ctx, m, false),
        h('div.dock-actions', h('a.dock-action.primary', { href: '#' + manifestRoute(m.number) }, '查看联单')));
      return;
    }
    const form = FORMS[key](ctx, m, onDone, actionOpts(catalogue, shortfallBp));
    // The form's own title names the step in full (运输单位接收（起运）); on this screen it is the
    // page heading, so it is shown once, as the h1.
    const title = form.querySelector('h3');
    if (title) title.classList.add('dock-sr');
    mount(body,
      backLink(manifestRoute(m.number), '返回联单'),
      heading(title ? title.textContent : a.title),
      await slimCard(ctx, m, key !== 'receive' && key !== 'dispose' && key !== 'store'),
      h('div.dock-form', form));
    requestAnimationFrame(() => {
      const first = form.querySelector('input[type=text], textarea');
      if (first) first.focus();
    });
    return;
  }

  mount(body,
    doneSeq ? successBanner(ctx, m, doneSeq, ctx.query.did, ctx.query.labels === '1') : backLink('/dock', '返回查找'),
    doneSeq ? null : h('h1.dock-sr', `联单 ${m.number}`),
    await manifestCard(ctx, m),
    doneSeq && actions.length ? h('h2', '接着办理') : null,
    actionButtons(ctx, m, actions, Boolean(doneSeq)),
    h('p.dock-more', link(`/manifests/${encodeURIComponent(m.manifest)}`, '查看联单详情与记录')));
  document.title = `联单 ${m.number} · 危险废物转移联单账本`;
  if (doneSeq) {
    document.title = `${DONE_TEXT[ctx.query.did] || '成功'} · 危险废物转移联单账本`;
    requestAnimationFrame(() => {
      const b = body.querySelector('.dock-success');
      if (b) b.focus();
    });
  }
}

/** After a signed step: the outcome screen, replacing the form in the history. */
function done(ctx, m, key, entry) {
  const labels = entry.relabelled && entry.relabelled.length ? '&labels=1' : '';
  location.replace('#' + manifestRoute(m.number, `&done=${encodeURIComponent(entry.seq)}&did=${encodeURIComponent(key || '')}${labels}`));
}

function successBanner(ctx, m, seq, key, labels) {
  const next = h('button.primary.dock-big.dock-next-btn', { type: 'button', 'data-testid': 'next' }, '下一张');
  const again = { camera: '/dock?scan=1', file: '/dock?focus=photo' };
  next.addEventListener('click', () => ctx.navigate(again[lastWay] || '/dock?focus=number'));
  return h('section.dock-success', { tabindex: '-1', role: 'status', 'aria-live': 'polite', 'data-testid': 'success' },
    h('div.dock-success-mark', { 'aria-hidden': 'true' }, '✓'),
    h('h1.dock-success-title', '成功'),
    DONE_TEXT[key] !== label(MANIFEST_STATUS, m.status) ? h('p.dock-success-what', DONE_TEXT[key] || '已记入账本') : null,
    h('p.dock-success-status', '联单状态：', h('strong', label(MANIFEST_STATUS, m.status))),
    h('p.dock-success-seq', '账本序号 ', h('strong', { 'data-testid': 'seq' }, String(seq))),
    next,
    key === 'store' ? h('p.dock-proof',
      labels ? [link(`/labels?lot=${encodeURIComponent(seq)}`, '打印新容器标签'), '　'] : null,
      link('/my-stock', '查看我的库存'), '　', link('/open', '开具后续转移联单')) : null,
    h('p.dock-proof', h('a', { href: proofHref(seq), target: '_blank', rel: 'noopener' }, '查看存证证明')));
}

// ---------------------------------------------------------------------------------------------

export async function render(ctx) {
  stopCamera();
  const ref = ctx.query.n ? manifestRef(ctx.query.n) : null;
  if (ref) return renderManifest(ctx, ref);
  return renderFind(ctx);
}
