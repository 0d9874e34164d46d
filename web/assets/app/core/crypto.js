// Keys and signatures with WebCrypto Ed25519. The private key is imported from the user's
// PKCS#8 PEM file as a non-extractable CryptoKey: the page can sign with it, but neither the
// page nor anything injected into it can read it back, and it is never sent anywhere.

export class KeyFileError extends Error {
  constructor(message) {
    super(message);
    this.name = 'KeyFileError';
  }
}

export function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function base64urlEncode(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function base64urlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Whether this browser can sign here: WebCrypto exists only in secure contexts. */
export function signingAvailable() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto && crypto.subtle);
}

/**
 * Reads a PKCS#8 PEM Ed25519 private key (as `hwledger keygen` and
 * `openssl genpkey -algorithm ed25519` write it).
 * Returns `{ privateKey, publicHex }` with a non-extractable `privateKey`.
 */
export async function importPrivateKeyPem(pemText) {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pemText || '');
  if (!m) {
    if (/BEGIN (ENCRYPTED )?PRIVATE KEY|BEGIN OPENSSH|BEGIN EC|BEGIN RSA/.test(pemText || '')) {
      throw new KeyFileError('不支持该密钥格式：请选择未加密的 PKCS#8 PEM 格式 Ed25519 私钥（hwledger keygen 生成的 .pem 文件）。');
    }
    throw new KeyFileError('所选文件不是私钥文件：应为以 “-----BEGIN PRIVATE KEY-----” 开头的 PEM 文件。');
  }
  let der;
  try {
    der = Uint8Array.from(atob(m[1].replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch {
    throw new KeyFileError('私钥文件已损坏：其中的 Base64 内容无法读取。');
  }
  let temporary;
  try {
    // Imported once as extractable only to learn the public half (JWK `x`), then imported
    // again without it; the first key object is dropped at once.
    temporary = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, true, ['sign']);
  } catch {
    throw new KeyFileError('该私钥不是 Ed25519 密钥，或文件已损坏。');
  }
  const jwk = await crypto.subtle.exportKey('jwk', temporary);
  temporary = null;
  const privateKey = await crypto.subtle.importKey(
    'jwk',
    { kty: 'OKP', crv: 'Ed25519', d: jwk.d, x: jwk.x },
    { name: 'Ed25519' },
    false,
    ['sign'],
  );
  jwk.d = undefined;
  return { privateKey, publicHex: hex(base64urlDecode(jwk.x)) };
}

/** Ed25519 signature over `bytes`, as lowercase hex. */
export async function signHex(privateKey, bytes) {
  return hex(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, bytes));
}

/** Raw Ed25519 signature bytes. */
export async function signRaw(privateKey, bytes) {
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, bytes));
}

/** SHA-256 as lowercase hex (evidence files are hashed in the page; only the hash is sent). */
export async function sha256Hex(bytes) {
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}
