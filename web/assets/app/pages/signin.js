// Sign-in with a key file: the PEM is read and imported in the page (non-extractable), a read
// token is signed with it and the organisation's record is fetched with that token. Only the
// token leaves the browser. The service decides whether the key is a live key of the org.

import { h, mount, field, fieldError, notice } from '../core/dom.js';
import { Api, ProblemError } from '../core/api.js';
import { importPrivateKeyPem, KeyFileError, signingAvailable } from '../core/crypto.js';
import { Session } from '../core/session.js';
import { problemText } from '../core/i18n.js';

const ORG_RE = /^[0-9A-HJ-NPQRTUWXY]{18}$/;

function keyRefusal(e) {
  const d = e.detail || '';
  if (/revoked/.test(d)) return '该密钥已被吊销，不能再登录。请使用本单位其他有效密钥，或联系生态环境局。（token_key）';
  if (/is not a key of/.test(d)) return '该密钥属于另一个单位，不是所填单位的密钥。（token_key）';
  if (/not registered/.test(d)) return '该密钥未在账本中登记。请确认选择了正确的密钥文件，或请生态环境局为本单位添加此密钥。（token_key）';
  return problemText(e.code, e.title);
}

export function renderSignIn(main, done) {
  document.title = '登录 · 危险废物转移联单账本';
  if (!signingAvailable()) {
    mount(main, h('h1', '登录'), notice('error',
      h('strong', '此页面无法在浏览器中签名。'),
      h('p', '浏览器只在安全连接中提供签名功能（WebCrypto）：请通过 HTTPS 访问本服务，或在服务所在的电脑上用 http://127.0.0.1 或 http://localhost 打开。'),
      h('p', '服务管理员可用 hwledger serve --tls-cert 与 --tls-key 启用 HTTPS，或在前面放置反向代理。')));
    return;
  }
  const file = h('input', { type: 'file', accept: '.pem,.key,application/x-pem-file,text/plain', 'data-testid': 'key-file' });
  const org = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 18, inputmode: 'latin', 'data-testid': 'org', placeholder: '例如 91320404MA1MXR0C0F' });
  const button = h('button.primary', { type: 'submit' }, '登录');
  const out = h('div.out', { 'aria-live': 'polite' });
  // Key files named with the org's code (as the demo writes them: 产废-某某化工-<code>.pem)
  // fill in the code; the user can still change it.
  file.addEventListener('change', () => {
    const name = (file.files[0] && file.files[0].name) || '';
    const found = name.toUpperCase().match(/[0-9A-HJ-NPQRTUWXY]{18}/);
    if (found && !org.value.trim()) org.value = found[0];
  });
  const form = h('form.signin', { novalidate: true },
    field('密钥文件', file, '选择本单位的私钥文件（PKCS#8 PEM，hwledger keygen 或 openssl genpkey -algorithm ed25519 生成）。私钥只在本浏览器中使用，不会上传。'),
    field('统一社会信用代码', org, '18 位，本单位在账本中登记的代码。'),
    button, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fieldError(file, '');
    fieldError(org, '');
    const orgId = org.value.trim().toUpperCase();
    if (!file.files[0]) return fieldError(file, '请选择密钥文件');
    if (!ORG_RE.test(orgId)) return fieldError(org, '统一社会信用代码应为 18 位数字或大写字母（不含 I、O、S、V、Z）');
    button.disabled = true;
    mount(out, notice('info', '正在验证密钥……'));
    try {
      const text = await file.files[0].text();
      const { privateKey, publicHex } = await importPrivateKeyPem(text);
      const ledger = await Api.public('/v1/ledger');
      const session = new Session({ org: orgId, privateKey, publicHex, origin: ledger.origin, orgInfo: null });
      session.orgInfo = await new Api(session).get(`/v1/orgs/${orgId}`);
      done(session);
    } catch (e) {
      if (e instanceof KeyFileError) {
        fieldError(file, e.message);
        mount(out);
      } else if (e instanceof ProblemError && e.code === 'token_key') {
        mount(out, notice('error', h('strong', keyRefusal(e))));
      } else if (e instanceof ProblemError && e.status === 404) {
        fieldError(org, '账本中没有这个单位。（not_found）');
        mount(out);
      } else if (e instanceof ProblemError) {
        mount(out, notice('error', h('strong', e.message)));
      } else {
        mount(out, notice('error', h('strong', '登录失败：' + (e.message || e))));
      }
    } finally {
      button.disabled = false;
    }
  });
  mount(main,
    h('h1', '登录'),
    h('p.lead', '危险废物转移联单账本：每一条记录都由责任单位用自己的密钥签名，任何人都可离线复核。'),
    form,
    h('details.help',
      h('summary', '没有密钥文件？'),
      h('p', '请在本机运行 hwledger keygen --out 本单位.pem 生成密钥，把打印出的公钥交给生态环境局登记。演示环境中，hwledger serve --demo 会在 demo-keys 文件夹中为每个演示单位写好密钥文件。')));
}
