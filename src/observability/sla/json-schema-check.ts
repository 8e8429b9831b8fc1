/**
 * Output-format compliance: does an answer to `response_format: json_schema` match its schema?
 * Validators are compiled with ajv once per distinct schema (an LRU of 256). The schema comes from
 * the client, so what could hurt the gateway is not checked at all: schemas over 64 KiB, answers
 * over 1 MiB, and regular expressions that could backtrack catastrophically (nested quantifiers,
 * backreferences). `format` keywords are not checked.
 */
import { createRequire } from 'node:module';
import type AjvModule from 'ajv';
import type { ValidateFunction } from 'ajv';

const MAX_VALIDATORS = 256;
const MAX_SCHEMA_CHARS = 64 * 1024;
const MAX_TEXT_CHARS = 1024 * 1024;
const MAX_PATTERN_CHARS = 1000;

/**
 * ajv, created on the first schema check: it costs ~8 MB of memory and compiles its meta-schemas,
 * which a gateway whose clients never ask for json_schema answers should not pay. It is CommonJS,
 * so it loads synchronously (once, ~20 ms).
 */
let ajv: InstanceType<typeof AjvModule.default> | undefined;

function ajvInstance(): InstanceType<typeof AjvModule.default> {
  if (ajv) return ajv;
  const { default: Ajv } = createRequire(import.meta.url)('ajv') as typeof AjvModule;
  ajv = new Ajv({
    strict: false,
    allErrors: false,
    validateFormats: false,
    // Compiled schemas are not kept by $id (clients may reuse ids with different content).
    addUsedSchema: false,
    logger: false,
    code: { regExp: Object.assign(safeRegExp, { code: 'new RegExp' }) },
  });
  return ajv;
}

/** Compiled validators by schema JSON text; null: the schema could not be compiled (or is not checked). */
const validators = new Map<string, ValidateFunction | null>();

/**
 * Whether `text` is JSON matching `schema`: false when it is not JSON at all; undefined when the
 * schema cannot be (or is not) checked, so the answer is not counted either way.
 */
export function checkJsonSchema(schema: unknown, text: string): boolean | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return undefined;
  if (text.length > MAX_TEXT_CHARS) return undefined;
  const validate = validatorFor(schema as Record<string, unknown>);
  if (!validate) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return false;
  }
  try {
    return validate(data) === true;
  } catch {
    return undefined;
  }
}

/** The schema of an OpenAI `response_format: { type: 'json_schema', json_schema: { name, schema, strict } }`. */
export function schemaOf(responseFormat: unknown): object | undefined {
  if (!isRecord(responseFormat) || responseFormat.type !== 'json_schema') return undefined;
  const jsonSchema = responseFormat.json_schema;
  if (!isRecord(jsonSchema)) return undefined;
  return isRecord(jsonSchema.schema) ? jsonSchema.schema : undefined;
}

function validatorFor(schema: Record<string, unknown>): ValidateFunction | undefined {
  let key: string;
  try {
    key = JSON.stringify(schema);
  } catch {
    return undefined;
  }
  if (key.length > MAX_SCHEMA_CHARS) return undefined;
  const cached = validators.get(key);
  if (cached !== undefined) {
    // Most recently used last, so the first key is the one to evict.
    validators.delete(key);
    validators.set(key, cached);
    return cached ?? undefined;
  }
  const validate = compile(schema);
  validators.set(key, validate);
  if (validators.size > MAX_VALIDATORS) validators.delete(validators.keys().next().value!);
  return validate ?? undefined;
}

function compile(schema: Record<string, unknown>): ValidateFunction | null {
  // The draft a client names ($schema) may be one this ajv has no meta-schema for (the keywords
  // structured outputs use mean the same in every draft), and a top-level $id must not touch
  // ajv's own schemas (removeSchema below drops what an $id names).
  const { $schema: _draft, $id: _id, ...rest } = schema;
  const validator = ajvInstance();
  try {
    return validator.compile(rest);
  } catch {
    return null;
  } finally {
    validator.removeSchema(rest);
  }
}

/** ajv's RegExp engine, refusing patterns that could take exponential time on a crafted answer. */
function safeRegExp(pattern: string, flags: string): RegExp {
  if (pattern.length > MAX_PATTERN_CHARS || riskyPattern(pattern)) throw new Error('pattern not checked: it could backtrack catastrophically');
  return new RegExp(pattern, flags);
}

/**
 * Backreferences, or a group that repeats without bound (`*`, `+`, `{n,}`) while holding a
 * repetition or an alternation: the shapes of catastrophic backtracking, e.g. `(a+)+`, `(a|aa)*`.
 */
export function riskyPattern(pattern: string): boolean {
  if (/\\[1-9]|\\k</.test(pattern)) return true;
  /** Per open group: whether it holds a repetition or alternation. */
  const groups: boolean[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') {
      i++;
    } else if (char === '[') {
      // A character class: skip to its end.
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
    } else if (char === '(') {
      groups.push(false);
    } else if (char === ')') {
      const holdsRepetition = groups.pop() ?? false;
      const next = pattern[i + 1];
      const repeated = next === '*' || next === '+' || (next === '{' && /^\{\d*,\d*\}/.test(pattern.slice(i + 1)) && !/^\{\d+\}/.test(pattern.slice(i + 1)));
      if (repeated && holdsRepetition) return true;
      if (groups.length > 0 && (holdsRepetition || repeated)) groups[groups.length - 1] = true;
    } else if (char === '*' || char === '+' || char === '|' || (char === '{' && !/^\{\d+\}/.test(pattern.slice(i)))) {
      // (An exact count such as {3} repeats nothing ambiguously.)
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
  }
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
