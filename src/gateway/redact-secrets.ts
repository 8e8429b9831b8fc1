/**
 * Masks secrets in text that reaches clients and logs (an upstream's error message may quote the
 * key it was sent): the keys the configuration gives the gateway, exactly and as masked echoes
 * that keep their first characters, and anything that looks like an API key by its shape.
 */
import { escapeRegex } from './escape-regex.js';

/** Shorter values are not masked: they would match ordinary words. */
const MIN_SECRET_LENGTH = 8;
/** A word that begins with this many of a known key's first characters is an echo of that key (`gsk_ABCD****MNOP`). */
const ECHO_PREFIX_LENGTH = 6;
/** Keys at least this long are also masked by their prefix; a shorter one's prefix is too common. */
const MIN_ECHOED_LENGTH = 12;
const KEY_CHARS = '[A-Za-z0-9_*.\\-…+/=]';

const known = new Set<string>();
let knownPattern: RegExp | null = null;

/** Registers a secret the gateway holds (a provider's key, say); returns it, so it can wrap the value where it is read. */
export function secret<T extends string | undefined>(value: T): T {
  if (value !== undefined && value.length >= MIN_SECRET_LENGTH && !known.has(value)) {
    known.add(value);
    knownPattern = null;
  }
  return value;
}

/** Registers the values of headers that carry credentials (Authorization, x-api-key, ...); returns the headers. */
export function secretHeaders<T extends Record<string, string> | undefined>(headers: T): T {
  if (headers) for (const [name, value] of Object.entries(headers)) if (/auth|key|token|secret|password/i.test(name)) secret(value);
  return headers;
}

const upstreams = new Set<string>();
let upstreamPattern: RegExp | null = null;

/**
 * Registers a provider's base URL: the address of an upstream is internal (DESIGN.md §4), and an
 * upstream's message that quotes it (`... at http://10.0.0.7:8000/v1/chat/completions`) is masked.
 */
export function upstreamAddress(url: string | undefined): void {
  if (url === undefined || !URL.canParse(url)) return;
  const { origin, host, port } = new URL(url);
  const before = upstreams.size;
  // The origin with whatever path follows it; host:port alone where the URL names a port.
  upstreams.add(`${escapeRegex(origin)}[^\\s"'<>,]*`);
  if (port) upstreams.add(`(?<![\\w.-])${escapeRegex(host)}(?![\\w])`);
  if (upstreams.size !== before) upstreamPattern = null;
}

/** For clients: masks every known secret, every registered upstream address and everything that looks like an API key. */
export function redactSecrets(text: string): string {
  return redactKeys(maskUpstreams(text));
}

/** For the operator's log: masks the keys only (known ones, and anything shaped like one). */
export function redactKeys(text: string): string {
  return maskKnown(text)
    // A key's dots are part of it (masked echoes: `sk-abc...xyz`); a sentence's full stop after it is not.
    .replace(/\b(?:sk|pk|rk|key|api[-_]?key)[-_][A-Za-z0-9_*.\-…]{4,}/gi, (key) => `[redacted]${trailingDots(key)}`)
    // A masked echo of some key (`gsk***********MNOP`): its visible ends are still part of a key.
    // Tried only where a run of key characters starts: from every position of a long run, the
    // greedy scan for the stars made the search quadratic (100,000 letters held the event loop 10 s).
    .replace(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]*\*{4,}[A-Za-z0-9_-]*/g, '[redacted]')
    .replace(/\bAIza[0-9A-Za-z_-]{20,}/g, '[redacted]') // Google API keys
    .replace(/\b(?:AKIA|ASIA)[0-9A-Z]{12,}/g, '[redacted]'); // AWS access key ids
}

function maskUpstreams(text: string): string {
  if (upstreams.size === 0) return text;
  upstreamPattern ??= new RegExp([...upstreams].join('|'), 'gi');
  return text.replace(upstreamPattern, '[upstream]');
}

function maskKnown(text: string): string {
  if (known.size === 0) return text;
  knownPattern ??= buildPattern();
  return text.replace(knownPattern, (match) => `[redacted]${trailingDots(match)}`);
}

/**
 * The full stops a match ends with (a sentence's, not the key's), counted from the end: a regular
 * expression for them retried from every dot of a long run, quadratic in a client's echoed text.
 */
function trailingDots(match: string): string {
  let start = match.length;
  while (start > 0 && match.charCodeAt(start - 1) === 0x2e) start--;
  return match.slice(start);
}

/** The known secrets whole (longest first, so none is masked by a shorter one's match), then their echoes. */
function buildPattern(): RegExp {
  const values = [...known].sort((a, b) => b.length - a.length);
  const whole = values.map(escapeRegex);
  const echoes = [...new Set(values.filter((value) => value.length >= MIN_ECHOED_LENGTH).map((value) => escapeRegex(value.slice(0, ECHO_PREFIX_LENGTH))))];
  // An echo starts a word: the prefix inside a longer run of letters is something else.
  const alternatives = [...whole, ...echoes.map((prefix) => `(?<![A-Za-z0-9_])${prefix}${KEY_CHARS}*`)];
  return new RegExp(alternatives.join('|'), 'g');
}
