/** Value schemas shared by the configuration's parts. */
import { isIP } from 'node:net';
import { z } from 'zod';

const BYTE_SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i;
const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * A size in bytes: a positive whole number, or a string such as "512kb" or "1.5mb". A string is
 * floored to whole bytes, and must still come out at 1 byte or more (`0mb` and `0.1b` would be 0,
 * which no consumer accepts: Fastify's bodyLimit, for one, refuses to start).
 */
export const byteSize = z.union([
  z.number().int().positive(),
  z.string().regex(BYTE_SIZE, 'expected a byte size such as 10485760, "512kb" or "10mb"'),
]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const match = BYTE_SIZE.exec(value);
  const bytes = Math.floor(Number(match?.[1]) * (BYTE_UNITS[(match?.[2] ?? 'b').toLowerCase()] ?? 1));
  if (bytes < 1) {
    ctx.addIssue({ code: 'custom', input: value, message: `must be at least 1 byte, got ${JSON.stringify(value)} (${bytes} bytes)` });
    return z.NEVER;
  }
  return bytes;
});

/** A number as a string, in decimal only: Number() would also take "0x50", "1e3" and "0b1" (env-overrides.ts reads PORT alike). */
const DECIMAL = /^\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*$/;

/**
 * Values interpolated from env vars arrive as strings: numbers and booleans accept their string
 * forms, but an empty or null value is an error rather than a silent 0 / false.
 */
export const numeric = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v), schema);
export const boolean = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/** An empty value (an unset ${VAR}) counts as not set. */
export const unsetIfEmpty = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema);

/** A duration in ms where 0 means something (no limit, no delay, at once). */
export const millis = numeric(z.number().int().nonnegative());
/** A duration in ms that must be more than 0: an interval (0 would spin), a timeout (0 would always fail). */
export const positiveMillis = numeric(z.number().int().positive());

/**
 * What keeps a string from being sent as an HTTP header value (undici refuses it, and the request
 * never leaves), or undefined. A secret file's trailing newline is the usual case.
 */
export function headerValueProblem(value: string): string | undefined {
  if (/[\r\n]/.test(value)) return 'contains a line break, which an HTTP header cannot carry (a trailing newline from a secret file?)';
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) return 'contains a control or non-Latin-1 character, which an HTTP header cannot carry';
  return undefined;
}

/** A string sent in an HTTP header (an API key, a version, a header's value). */
export const headerValue = z.string().superRefine((value, ctx) => {
  const problem = headerValueProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** HTTP header names are tokens (RFC 9110 §5.1). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const headersSchema = z.record(z.string().regex(HEADER_NAME, 'is not a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~ only)'), headerValue);

/** An upstream's URL: http or https only (a scheme-less "localhost:8000/v1" parses as scheme "localhost:"). */
export const httpUrl = z.url({
  protocol: /^https?$/,
  error: (issue) => {
    // Other problems (missing, not a string) keep the loader's wording.
    if (issue.code !== 'invalid_format' || typeof issue.input !== 'string') return undefined;
    const got = JSON.stringify(issue.input);
    if (/^[a-z0-9.-]+:\d+(?:\/|$)/i.test(issue.input)) return `expected an http(s) URL, got ${got} (did you mean "http://${issue.input}"?)`;
    return `expected an http(s) URL such as https://api.example.com/v1, got ${got}`;
  },
});

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** An address to listen on: an IPv4 or IPv6 address, or a host name (resolved when the gateway starts). */
export function isListenHost(value: string): boolean {
  return isIP(value) !== 0 || HOST_NAME.test(value);
}
export const LISTEN_HOST_EXPECTED = 'expected an IP address (0.0.0.0, ::, 127.0.0.1) or a host name';
