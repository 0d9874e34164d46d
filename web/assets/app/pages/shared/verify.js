// 核验: what anyone needs to check the ledger without trusting this server: the signed
// checkpoint (saved today, it pins today's ledger for good), the ledger's public key, and the
// exact commands that re-check every signature, the hash chain, the rules and the figures
// offline.

import { h, mount, notice, dl, download } from '../../core/dom.js';
import { Api } from '../../core/api.js';
import { errorNotice, heading, proofHref } from '../../core/ui.js';
import { formatTime } from '../../core/time.js';

function base64ToHex(b64) {
  try {
    return Array.from(atob(b64), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch {
    return '';
  }
}

function duration(s) {
  if (s === undefined || s === null) return '—';
  if (s % 86400 === 0) return `${s / 86400} 天`;
  if (s % 3600 === 0) return `${s / 3600} 小时`;
  return `${s} 秒`;
}

/** A command in a copyable block. */
function command(text) {
  const code = h('code', text);
  const status = h('span.copy-status', { 'aria-live': 'polite' });
  const copy = h('button.copy', { type: 'button' }, '复制');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = '已复制';
    } catch {
      // Without clipboard access the text is selected, ready for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = '已选中，请按 Ctrl+C 复制';
    }
    setTimeout(() => { status.textContent = ''; }, 3000);
  });
  return h('div.command', h('pre', code), h('div.command-actions', copy, status));
}

function step(n, title, ...content) {
  return h('li.verify-step', h('h3', `${n}. ${title}`), ...content);
}

