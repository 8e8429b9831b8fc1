/**
 * The client's own JSON bytes of a request, kept on the object decoded from them, so a request
 * that goes upstream in the same format can be sent as the client wrote it with a member or two
 * edited (the model name), instead of being serialised again: JSON.stringify of an 8 KB prompt
 * costs ~3.5 times its JSON.parse, more than the rest of the gateway's work on the request.
 *
 * The bytes ride on the object as a non-enumerable symbol property, like the upstream's text of an
 * answer (raw-json.ts): a copy made to change the request ({ ...request }) does not carry them,
 * so only the unchanged object is ever sent as its bytes. Stages change requests by copying.
 *
 * The walks over those bytes (the top-level members, the nesting depth the body reader limits)
 * share one way of skipping strings: a native search for the closing quote.
 */
const CLIENT_JSON = Symbol('switchyard.clientJson');

interface WithClientJson {
  [CLIENT_JSON]?: Buffer;
}

export function withClientJson<T extends object>(value: T, json: Buffer): T {
  Object.defineProperty(value, CLIENT_JSON, { value: json, writable: true, configurable: true });
  return value;
}

export function clientJsonOf(value: object): Buffer | undefined {
  return (value as WithClientJson)[CLIENT_JSON];
}

/**
 * The client's bytes of `value` with its top-level `model` set to `upstreamModel` (the bytes
 * themselves when it already is), and with a member added at the end when `append` names one.
 * Undefined when the value carries no bytes, when they cannot be edited so, or when the member to
 * add is there already: the caller serialises the value instead.
 */
export function clientJsonWithModel(value: { model: string }, upstreamModel: string, append?: { name: string; json: string }): Buffer | undefined {
  const json = clientJsonOf(value);
  const top = json && topLevelMembers(json);
  const model = top?.members.get('model');
  if (!top || !model || (append && top.members.has(append.name))) return undefined;
  const edits: JsonEdit[] = [];
  if (value.model !== upstreamModel) edits.push({ start: model.start, end: model.end, text: JSON.stringify(upstreamModel) });
  if (append) edits.push({ start: top.close, end: top.close, text: `,${JSON.stringify(append.name)}:${append.json}` });
  return applyEdits(json, edits);
}

/** Where a top-level member's value sits in the JSON: bytes [start, end). */
export interface MemberRange {
  start: number;
  end: number;
}

export interface TopLevelMembers {
  members: Map<string, MemberRange>;
  /** The offset of the object's closing brace. */
  close: number;
}

/**
 * The members of a JSON object's text (valid JSON, as JSON.parse accepted it), by key, with where
 * each value lies; nested values are skipped, strings with native searches. Undefined for anything
 * else — not an object, a byte order mark, a key given twice (JSON.parse keeps the last; the
 * caller serialises instead of guessing) — so callers fall back to JSON.stringify.
 */
export function topLevelMembers(json: Buffer): TopLevelMembers | undefined {
  let at = skipSpace(json, 0);
  if (json[at] !== OPEN_BRACE) return undefined;
  const members = new Map<string, MemberRange>();
  at = skipSpace(json, at + 1);
  if (json[at] === CLOSE_BRACE) return wholeText(json, members, at);
  for (;;) {
    if (json[at] !== QUOTE) return undefined;
    const keyEnd = stringEnd(json, at);
    if (keyEnd < 0) return undefined;
    const key = keyOf(json, at, keyEnd);
    at = skipSpace(json, keyEnd + 1);
    if (json[at] !== COLON) return undefined;
    const start = skipSpace(json, at + 1);
    const end = valueEnd(json, start);
    if (end < 0 || key === undefined || members.has(key)) return undefined;
    members.set(key, { start, end });
    at = skipSpace(json, end);
    if (json[at] === COMMA) {
      at = skipSpace(json, at + 1);
      continue;
    }
    return json[at] === CLOSE_BRACE ? wholeText(json, members, at) : undefined;
  }
}

export interface JsonEdit {
  /** Bytes [start, end) are replaced by `text`; start === end inserts it there. */
  start: number;
  end: number;
  text: string;
}

/** The JSON with the edits made (in any order; they must not overlap), copied once into a new buffer. */
export function applyEdits(json: Buffer, edits: readonly JsonEdit[]): Buffer {
  if (edits.length === 0) return json;
  const sorted = edits.length === 1 ? edits : [...edits].sort((a, b) => a.start - b.start);
  let length = json.length;
  for (const edit of sorted) length += Buffer.byteLength(edit.text, 'utf8') - (edit.end - edit.start);
  const out = Buffer.allocUnsafe(length);
  let from = 0;
  let to = 0;
  for (const edit of sorted) {
    to += json.copy(out, to, from, edit.start);
    to += out.write(edit.text, to, 'utf8');
    from = edit.end;
  }
  json.copy(out, to, from);
  return out;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Only whitespace may follow the object's closing brace. */
function wholeText(json: Buffer, members: Map<string, MemberRange>, close: number): TopLevelMembers | undefined {
  return skipSpace(json, close + 1) === json.length ? { members, close } : undefined;
}

function skipSpace(json: Buffer, at: number): number {
  let byte = json[at];
  // JSON's whitespace: space, tab, line feed, carriage return.
  while (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) byte = json[++at];
  return at;
}

/** The offset of the quote closing the string that opens at `open`; -1 if there is none. */
function stringEnd(json: Buffer, open: number): number {
  let quote = json.indexOf(QUOTE, open + 1);
  while (quote !== -1) {
    // A quote after an odd number of backslashes is escaped.
    let backslashes = 0;
    while (json[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = json.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

/** A key as JSON.parse reads it (escapes decoded); undefined if it is not a valid string. */
function keyOf(json: Buffer, open: number, close: number): string | undefined {
  let plain = true;
  for (let at = open + 1; at < close && plain; at++) plain = json[at]! < 0x80 && json[at] !== BACKSLASH;
  // ASCII without escapes (nearly every key) reads the same as Latin-1, which decodes fastest.
  if (plain) return json.toString('latin1', open + 1, close);
  try {
    return JSON.parse(json.toString('utf8', open, close + 1)) as string;
  } catch {
    return undefined;
  }
}

/** The deepest nesting of arrays and objects in valid JSON (brackets inside strings not counted). */
export function nestingDepth(json: Buffer): number {
  let depth = 0;
  let deepest = 0;
  for (let at = 0; at < json.length; at++) {
    const byte = json[at];
    if (byte === QUOTE) {
      at = stringEnd(json, at);
      if (at < 0) break;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > deepest) deepest = depth;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

/** The offset just past the value that starts at `start`; -1 if it does not end. */
function valueEnd(json: Buffer, start: number): number {
  const first = json[start];
  if (first === QUOTE) {
    const close = stringEnd(json, start);
    return close < 0 ? -1 : close + 1;
  }
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let at = start; at < json.length; at++) {
      const byte = json[at];
      if (byte === QUOTE) {
        at = stringEnd(json, at);
        if (at < 0) return -1;
      } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
        depth++;
      } else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth === 0) {
        return at + 1;
      }
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let at = start;
  for (let byte = json[at]; byte !== undefined && byte !== COMMA && byte !== CLOSE_BRACE && byte !== CLOSE_BRACKET && byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d; byte = json[++at]);
  return at === start ? -1 : at;
}
