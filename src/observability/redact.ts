/**
 * PII and secret redaction for request-log bodies (stored only when body logging is on).
 *
 * Precision over recall where the two conflict: each detector needs a shape that ordinary text
 * rarely has (a `+` or separators for phones, a Luhn-valid 13–19 digit number starting 2–6 for
 * cards, a vendor prefix or a secret-named key for keys), so prices, dates, ids and versions
 * survive. Every pattern is linear: each variable-length run is entered only at its start
 * (a lookbehind rules out the positions inside it) and no quantified group can match the same
 * text two ways, so a 1 MB adversarial input costs what a 1 MB ordinary one does.
 */

export const EMAIL = '[EMAIL]';
export const PHONE = '[PHONE]';
export const CARD = '[CARD]';
export const SECRET = '[SECRET]';

/** The words that make a key name secret: `api_key`, `x-api-key`, `clientSecret`, `DB_PASSWORD`, ... */
const SECRET_WORD = String.raw`(?:api[_-]?key|(?:secret|private|access)[_-]?key|secret|token|passw(?:or)?d|passphrase|authorization)`;

// Text that cannot hold anything redactable: the shortest match ("a@b.co", "pwd=x") is 5-6 long.
const MIN_REDACTABLE_LENGTH = 5;

/** A PEM private key block; its base64 body has no '-', so `[^-]*` stops at the next dash. */
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]{0,40})PRIVATE KEY-----[^-]*-----END \1PRIVATE KEY-----/g;

/** The password in `scheme://user:password@host`. */
const URL_PASSWORD = /(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/@"'<>]*:)([^\s/@"'<>]+)@/g;

/**
 * `name = value`, `name: value`, `"name": "value"` (also with escaped quotes, as in JSON inside a
 * string) where the name ends in a secret word. Groups: the name and separator (kept), the quote
 * that closed the name (to keep JSON valid), the value.
 */
const SECRET_ASSIGNMENT = new RegExp(
  String.raw`(${SECRET_WORD}(?![\w-])(\\?["'])?[ \t]*[:=][ \t]*)` +
    String.raw`(\\"(?:[^"\\\r\n]|\\[^"\r\n])*\\"` + // \"value\"
    String.raw`|"(?:[^"\\\r\n]|\\.)*"` + // "value"
    String.raw`|'[^'\r\n]*'` + // 'value'
    String.raw`|(?:(?:bearer|basic|token|digest)[ \t]+)?[^\s"'\x60,;&{}[\]()<>\\=][^\s"'\x60,;&{}[\]()<>\\]*)`, // value
  'gi',
);
const AUTH_SCHEME = /^((?:bearer|basic|token|digest)[ \t]+)/i;
const JSON_LITERAL = /^(?:null|true|false)$/;

/** `Bearer <token>`: the token must have a digit or be 20+ characters ("Bearer of bad news" stays). */
const BEARER_TOKEN = /(?<![A-Za-z0-9_-])(bearer[ \t]+)(?=[A-Za-z0-9._~+/-]*\d|[A-Za-z0-9._~+/-]{20})[A-Za-z0-9._~+/-]{8,}=*/gi;

/** Keys and tokens recognised by their vendor's prefix. */
const PREFIXED_SECRET = new RegExp(
  String.raw`(?<![A-Za-z0-9_-])(?:` +
    [
      // OpenAI project / service / admin keys, Anthropic, Switchyard (sk-sy-), OpenRouter
      String.raw`sk-(?:proj|svcacct|admin|ant|sy|or)-[A-Za-z0-9_-]{16,}`,
      // other sk- keys (OpenAI legacy, DeepSeek, ...): a digit or 32+ characters, so "sk-learn-style-names" stay
      String.raw`sk-(?=[A-Za-z0-9_-]*\d|[A-Za-z0-9_-]{32})[A-Za-z0-9_-]{16,}`,
      String.raw`[sr]k_(?:live|test)_[A-Za-z0-9]{16,}`, // Stripe
      String.raw`(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])`, // AWS access key ids
      String.raw`AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])`, // Google API keys
      String.raw`gh[pousr]_[A-Za-z0-9]{36,}`, // GitHub tokens
      String.raw`github_pat_[A-Za-z0-9_]{20,}`, // GitHub fine-grained tokens
      String.raw`xox[abprs]-[A-Za-z0-9-]{10,}`, // Slack tokens
      String.raw`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,3}`, // JWT (and JWE)
    ].join('|') +
    ')',
  'g',
);

/**
 * Emails. The local part starts where a run of its characters starts (the lookbehind), so a
 * long run with no '@' is scanned once. `name@2x.png` (image assets) is not an address.
 */
const EMAIL_ADDRESS = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?!\d+x\.)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/**
 * Card numbers: 13–19 digits, contiguous or in groups (4 digits, then groups of 3–6 with one
 * repeated space or dash), first digit 2–6 (Visa, Mastercard, Amex, Discover, JCB, UnionPay,
 * Diners; not millisecond timestamps), not part of a longer number, word or decimal, nor after a
 * `+` (an international phone number that happens to pass Luhn). The Luhn
 * check happens in the replacer.
 */
