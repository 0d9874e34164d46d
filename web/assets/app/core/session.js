// The signed-in organisation: its key (non-extractable), its registry record, and what it signs.
// Everything lives in memory only: no cookies, no storage. Reloading the page signs out.

import { canonicalBytes } from './jcs.js';
import { base64urlEncode, importPrivateKeyPem, signHex, signRaw } from './crypto.js';
import { nowTimestamp } from './time.js';

const EVENT_LABEL = 'hwledger/event/v1\n';
const TOKEN_LIFETIME_S = 300;
const TOKEN_REFRESH_S = 60;

export class Session {
  constructor({ org, privateKey, publicHex, origin, orgInfo }) {
    this.org = org;
    this.privateKey = privateKey;
    this.publicHex = publicHex;
    this.origin = origin;
    this.orgInfo = orgInfo; // the /v1/orgs/{org} view: name, region, roles, keys, class
    this._token = null;
    this._tokenExp = 0;
  }

  get roles() {
    return this.orgInfo ? this.orgInfo.roles : [];
  }

  has(role) {
    return this.roles.includes(role);
  }

  /** A read token (protocol §9), minted in the page and reused until a minute before expiry. */
  async token() {
    const now = Math.floor(Date.now() / 1000);
    if (this._token && now < this._tokenExp - TOKEN_REFRESH_S) return this._token;
    this._token = await mintToken(this.privateKey, this.publicHex, this.org, this.origin, now);
    this._tokenExp = now + TOKEN_LIFETIME_S;
    return this._token;
  }

  /**
   * A signed envelope for an event of `type` with `body`, acted by this org.
   * `at` defaults to now; `id` to a fresh UUIDv4.
   */
  async envelope(type, body, { at, id } = {}) {
    const event = {
      v: 1,
      id: id || crypto.randomUUID(),
      type,
      actor: this.org,
      at: at || nowTimestamp(),
      body,
    };
    return signEnvelope(this.privateKey, this.publicHex, event);
  }
}

/** Signs `event` (protocol §3): Ed25519 over `hwledger/event/v1` LF JCS(event). */
export async function signEnvelope(privateKey, publicHex, event) {
  const jcs = canonicalBytes(event);
  const label = new TextEncoder().encode(EVENT_LABEL);
  const bytes = new Uint8Array(label.length + jcs.length);
  bytes.set(label, 0);
  bytes.set(jcs, label.length);
  return { event, key: publicHex, sig: await signHex(privateKey, bytes) };
}

/** An EdDSA JWT (RFC 7519, RFC 8037) with `kid` = the public key hex (protocol §9). */
export async function mintToken(privateKey, publicHex, org, origin, iat) {
  const enc = (obj) => base64urlEncode(new TextEncoder().encode(JSON.stringify(obj)));
  const input = enc({ alg: 'EdDSA', kid: publicHex, typ: 'JWT' }) + '.' +
    enc({ iss: org, aud: origin, iat, exp: iat + TOKEN_LIFETIME_S });
  const sig = await signRaw(privateKey, new TextEncoder().encode(input));
  return input + '.' + base64urlEncode(sig);
}

export { importPrivateKeyPem };
