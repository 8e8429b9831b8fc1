/**
 * What both API surfaces' request validation shares: the body must be a JSON object, the schema
 * checks it without copying (the original object, unknown fields and all, is what goes on), and
 * the first problem is reported; each surface words it its own way.
 */
import { z } from 'zod';
import { GatewayError } from '../gateway/errors.js';

/**
 * The longest `model` the gateway takes. Real names are far shorter (Bedrock ARNs and Vertex
 * resource paths run to ~150 characters); the name goes back in the x-switchyard-model header,
 * and a name of ~16 KB would make the answer's headers larger than Node's clients accept.
 */
export const MAX_MODEL_LENGTH = 512;

/** `model` on every API surface: a name, not empty, not longer than MAX_MODEL_LENGTH. */
export const modelName = z.string().min(1, 'must not be empty').max(MAX_MODEL_LENGTH, `must be at most ${MAX_MODEL_LENGTH} characters`);

export interface BodyIssue {
  path: PropertyKey[];
  /** zod's issue code (`invalid_type`, `custom`, ...). */
  code: string;
  /** zod says it received undefined: the field is absent rather than wrong. */
  missing: boolean;
  /** The problem in words, in JSON's terms: `must be at least 1`, `must be a number, not a string`. */
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
    detail: inWords(issue),
  };
}

/** zod's own messages start like these; the schemas' custom ones (`must not be empty`) never do. */
const LIBRARY_WORDING = /^(Invalid (input|option)|Too (small|big))\b/;

const JSON_TYPES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function jsonType(type: string): string {
  return JSON_TYPES[type] ?? type;
}

function inWords(issue: z.core.$ZodIssue): string {
  if (!LIBRARY_WORDING.test(issue.message)) return issue.message;
  // A wrong type, also as a custom issue that carries a nested schema's message (Anthropic's blocks).
  // Without reportInput, zod names the type it got only in its message.
  const wrongType = /^Invalid input: expected (\w+), received (\w+)$/.exec(issue.message);
  if (wrongType) {
    const [, expected, got] = wrongType as unknown as [string, string, string];
    if (expected === 'int' && got === 'number') return 'must be an integer';
    return `must be ${jsonType(expected)}${got === 'undefined' ? '' : `, not ${jsonType(got)}`}`;
  }
  switch (issue.code) {
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const limit = Number(small ? issue.minimum : issue.maximum);
      const bound = issue.exact ? `exactly ${limit}` : issue.inclusive ? `${small ? 'at least' : 'at most'} ${limit}` : `${small ? 'more' : 'less'} than ${limit}`;
      if (issue.origin === 'array') return `must have ${bound} item${limit === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return small && limit === 1 && !issue.exact ? 'must not be empty' : `must be ${bound} characters long`;
      return `must be ${bound}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    default:
      return issue.message.replace(/^Invalid (input|option): /, '');
  }
}