const CARD_NUMBER = /(?<![\w.+]|\d[ -])(?:[2-6]\d{12,18}|[2-6]\d{3}([ -])\d{3,6}(?:\1\d{3,6}){1,3})(?!\w|[ .-]\d)/g;

/**
 * Phone numbers, by structure (a bare run of digits is an id, not a phone):
 * - international: `+` and 8–15 digits (E.164), or `+CC` then groups (`+44 20 7946 0958`,
 *   `+1 (415) 555-2671`, `+44 (0)20 7946 0958`);
 * - North American: `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `1-800-555-1234`;
 * - national with a trunk 0: `020 7946 0958`, `07946 095 895`, `01 23 45 67 89`.
 * The replacer also requires 9–15 digits in all.
 */
const PHONE_NUMBER = new RegExp(
  '(?:' +
    [
      String.raw`(?<![\w+])\+(?:[1-9]\d{7,14}|\d{1,3}(?:[ .-]?\(\d{1,4}\)[ .-]?\d{1,8})?(?:[ .-]\d{1,8}){1,6})`,
      String.raw`(?<![\w.+-]|\d[ .-])(?:1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}`,
      String.raw`(?<![\w.+-]|\d[ .-])0(?:\d{2,4}[ .-]\d{3,4}(?:[ .-]?\d{3,4})?|[1-9](?:[ .]\d{2}){4})`,
    ].join('|') +
    String.raw`)(?!\w|[ .-]\d)`,
  'g',
);

/** Redacts PII and secrets in text: emails, phone numbers, payment card numbers (Luhn-checked), API keys and tokens. */
export function redactText(text: string): string {
  if (text.length < MIN_REDACTABLE_LENGTH) return text;
  let out = text;
  // Secrets first: they contain digits and '@'-free runs the later detectors would split.
  if (out.includes('-----BEGIN ')) out = out.replace(PEM_PRIVATE_KEY, SECRET);
  if (out.includes('://')) out = out.replace(URL_PASSWORD, `$1${SECRET}@`);
  out = out.replace(SECRET_ASSIGNMENT, redactAssignment);
  out = out.replace(BEARER_TOKEN, `$1${SECRET}`);
  out = out.replace(PREFIXED_SECRET, SECRET);
  if (out.includes('@')) out = out.replace(EMAIL_ADDRESS, EMAIL);
  // Cards before phones: a grouped card number must not be taken for a phone number.
  out = out.replace(CARD_NUMBER, (match) => (isCardNumber(match) ? CARD : match));
  out = out.replace(PHONE_NUMBER, (match) => (isPhoneLength(match) ? PHONE : match));
  return out;
}

function redactAssignment(match: string, nameAndSeparator: string, nameQuote: string | undefined, value: string, offset: number, text: string): string {
  if (JSON_LITERAL.test(value)) return match;
  // `Authorization: Bearer [SECRET]` (already redacted): the scheme alone is not the value.
  if (AUTH_SCHEME.test(`${value} `) && /[ \t]/.test(text.charAt(offset + match.length))) return match;
  const quote = value.startsWith('\\"') ? '\\"' : value[0] === '"' || value[0] === "'" ? value[0] : '';
  if (quote) {
    const inner = value.slice(quote.length, value.length - quote.length);
    if (inner === '' || inner === SECRET) return match;
    const scheme = AUTH_SCHEME.exec(inner)?.[1] ?? '';
    return `${nameAndSeparator}${quote}${scheme}${SECRET}${quote}`;
  }
  const scheme = AUTH_SCHEME.exec(value)?.[1] ?? '';
  if (scheme && value.length === scheme.length) return match;
  // A bare value after a double-quoted name is a JSON number: quote the token to keep the JSON valid.
  const q = nameQuote === '"' || nameQuote === '\\"' ? nameQuote : '';
  return `${nameAndSeparator}${q}${scheme}${SECRET}${q}`;
}

function isCardNumber(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  return digits.length >= 13 && digits.length <= 19 && passesLuhn(digits);
}

