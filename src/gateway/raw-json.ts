/**
 * The upstream's own JSON text of a response or chunk that the gateway passes on unchanged, so
 * encoding it for an OpenAI client costs nothing (JSON.stringify per streamed chunk is one of the
 * larger per-request costs). Only the OpenAI-format adapter attaches it. A stage that changes a
 * value after decoding must call `dropRawJson` so the stale text is not sent.
 */

/**
 * The text rides on the value as a non-enumerable symbol property: spreads, Object.assign,
 * structuredClone and JSON.stringify never carry it to another value. (A WeakMap held an entry per
 * streamed chunk, and V8's scavenges walk such tables: ~0.1 µs more a chunk in a micro-benchmark,
 * and garbage-collection time besides.)
 */
const RAW = Symbol('switchyard.rawJson');

interface WithRaw {
  [RAW]?: string;
}

export function withRawJson<T extends object>(value: T, json: string): T {
  Object.defineProperty(value, RAW, { value: json, writable: true, configurable: true });
  return value;
}

function rawOf(value: object): string | undefined {
  return (value as WithRaw)[RAW];
}

/**
 * A value known only by its JSON text (a cached answer sent as it was stored): `toJson` gives the
 * text back without parsing it. Its members cannot be read, so use it only for a value that goes
 * straight to an OpenAI client.
 */
export function jsonTextOnly<T extends object>(json: string): T {
  return new JsonText(json) as unknown as T;
}

/** A value that is its JSON text (no WeakMap entry: hits are many and short-lived). */
class JsonText {
  constructor(readonly text: string) {}
}

export function dropRawJson(value: object): void {
  if (rawOf(value) !== undefined) (value as WithRaw)[RAW] = undefined;
}

/** The value as JSON: the upstream's text when it is known to be current, else serialised. */
export function toJson(value: object): string {
  if (value instanceof JsonText) return value.text;
  return rawOf(value) ?? JSON.stringify(value);
}

const NULL_USAGE = '"usage":null';

/**
 * A chunk as JSON without its top-level `usage` field (for clients that did not ask for usage,
 * while the gateway asked the upstream for it). On OpenAI's compact JSON the `"usage":null` member
 * is cut out of the raw text; anything else (whitespace, a second occurrence, a non-null value)
 * falls back to deleting the field and serialising.
 */
export function toJsonWithoutUsage(chunk: { usage?: unknown }): string {
  if (!('usage' in chunk)) return toJson(chunk);
  const raw = rawOf(chunk);
  if (raw !== undefined && chunk.usage === null) {
    const at = raw.indexOf(NULL_USAGE);
    if (at > 0 && raw.indexOf(NULL_USAGE, at + 1) === -1) {
      const end = at + NULL_USAGE.length;
      if (raw[at - 1] === ',') return raw.slice(0, at - 1) + raw.slice(end);
      if (raw[end] === ',') return raw.slice(0, at) + raw.slice(end + 1);
    }
  }
  delete chunk.usage;
  dropRawJson(chunk);
  return JSON.stringify(chunk);
}
