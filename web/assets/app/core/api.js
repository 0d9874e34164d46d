// Talking to the service: reads with the session's token, event submissions as signed
// envelopes, and every refusal turned into a ProblemError carrying the spec's code.

import { problemText } from './i18n.js';

export class ProblemError extends Error {
  constructor(problem, status) {
    super(problemText(problem.code, problem.title));
    this.name = 'ProblemError';
    this.status = status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
  }
}

async function parse(res) {
  const type = res.headers.get('content-type') || '';
  if (res.ok) {
    if (type.includes('json')) return res.json();
    return res.text();
  }
  let problem = { code: null, title: `HTTP ${res.status}` };
  if (type.includes('json')) {
    try {
      problem = await res.json();
    } catch {
      /* keep the generic problem */
    }
  }
  if (!problem.code && res.status === 503) problem.code = 'unavailable';
  throw new ProblemError(problem, res.status);
}

async function request(url, init) {
  let res;
  try {
    res = await fetch(url, { credentials: 'omit', cache: 'no-store', ...init });
  } catch {
    throw new ProblemError({ code: 'network', title: 'network error' }, 0);
  }
  return parse(res);
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export class Api {
  constructor(session) {
    this.session = session;
  }

  /** A public read (no token): /v1/ledger, checkpoints, proofs, catalogue. */
  static async public(path, params) {
    return request(path + query(params), { headers: { accept: 'application/json, text/plain' } });
  }

  /** A read with the session's token. */
  async get(path, params) {
    const token = await this.session.token();
    return request(path + query(params), {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/plain' },
    });
  }

  /** A read of a file (CSV) with the token, as a Blob for download. */
  async blob(path, params) {
    const token = await this.session.token();
    let res;
    try {
      res = await fetch(path + query(params), {
        headers: { authorization: `Bearer ${token}` }, credentials: 'omit', cache: 'no-store',
      });
    } catch {
      throw new ProblemError({ code: 'network' }, 0);
    }
    if (!res.ok) await parse(res);
    return res.blob();
  }

  /** Signs and submits one event; resolves to the recorded entry or throws a ProblemError. */
  async submit(type, body, opts) {
    const envelope = await this.session.envelope(type, body, opts);
    return request('/v1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(envelope),
    });
  }

  /** Follows `next` cursors of a list endpoint, up to `max` items. */
  async all(path, params, field, max = 2000) {
    const out = [];
    let after;
    for (;;) {
      const page = await this.get(path, { ...params, after, limit: 500 });
      out.push(...page[field]);
      if (!page.next || out.length >= max) return out;
      after = page.next;
    }
  }
}

/**
 * The registry list `GET /v1/orgs` (role, region filters), all pages; null when this service has
 * no such list yet (its 404 "route not found"), so pages can fall back to looking orgs up one by one.
 */
export async function listOrgs(api, params, max = 20000) {
  try {
    return await api.all('/v1/orgs', params, 'orgs', max);
  } catch (e) {
    if (e instanceof ProblemError && e.status === 404) return null;
    throw e;
  }
}

const orgNameCache = new Map();

/**
 * Names of the orgs `ids` (registry records are public to every registered org), as a Map;
 * looked up concurrently and remembered, an unknown org left out.
 */
export async function orgNames(api, ids) {
  const wanted = [...new Set(ids.filter(Boolean))];
  await Promise.all(wanted.filter((id) => !orgNameCache.has(id)).map(async (id) => {
    try {
      const o = await api.get(`/v1/orgs/${encodeURIComponent(id)}`);
      orgNameCache.set(id, o.name);
    } catch {
      /* an unknown or unreadable org simply shows its code */
    }
  }));
  return new Map(wanted.filter((id) => orgNameCache.has(id)).map((id) => [id, orgNameCache.get(id)]));
}

/** Remembers names already read from a registry list, so `orgNames` need not ask again. */
export function rememberOrgNames(orgs) {
  for (const o of orgs || []) orgNameCache.set(o.org, o.name);
}