/** The Luhn checksum every payment card number carries. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function isPhoneLength(candidate: string): boolean {
  let digits = 0;
  for (let i = 0; i < candidate.length; i++) {
    const c = candidate.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  return digits >= 9 && digits <= 15;
}

/** Whether a JSON key names a secret: its value is replaced whatever it looks like. */
const SECRET_KEY_NAME = /(?:apikey|secretkey|privatekey|accesskey|secret|token|passwd|password|passphrase|authorization)$/;

export function isSecretKeyName(name: string): boolean {
  return SECRET_KEY_NAME.test(name.toLowerCase().replace(/[-_. ]/g, ''));
}

const UNSERIALISABLE = JSON.stringify('[unserialisable body]');
const TRUNCATED_MARKER = (droppedBytes: number): string => `…[truncated ${droppedBytes} bytes]`;

/**
 * A body for the request log: JSON-serialised `value` (an object or a string), redacted, then
 * capped to maxBytes UTF-8 bytes (cut on a character boundary, with a marker saying how many bytes
 * were dropped). Never throws (cyclic/unserialisable → a placeholder string).
 *
 * Objects are redacted value by value (string values and keys through `redactText`; the values of
 * secret-named keys replaced whole), so the result is valid JSON unless it was cut. A string is
 * redacted and serialised as a JSON string.
 */
export function bodyForLog(value: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(typeof value === 'string' ? redactText(value) : redactTree(value, '', undefined, new Set()));
  } catch {
    // cycles, BigInt, throwing getters or toJSON, nesting too deep for the stack
  }
  return capUtf8(json ?? UNSERIALISABLE, maxBytes);
}

/** A copy of `value` as JSON.stringify would see it, with strings redacted. Throws on cycles. */
function redactTree(value: unknown, key: string, holder: object | undefined, ancestors: Set<object>): unknown {
  if (typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (value instanceof String || value instanceof Number || value instanceof Boolean) value = value.valueOf();
  if (holder !== undefined && isSecretKeyName(key) && !isLogprobToken(key, holder)) {
    if ((typeof value === 'string' && value !== '') || typeof value === 'number') return SECRET;
  }
  if (typeof value === 'string') return redactText(value);
  // A card number sent as a JSON number (up to 16 digits: larger ones are not exact anyway).
  if (typeof value === 'number') return isCardLikeNumber(value) ? CARD : value;
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) throw new TypeError('cyclic structure');
  ancestors.add(value);
  let copy: unknown;
  if (Array.isArray(value)) {
    copy = value.map((item: unknown, index) => redactTree(item, String(index), value as object, ancestors));
  } else {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const name of Object.keys(value)) {
      const item = redactTree((value as Record<string, unknown>)[name], name, value, ancestors);
      const redactedName = redactText(name);
      let outName = redactedName;
      // Two keys redacted to the same token must not overwrite each other.
      for (let n = 2; outName !== name && Object.hasOwn(out, outName); n++) outName = `${redactedName}#${n}`;
      out[outName] = item;
    }
    copy = out;
  }
  ancestors.delete(value);
  return copy;
}

function isCardLikeNumber(value: number): boolean {
  if (!Number.isSafeInteger(value) || value < 2e12) return false;
  const digits = String(value);
  return /^[2-6]/.test(digits) && isCardNumber(digits);
}

/** OpenAI logprobs name the sampled text `token` (beside a numeric `logprob`): text, not a credential. */
function isLogprobToken(key: string, holder: object): boolean {
  return key === 'token' && typeof (holder as { logprob?: unknown }).logprob === 'number';
}

const encoder = new TextEncoder();

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, marker included, on a code point boundary. */
function capUtf8(text: string, maxBytes: number): string {
  const cap = maxBytes >= 0 ? Math.floor(maxBytes) : 0;
  if (text.length * 3 <= cap) return text; // a UTF-16 unit is at most 3 UTF-8 bytes
  const total = Buffer.byteLength(text, 'utf8');
  if (total <= cap) return text;
  // The marker for `total` is at least as long as any later one; if the bytes really dropped
  // have fewer digits, one more pass gives the budget back (dropping less keeps it that short).
  let markerBytes = Buffer.byteLength(TRUNCATED_MARKER(total), 'utf8');
  let read = 0;
  let written = 0;
  for (let pass = 0; pass < 2; pass++) {
    // encodeInto writes whole code points only, so the prefix never ends inside a character.
    ({ read, written } = encoder.encodeInto(text, new Uint8Array(Math.max(0, cap - markerBytes))));
    const needed = Buffer.byteLength(TRUNCATED_MARKER(total - written), 'utf8');
    if (needed === markerBytes) break;
    markerBytes = needed;
  }
  return text.slice(0, read) + TRUNCATED_MARKER(total - written);
}
