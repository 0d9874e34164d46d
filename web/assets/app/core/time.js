// Times and dates as the protocol writes them (UTC, RFC 3339) and as people read them here
// (China Standard Time, UTC+8, which every date rule of the protocol uses).

const CST_MS = 8 * 3600 * 1000;

/** Now as an event timestamp: `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
export function nowTimestamp() {
  return new Date().toISOString();
}

function cstParts(date) {
  const d = new Date(date.getTime() + CST_MS);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return {
    date: `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`,
    time: `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`,
  };
}

/** A ledger timestamp shown in CST: `2025-03-04 09:30:00`. Empty for null. */
export function formatTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  const { date, time } = cstParts(d);
  return `${date} ${time}`;
}

/** Today's CST date, `YYYY-MM-DD`. */
export function todayCst() {
  return cstParts(new Date()).date;
}

/** The CST date of a timestamp. */
export function cstDate(ts) {
  return cstParts(new Date(ts)).date;
}

/** `YYYY-MM-DD` plus `days` (may be negative). */
export function addDays(date, days) {
  const d = new Date(date + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The first day of the CST month of `date` and of the next month: `[from, to)`. */
export function monthRange(year, month) {
  const p = (n) => String(n).padStart(2, '0');
  const from = `${year}-${p(month)}-01`;
  const to = month === 12 ? `${year + 1}-01-01` : `${year}-${p(month + 1)}-01`;
  return [from, to];
}

/** A CST wall-clock `YYYY-MM-DDTHH:MM` (as an <input type=datetime-local> gives) as a UTC timestamp. */
export function cstLocalToTimestamp(local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || '');
  if (!m) return null;
  const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - CST_MS;
  return new Date(utc).toISOString();
}

/**
 * A period of protocol §1 (`YYYY-MM`, `YYYY-Qn`, `YYYY`) as {kind, year, n, from, to}: `from` its
 * first day and `to` the first day of the next period of its kind (CST dates); null when the text
 * is not a period.
 */
export function parsePeriod(text) {
  const p = (n) => String(n).padStart(2, '0');
  let m = /^(\d{4})-(\d{2})$/.exec(text || '');
  if (m && +m[2] >= 1 && +m[2] <= 12) {
    const [from, to] = monthRange(+m[1], +m[2]);
    return { kind: 'month', year: +m[1], n: +m[2], from, to };
  }
  m = /^(\d{4})-Q([1-4])$/.exec(text || '');
  if (m) {
    const y = +m[1];
    const q = +m[2];
    return { kind: 'quarter', year: y, n: q, from: `${y}-${p(3 * q - 2)}-01`, to: q === 4 ? `${y + 1}-01-01` : `${y}-${p(3 * q + 1)}-01` };
  }
  m = /^(\d{4})$/.exec(text || '');
  if (m && +m[1] >= 1) return { kind: 'year', year: +m[1], n: null, from: `${m[1]}-01-01`, to: `${+m[1] + 1}-01-01` };
  return null;
}

/** A period in words: "2026 年 11 月", "2026 年第 4 季度", "2026 年". */
export function periodText(text) {
  const p = parsePeriod(text);
  if (!p) return text;
  if (p.kind === 'month') return `${p.year} 年 ${p.n} 月`;
  if (p.kind === 'quarter') return `${p.year} 年第 ${p.n} 季度`;
  return `${p.year} 年`;
}

/** The last month, quarter and year that have ended by `today` (a CST date), as periods. */
export function lastEndedPeriods(today) {
  const y = +today.slice(0, 4);
  const mo = +today.slice(5, 7);
  const month = mo === 1 ? `${y - 1}-12` : `${y}-${String(mo - 1).padStart(2, '0')}`;
  const q = Math.floor((mo - 1) / 3) + 1;
  const quarter = q === 1 ? `${y - 1}-Q4` : `${y}-Q${q - 1}`;
  return { month, quarter, year: String(y - 1) };
}
