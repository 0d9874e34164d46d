// Container codes (数字识别码, HJ 1276-2022, protocol §2): 37 characters in four segments — the
// 18-character unified social credit code of the unit that packed the container, the 8 digits of
// the waste code without hyphens, the packing date YYYYMMDD, and a serial 001–999. The service
// judges every code; these helpers build the codes a declaration proposes and read codes from
// what a scanner or a person typed.

import { ProblemError } from './api.js';

export const CONTAINER_LEN = 37;
const ID_RE = /^([0-9A-HJ-NPQRTUWXY]{18})(\d{8})(\d{8})(\d{3})$/;
const FIND_RE = /[0-9A-HJ-NPQRTUWXY]{18}\d{19}/;

/** The code for `serial` (1–999) of a container packed by `org` on `date` holding `code`. */
export function containerId(org, code, date, serial) {
  return `${org}${code.replace(/-/g, '')}${date.replace(/-/g, '')}${String(serial).padStart(3, '0')}`;
}

/** The segments of a code: {org, code (NNN-NNN-NN), date (YYYY-MM-DD), serial}, or null. */
export function parseContainerId(id) {
  const m = ID_RE.exec(String(id || ''));
  if (!m) return null;
  const [, org, w, d, s] = m;
  return {
    org,
    code: `${w.slice(0, 3)}-${w.slice(3, 6)}-${w.slice(6)}`,
    date: `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`,
    serial: Number(s),
  };
}

/** The code in a scanned or typed text (alone, or inside a label's longer text), or null. */
export function containerRef(text) {
  const s = String(text || '').toUpperCase().replace(/[\s-]/g, '');
  const m = FIND_RE.exec(s);
  return m ? m[0] : null;
}

/** A code split for reading: "91320404MA1WHK0T2X 90021408 20250303 001". */
export function spacedId(id) {
  const p = parseContainerId(id);
  if (!p) return id;
  return `${id.slice(0, 18)} ${id.slice(18, 26)} ${id.slice(26, 34)} ${id.slice(34)}`;
}

/** Whether the ledger knows a container with this code (its packer reads it: protocol §9). */
async function taken(api, id) {
  try {
    await api.get(`/v1/containers/${encodeURIComponent(id)}`);
    return true;
  } catch (e) {
    if (e instanceof ProblemError && e.status === 404) return false;
    throw e;
  }
}

/**
 * `n` codes not yet in the ledger for containers `org` packs on `date` with waste `code`: the
 * serials after the highest of that day and code among the org's lots, each one checked with
 * GET /v1/containers/{id} (a container of the org that has since moved to another holder's lot
 * is still found there). Throws an Error in Chinese when the 999 serials of the day run out.
 */
export async function nextFreeIds(api, org, code, date, n) {
  const prefix = containerId(org, code, date, 0).slice(0, 34);
  const lots = await api.all('/v1/stock', { generator: org, all: 'true' }, 'lots', 100000);
  let serial = 0;
  for (const l of lots) {
    if (l.code !== code || l.date !== date) continue;
    for (const c of l.containers || []) {
      if (c.id.startsWith(prefix)) serial = Math.max(serial, Number(c.id.slice(34)));
    }
  }
  const out = [];
  while (out.length < n) {
    const want = n - out.length;
    const batch = [];
    for (let s = serial + 1; s <= 999 && batch.length < want; s++) batch.push(s);
    if (batch.length < want) {
      throw new Error(`${date} 的 ${code} 容器序号已不足 ${n} 个（每天每种废物最多 999 个容器）。`);
    }
    serial = batch[batch.length - 1];
    const ids = batch.map((s) => containerId(org, code, date, s));
    const used = await Promise.all(ids.map((id) => taken(api, id)));
    ids.forEach((id, i) => {
      if (!used[i]) out.push(id);
    });
  }
  return out;
}

/**
 * Splits `grams` into `n` integer parts as evenly as possible, the first ones a gram heavier:
 * the declared weight of each container when the user has not typed them one by one.
 */
export function evenSplit(grams, n) {
  const base = Math.floor(grams / n);
  const rest = grams - base * n;
  return Array.from({ length: n }, (_, i) => base + (i < rest ? 1 : 0));
}
