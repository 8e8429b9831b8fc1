/** A configuration problem in words: zod's issues said with their path, the value received, and what was expected. */
import { z } from 'zod';

/**
 * `models.smart.targets[1].provider: unknown provider "opnai"`. A message the schema gives is kept;
 * zod's own wording is replaced by one that says the problem in words, with the value received
 * when the parse reported it (`reportInput`).
 */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  const message = describeIssue(issue);
  return path ? `${path}: ${message}` : message;
}

const libraryMessage = z.locales.en().localeError;

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  // A bad record key (e.g. a provider id): zod wraps the key schema's own issue.
  if (issue.code === 'invalid_key') return issue.issues[0] ? describeIssue(issue.issues[0]) : 'not a valid key';
  const wording = libraryMessage(issue as z.core.$ZodRawIssue);
  const isLibraryWording = issue.message === (typeof wording === 'string' ? wording : wording?.message);
  if (!isLibraryWording) return issue.message;
  return inWords(issue) ?? issue.message.replace(/^Invalid (input|option): /, '');
}

/** zod's issue in words, by its code; undefined keeps zod's (rare) wording. */
function inWords(issue: z.core.$ZodIssue): string | undefined {
  const got = received(issue);
  const withGot = (text: string): string => (got === undefined ? text : `${text}, got ${got}`);
  switch (issue.code) {
    case 'invalid_type': {
      if (/received undefined$/.test(issue.message)) return `is required (expected ${typeName(issue.expected)})`;
      return withGot(`expected ${typeName(issue.expected)}`);
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const limit = Number(small ? issue.minimum : issue.maximum);
      const unit = issue.origin === 'string' ? 'character' : issue.origin === 'array' || issue.origin === 'set' ? 'item' : undefined;
      if (unit === undefined) {
        const bound = issue.exact ? `exactly ${limit}` : issue.inclusive ? `${limit} or ${small ? 'more' : 'less'}` : `${small ? 'more' : 'less'} than ${limit}`;
        return withGot(`must be ${bound}`);
      }
      if (small && unit === 'character' && limit === 1 && !issue.exact) return 'must not be empty';
      const count = issue.exact ? `exactly ${limit}` : issue.inclusive ? `${small ? 'at least' : 'at most'} ${limit}` : `${small ? 'more' : 'fewer'} than ${limit}`;
      const length = lengthOf(issue);
      return `takes ${count} ${unit}${limit === 1 ? '' : 's'}${length === undefined ? '' : `, got ${length}`}`;
    }
    case 'invalid_value':
      return withGot(`expected ${issue.values.length === 1 ? literal(issue.values[0]) : `one of ${issue.values.map(literal).join(', ')}`}`);
    case 'invalid_format': {
      if (issue.format === 'url') return withGot('expected a URL such as https://example.com');
      if (issue.format === 'regex') return withGot(`does not have the expected form (${issue.pattern ?? 'a pattern'})`);
      const rest = issue.message.replace(/^Invalid (string: )?/, '');
      return withGot(/^must /.test(rest) ? rest : `expected ${article(rest)}`);
    }
    case 'not_multiple_of':
      return withGot(`must be a multiple of ${String(issue.divisor)}`);
    case 'invalid_union': {
      const expected = unionExpectations(issue);
      return expected ? withGot(`expected ${expected}`) : withGot('is not any of the accepted forms');
    }
    case 'custom':
      return withGot('is not valid');
    default:
      return undefined;
  }
}

/** `"p95" or a number`, when every alternative failed on the value's type or literal value. */
function unionExpectations(issue: z.core.$ZodIssueInvalidUnion): string | undefined {
  if (issue.errors.length === 0) {
    // A discriminated union: no alternative has this discriminator.
    const options = 'options' in issue && Array.isArray(issue.options) ? (issue.options as unknown[]) : [];
    return options.length > 0 ? `one of ${options.map(literal).join(', ')}` : undefined;
  }
  const parts: string[] = [];
  for (const branch of issue.errors) {
    const [first] = branch;
    if (branch.length !== 1 || !first || first.path.length > 0) return undefined;
    if (first.code === 'invalid_type') parts.push(typeName(first.expected));
    else if (first.code === 'invalid_value') parts.push(...first.values.map(literal));
    else return undefined;
  }
  return [...new Set(parts)].join(' or ');
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  nan: 'NaN',
  boolean: 'true or false',
  object: 'a mapping (key: value pairs)',
  record: 'a mapping (key: value pairs)',
  array: 'a list',
  null: 'an empty value',
  date: 'a date',
};

function typeName(type: string): string {
  return TYPE_NAMES[type] ?? type;
}

/** Values of keys like these are never quoted back. */
const SECRET_KEY = /(^|_)(api_?key|key|secret|token|password|credentials?(_json)?|master_key)$/i;

/** A credential's place: a key named like one, or any header's value (Authorization, x-api-key, ...). */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  const last = path.at(-1);
  return (typeof last === 'string' && SECRET_KEY.test(last)) || path.at(-2) === 'headers';
}

/** The value received, for the message: quoted, shortened, without credentials; undefined when unknown. */
function received(issue: z.core.$ZodIssue): string | undefined {
  if (!('input' in issue) || issue.input === undefined) {
    // Without reportInput zod still names the type received in its invalid_type message.
    const type = issue.code === 'invalid_type' ? /received (\w+)$/.exec(issue.message)?.[1] : undefined;
    return type && type !== 'undefined' ? typeName(type) : undefined;
  }
  const input = issue.input;
  if (input === null) return 'an empty value';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (isSecretPath(issue.path)) return typeName(typeof input);
  if (typeof input === 'string') {
    const shown = input.length > 60 ? `${input.slice(0, 57)}...` : input;
    return JSON.stringify(shown.replace(/\/\/[^/@\s]*@/, '//***@'));
  }
  return String(input as number | boolean | bigint);
}

function lengthOf(issue: z.core.$ZodIssue): number | undefined {
  const input = 'input' in issue ? issue.input : undefined;
  if (typeof input === 'string' || Array.isArray(input)) return input.length;
  if (input instanceof Set) return input.size;
  return undefined;
}

function literal(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    // A key with whitespace or control characters in it is quoted, so the path stays one readable line.
    // eslint-disable-next-line no-control-regex
    else if (/[\s\u0000-\u001f\u007f]/.test(String(key)) || String(key) === '') out += `[${JSON.stringify(String(key))}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}
