/** Value schemas shared by the configuration's parts. */
import { z } from 'zod';

export const byteSize = z.union([
  z.number().int().positive(),
  z.string().regex(/^\s*\d+(\.\d+)?\s*(b|kb|mb|gb)?\s*$/i, 'expected a byte size such as 10485760, "512kb" or "10mb"'),
]).transform((value) => {
  if (typeof value === 'number') return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  const units: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Math.floor(Number(match?.[1]) * (units[(match?.[2] ?? 'b').toLowerCase()] ?? 1));
});

/**
 * Values interpolated from env vars arrive as strings: numbers and booleans accept their string
 * forms, but an empty or null value is an error rather than a silent 0 / false.
 */
export const numeric = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v), schema);
export const boolean = () => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

export const millis = numeric(z.number().int().nonnegative());

