// RFC 8785 (JCS) canonical JSON, the bytes every signature and hash covers (protocol §1, §3).
// ECMAScript's JSON.stringify already writes numbers (shortest round-trip form) and strings
// exactly as RFC 8785 asks; what is left is the key order (UTF-16 code units, which is what
// JavaScript's default string comparison uses) and refusing what has no canonical form.

export function canonicalize(value) {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JCS: non-finite number');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) {
      throw new TypeError('JCS: lone surrogate in a string');
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalize).join(',') + ']';
  if (typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return '{' + keys.map((k) => canonicalize(k) + ':' + canonicalize(value[k])).join(',') + '}';
  }
  throw new TypeError('JCS: cannot encode ' + typeof value);
}

/** The UTF-8 bytes of the canonical form. */
export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}
