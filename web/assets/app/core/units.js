// Quantities: the ledger counts integer grams; people enter and read 吨 (t) or 千克 (kg).
// Conversions are exact decimal text arithmetic, never binary floating point.

export const UNITS = { t: { label: '吨', decimals: 6 }, kg: { label: '千克', decimals: 3 } };

export class QuantityError extends Error {}

/**
 * Parses decimal text in `unit` ('t' or 'kg') to integer grams (a Number, exact below 2^53).
 * "1.5" t → 1500000; more decimals than a gram allows is an error, not a rounding.
 */
export function toGrams(text, unit = 't', { allowZero = false } = {}) {
  const u = UNITS[unit];
  if (!u) throw new QuantityError('未知单位');
  const s = String(text ?? '').trim().replace(/[,，\s]/g, '');
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new QuantityError(`“${text}” 不是有效的数量，请输入数字，例如 1.25`);
  const frac = m[2] || '';
  if (frac.length > u.decimals) {
    throw new QuantityError(`${u.label}最多保留 ${u.decimals} 位小数（精确到克）`);
  }
  const grams = BigInt(m[1]) * 10n ** BigInt(u.decimals) + BigInt(frac.padEnd(u.decimals, '0') || '0');
  if (grams > 1000000000000000n) throw new QuantityError('数量过大（上限 10 亿吨）');
  if (grams === 0n && !allowZero) throw new QuantityError('数量必须大于 0');
  return Number(grams);
}

/** Integer grams as exact decimal text in `unit`, trailing zeros dropped: 1500000 g → "1.5". */
export function fromGrams(grams, unit = 't') {
  if (grams === null || grams === undefined) return '';
  const u = UNITS[unit];
  const neg = grams < 0;
  const s = String(Math.abs(Math.trunc(grams))).padStart(u.decimals + 1, '0');
  const int = s.slice(0, s.length - u.decimals);
  const frac = s.slice(s.length - u.decimals).replace(/0+$/, '');
  return (neg ? '-' : '') + int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac ? '.' + frac : '');
}

/** Grams for display with the unit label: "1.5 吨". Small quantities read better in kg. */
export function formatQuantity(grams, unit) {
  if (grams === null || grams === undefined) return '—';
  const use = unit || (Math.abs(grams) < 1000000 ? 'kg' : 't');
  return `${fromGrams(grams, use)} ${UNITS[use].label}`;
}

/** A rate in [0, 1] or null as a percentage with two decimals. */
export function formatRate(rate) {
  if (rate === null || rate === undefined) return '—';
  return (Math.floor(rate * 10000) / 100).toFixed(2) + '%';
}
