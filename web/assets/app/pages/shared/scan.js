// Scanning the containers of a manifest at loading (转移办法 Art. 13: the signs are checked
// against the manifest): a checklist of the codes the manifest names that ticks off as each
// label's QR code is read with the camera (jsQR), read by a handheld scanner (which types the
// code and Enter), or typed by hand. The pickup sends the codes scanned; the service judges
// whether they are exactly the manifest's.

import { h, mount } from '../../core/dom.js';
import { containerRef, spacedId } from '../../core/containers.js';

let camera = null; // { stream, timer }

function stopCamera() {
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

/**
 * A checklist of `ids`. `onChange(scannedCount)` after each change. Returns
 * { el, scanned(): [ids in list order], missing(): [ids], complete(): bool, input }.
 */
export function scanChecklist(ids, { onChange } = {}) {
  const wanted = new Set(ids);
  const got = new Set();
  const say = h('div.hint', { 'aria-live': 'polite', 'data-testid': 'scan-said' });
  const count = h('span.scan-count', { 'data-testid': 'scan-count' });
  const items = new Map(ids.map((id) => {
    const mark = h('span.scan-mark', { 'aria-hidden': 'true' }, '○');
    const state = h('span.visually-hidden', '未扫描');
    const li = h('li', { 'data-container': id }, mark, h('span.mono', spacedId(id)), state);
    return [id, { li, mark, state }];
  }));
  const list = h('ul.scan-list', { 'data-testid': 'scan-list' }, [...items.values()].map((x) => x.li));

  function show() {
    count.textContent = `已扫描 ${got.size} / ${ids.length}`;
    if (onChange) onChange(got.size);
  }

  /** Takes one scanned or typed text; says what it was. */
  function take(text) {
    const id = containerRef(text);
    if (!id) {
      say.textContent = `“${String(text).slice(0, 60)}”不是容器识别码（37 位）。`;
      say.className = 'hint diff warn';
      return false;
    }
    if (!wanted.has(id)) {
      say.textContent = `容器 ${id} 不在本联单中，请勿装车。`;
      say.className = 'hint diff warn';
      return false;
    }
    const x = items.get(id);
    if (got.has(id)) {
      say.textContent = `容器 ${id} 已扫描过。`;
      say.className = 'hint';
      return true;
    }
    got.add(id);
    x.li.classList.add('scanned');
    x.mark.textContent = '✓';
    x.state.textContent = '已扫描';
    say.textContent = `已核对容器 ${id}。`;
    say.className = 'hint diff';
    if (navigator.vibrate) navigator.vibrate(40);
    show();
    if (got.size === ids.length) stopCamera();
    return true;
  }

  const input = h('input.mono', {
    type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 120, enterkeyhint: 'done',
    'data-testid': 'scan-input', 'aria-label': '容器识别码', placeholder: '扫码枪扫描或输入 37 位识别码',
  });
  const add = h('button', { type: 'button', 'data-testid': 'scan-add' }, '核对');
  const enter = () => {
    if (!input.value.trim()) return;
    if (take(input.value)) input.value = '';
    input.focus();
  };
  add.addEventListener('click', enter);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      enter();
    }
  });

  const video = h('video.dock-video', { playsinline: true, muted: true, autoplay: true, 'aria-label': '摄像头取景' });
  const viewfinder = h('div.dock-viewfinder', { hidden: true }, video, h('div.dock-frame', { 'aria-hidden': 'true' }));
  const camButton = h('button', { type: 'button', 'data-testid': 'scan-camera' }, '用摄像头扫描标签');
  camButton.addEventListener('click', async () => {
    if (camera) {
      stopCamera();
      viewfinder.hidden = true;
      camButton.textContent = '用摄像头扫描标签';
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: { ideal: 'environment' } } });
    } catch (e) {
      say.textContent = `无法打开摄像头（${e.name || e.message || e}），请用扫码枪或手工输入识别码。`;
      say.className = 'hint diff warn';
      return;
    }
    stopCamera();
    camera = { stream, timer: 0 };
    const mine = camera;
    viewfinder.hidden = false;
    camButton.textContent = '停止扫描';
    video.srcObject = stream;
    try {
      await video.play();
    } catch { /* a muted stream plays without a gesture; frames are read regardless */ }
    const canvas = document.createElement('canvas');
    let last = '';
    const tick = () => {
      if (camera !== mine || !video.isConnected) {
        if (camera === mine) stopCamera();
        viewfinder.hidden = true;
        camButton.textContent = '用摄像头扫描标签';
        return;
      }
      if (video.readyState >= 2 && video.videoWidth) {
        const scale = Math.min(1, 720 / Math.max(video.videoWidth, video.videoHeight));
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        const g = canvas.getContext('2d', { willReadFrequently: true });
        g.drawImage(video, 0, 0, canvas.width, canvas.height);
        const found = window.jsQR(g.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height, { inversionAttempts: 'dontInvert' });
        if (found && found.data !== last) {
          last = found.data;
          take(found.data);
        }
      }
      mine.timer = setTimeout(tick, 150);
    };
    tick();
  });

  show();
  const el = h('div.scan',
    h('p', count, ' ', h('span.muted', '逐个扫描容器标签上的二维码，核对后才能起运。')),
    list,
    h('div.row', input, add),
    cameraAvailable() ? [camButton, viewfinder] : null,
    say);
  return {
    el,
    input,
    scanned: () => ids.filter((id) => got.has(id)),
    missing: () => ids.filter((id) => !got.has(id)),
    complete: () => got.size === ids.length,
    reset: () => mount(say),
  };
}