export async function render(ctx) {
  mount(ctx.main,
    heading('核验', '账本中的每一条记录都由责任单位用自己的密钥签名，并按顺序用哈希串成一条链；账本定期用账本密钥签署一个“检查点”，概括到当时为止的全部记录。有了检查点和账本公钥，任何人都可以在自己的电脑上离线核验，不必相信本服务器。'),
    h('p.muted', '正在加载……'));
  let checkpoint;
  let ledger;
  try {
    [checkpoint, ledger] = await Promise.all([Api.public('/v1/checkpoint'), Api.public('/v1/ledger')]);
  } catch (e) {
    mount(ctx.main, heading('核验'), errorNotice(e));
    return;
  }
  const [cpOrigin, cpSize, cpRoot] = String(checkpoint).split('\n');
  const cpRootHex = base64ToHex(cpRoot || '');
  const url = location.origin;
  const org = ctx.session.org;
  const regulator = ctx.session.has('regulator');
  const limits = ledger.limits || {};
  const savedAt = formatTime(new Date().toISOString());

  const saveButton = h('button.primary', { type: 'button' }, '下载检查点文件（checkpoint.txt）');
  saveButton.addEventListener('click', () => {
    download(new Blob([checkpoint], { type: 'text/plain;charset=utf-8' }), 'checkpoint.txt');
  });

  const seqInput = h('input', { type: 'number', min: 0, max: Math.max(0, ledger.size - 1), value: Math.max(0, ledger.size - 1), id: 'verify-seq', inputmode: 'numeric' });
  const proveEl = h('div');
  const drawProve = () => {
    const n = /^\d+$/.test(seqInput.value) ? seqInput.value : 'N';
    mount(proveEl,
      command(`hwledger prove --seq ${n} --url ${url} --key 本单位.pem --org ${org} > proof-${n}.json`),
      command(`hwledger verify-proof proof-${n}.json --ledger-key ${ledger.ledger_key}`),
      n !== 'N' ? h('p', h('a', { href: proofHref(n), target: '_blank', rel: 'noopener' }, `第 ${n} 条记录的包含证明（公开 JSON，只含哈希）`)) : null);
  };
  seqInput.addEventListener('input', drawProve);
  drawProve();

  mount(ctx.main,
    heading('核验', '账本中的每一条记录都由责任单位用自己的密钥签名，并按顺序用哈希串成一条链；账本定期用账本密钥签署一个“检查点”，概括到当时为止的全部记录。有了检查点和账本公钥，任何人都可以在自己的电脑上离线核验，不必相信本服务器。'),

    h('h2', '当前检查点'),
    h('p', `下面是账本签署的最新检查点：账本名称、记录条数、全部记录的默克尔树根哈希，最后一行是账本密钥的签名。检查点公开，任何人无须登录都可获取。`),
    h('pre.checkpoint', { 'data-testid': 'checkpoint' }, checkpoint),
    h('div.actions', saveButton),
    h('p.muted', `请把检查点文件连同下载时间（本次为 ${savedAt}）一起保存在本单位。以后任何时候，都可以用它证明账本是在今天的基础上延续的：今天之前的记录没有被删除、修改或调换。`),

    h('h2', '账本信息'),
    h('section.card', dl([
      ['账本名称（origin）', h('span.mono', ledger.origin)],
      ['当前记录条数', String(ledger.size)],
      ['检查点覆盖的记录条数', cpSize || '—'],
      ['检查点根哈希（十六进制）', h('span.mono', cpRootHex || '—')],
      ['当前根哈希', h('span.mono', ledger.root)],
      ['账本公钥（ledger_key）', h('span.mono', ledger.ledger_key)],
      ['验证密钥（verifier_key）', h('span.mono', ledger.verifier_key)],
    ])),
    cpOrigin && cpOrigin !== ledger.origin
      ? notice('error', h('strong', '检查点的账本名称与本账本不一致，请勿使用并联系管理员。')) : null,
    notice('info', h('strong', '账本公钥要从其他渠道核对。'),
      h('p', '核验的全部可信度来自账本公钥。请把上面的账本公钥与生态环境局通过公告、正式文件等其他渠道公布的公钥逐字比对，一致后再使用；不要只相信本页面显示的值。')),

    h('h2', '账本期限参数'),
    h('p.muted', '这些参数也记在账本中，核验时按同样的参数复算问题清单和规范化处理率。'),
    h('section.card', dl([
      ['运输期限（起运至签收）', duration(limits.transit_s)],
      ['处置期限（签收至利用/处置）', duration(limits.disposal_s)],
      ['贮存期限（接收单位）', duration(limits.storage_s)],
      ['贮存期限（产废单位）', duration(limits.generator_storage_s ?? limits.storage_s)],
      ['允许补录的最长时间', duration(limits.max_backdate_s)],
      ['数量短缺容差', limits.shortfall_bp === undefined ? '—' : `${limits.shortfall_bp / 100}%（运出量与接收量之差在此以内视为称重误差）`],
    ])),

    h('h2', '离线核验的步骤'),
    h('p', '以下命令使用 hwledger 命令行工具，可在任何一台电脑上运行；命令中的网址、账本公钥和本单位代码已按本账本填好，“本单位.pem”换成本单位私钥文件的路径。'),
    h('ol.verify-steps',
      step(1, '保存检查点', h('p', '点击上方“下载检查点文件”，保存为 checkpoint.txt。它是核验的起点。')),
      step(2, '导出全部记录',
        h('p', regulator
          ? '以生态环境局的身份导出账本的全部记录（JSON Lines 格式，最后一行附当前检查点）：'
          : '导出全部记录需要生态环境局的密钥（全部记录只向监管部门开放）。本单位可以跳过这一步，用第 4 步核验与本单位有关的记录，用下面的命令核验账本是否延续了保存的检查点：'),
        regulator
          ? command(`hwledger export --url ${url} --key 本单位.pem --org ${org} > ledger.jsonl`)
          : command(`hwledger verify --url ${url} --ledger-key ${ledger.ledger_key} --checkpoint checkpoint.txt --proof-only`)),
      step(3, '离线核验整本账',
        h('p', '在不联网的电脑上运行。它逐条检查签名、哈希链和顺序，按规则重放全部记录，复算联单状态、库存、问题清单和规范化处理率，并核对根哈希与检查点一致；指定 --checkpoint 时，还证明导出的账本延续了之前保存的那个检查点。全部通过时退出码为 0，否则指出第一条有问题的记录及原因。'),
        command(`hwledger verify --file ledger.jsonl --ledger-key ${ledger.ledger_key} --checkpoint checkpoint.txt`)),
      step(4, '证明某一条记录在账本中',
        h('p', '每条记录都可以单独证明：prove 生成一个证明文件（记录本身、默克尔路径和检查点），verify-proof 离线核对。生态环境局可证明任何记录，其他单位可证明本单位签名或参与的记录。'),
        h('div.field', h('label', { for: 'verify-seq' }, '记录序号（seq）'), seqInput),
        proveEl)),

    h('details.help',
      h('summary', '检查点的格式'),
      h('p', '检查点是 C2SP tlog-checkpoint 格式的签名文本：第一行是账本名称，第二行是记录条数，第三行是根哈希（Base64），空一行后是签名行“— 账本名称 签名”。验证密钥（verifier_key）是同一公钥的签名文本格式写法，可供通用的透明日志工具使用。')));
}
