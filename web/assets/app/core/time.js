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
