/** Value schemas shared by the configuration's parts. */
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

/**
 * Values interpolated from env vars arrive as strings: numbers and booleans accept their string
 * forms, but an empty or null value is an error rather than a silent 0 / false.
 */
export const numeric = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v), schema);
export const boolean = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

/** A duration in ms where 0 means something (no limit, no delay, at once). */
export const millis = numeric(z.number().int().nonnegative());
/** A duration in ms that must be more than 0: an interval (0 would spin), a timeout (0 would always fail). */
export const positiveMillis = numeric(z.number().int().positive());
