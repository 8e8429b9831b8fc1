/**
 * What both API surfaces' request validation shares: the body must be a JSON object, the schema
 * checks it without copying (the original object, unknown fields and all, is what goes on), and
 * the first problem is reported; each surface words it its own way.
 */
import type { z } from 'zod';
import { GatewayError } from '../gateway/errors.js';

export interface BodyIssue {
  path: PropertyKey[];
  /** zod's issue code (`invalid_type`, `custom`, ...). */
  code: string;
  /** zod says it received undefined: the field is absent rather than wrong. */
  missing: boolean;
  /** zod's message without its generic "Invalid input:" prefix. */
  detail: string;
}

/** Undefined when `body` passes `schema`; throws a 400 when it is not a JSON object at all. */
export function firstIssue(schema: z.ZodType, body: unknown): BodyIssue | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
  const result = schema.safeParse(body);
  if (result.success) return undefined;
  const issue = result.error.issues[0]!;
  return {
    path: issue.path,
    code: issue.code,
    missing: issue.message.endsWith('received undefined'),
    detail: issue.message.replace(/^Invalid (input|option): /, ''),
  };
}
