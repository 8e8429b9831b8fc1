/**
 * The schema of content-based routing rules (docs/routing-rules.md): it validates a rule's
 * `when:` mapping into a typed condition tree, with errors that name the problem and its path.
 * routing/rules.ts compiles the tree for evaluation.
 */
import { z } from 'zod';
import { numeric } from '../config/values.js';

// ---------------------------------------------------------------------------------------------
// The condition tree (the schema's output)

/** Text fields; `metadata.<tag>` and `header.<name>` (lower-case) are text too. */
const TEXT_FIELDS = ['model', 'prompt', 'last_user_message', 'system', 'key', 'team', 'org'] as const;
const NUMBER_FIELDS = ['prompt_tokens', 'max_tokens'] as const;
const BOOLEAN_FIELDS = ['stream'] as const;

/** A field holding text. */
export type TextField = (typeof TEXT_FIELDS)[number] | `metadata.${string}` | `header.${string}`;
/** A field holding a number. */
export type NumberField = (typeof NUMBER_FIELDS)[number];

/** Operators on a text field; several in one test must all hold. */
export interface TextTest {
  eq?: string;
  ne?: string;
  in?: string[];
  not_in?: string[];
  /** JavaScript RegExp source, with `flags` (i, m, s, u, v) beside it. */
  regex?: string;
  flags?: string;
  /** Case-insensitive substring. */
  contains?: string;
  contains_any?: string[];
  exists?: boolean;
}

/** Operators on a number field; several in one test must all hold. */
export interface NumberTest {
  eq?: number;
  ne?: number;
  in?: number[];
  not_in?: number[];
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  exists?: boolean;
}

/** Operators on a boolean field. */
export interface BooleanTest {
  eq?: boolean;
  ne?: boolean;
  exists?: boolean;
}

/** A validated `when:` condition. A mapping with several keys becomes an `and` of its entries. */
export type RuleCondition =
  | { readonly kind: 'text'; readonly field: TextField; readonly test: TextTest }
  | { readonly kind: 'number'; readonly field: NumberField; readonly test: NumberTest }
  | { readonly kind: 'boolean'; readonly field: 'stream'; readonly test: BooleanTest }
  | { readonly kind: 'and' | 'or'; readonly conditions: readonly RuleCondition[] }
  | { readonly kind: 'not'; readonly condition: RuleCondition };

type FieldKind = 'text' | 'number' | 'boolean';

// ---------------------------------------------------------------------------------------------
// Schema

const OPERATORS: Record<FieldKind, readonly string[]> = {
  text: ['eq', 'ne', 'in', 'not_in', 'regex', 'flags', 'contains', 'contains_any', 'exists'],
  number: ['eq', 'ne', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'exists'],
  boolean: ['eq', 'ne', 'exists'],
};

/** YAML reads `eq: 2024` or `eq: true` as a number / boolean; for a text field it means the text. */
const text = (what: string) =>
  z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string({ error: `${what} takes a text value` }));
const textList = (what: string) => z.array(text(what), { error: `${what} takes a list, e.g. ${what}: [free, trial]` }).min(1, `${what} needs at least one value`);
const keyword = (what: string) => text(what).pipe(z.string().min(1, `${what} needs non-empty keywords`));
const number = (what: string) => numeric(z.number({ error: `${what} takes a number` }));
const numberList = (what: string) => z.array(number(what), { error: `${what} takes a list of numbers` }).min(1, `${what} needs at least one value`);
/** Interpolated env values arrive as text: like config/values.ts, "true" / "false" are booleans. */
const bool = (what: string) => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: `${what} takes true or false` }));

/** `g` and `y` make a RegExp stateful (lastIndex), which a pattern shared by every request must not be. */
const REGEX_FLAGS = /^[imsuv]*$/;

// Unknown operators are reported by `parseFieldTest` with the operators the field takes, so these
// objects strip rather than reject (one clear message instead of two).
const textTestSchema = z
  .object({
    eq: text('eq').optional(),
    ne: text('ne').optional(),
    in: textList('in').optional(),
    not_in: textList('not_in').optional(),
    regex: z.string({ error: 'regex takes a pattern (text)' }).min(1, 'an empty regex matches everything; use exists: true').optional(),
    flags: z.string({ error: 'flags takes text such as "i"' }).regex(REGEX_FLAGS, 'flags may use i, m, s, u and v (g and y would make the shared pattern stateful)').optional(),
    contains: keyword('contains').optional(),
    contains_any: z.array(keyword('contains_any'), { error: 'contains_any takes a list, e.g. contains_any: [python, typescript]' }).min(1, 'contains_any needs at least one keyword').optional(),
    exists: bool('exists').optional(),
  })
  .superRefine((test, ctx) => {
    if (test.flags !== undefined && test.regex === undefined) ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags apply to regex, which this test does not have' });
    if (test.regex === undefined) return;
    try {
      new RegExp(test.regex, test.flags);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['regex'], message: (err as Error).message });
    }
  });

const numberTestSchema = z.object({
  eq: number('eq').optional(),
  ne: number('ne').optional(),
  in: numberList('in').optional(),
  not_in: numberList('not_in').optional(),
  gt: number('gt').optional(),
  gte: number('gte').optional(),
  lt: number('lt').optional(),
  lte: number('lte').optional(),
  exists: bool('exists').optional(),
});

const booleanTestSchema = z.object({ eq: bool('eq').optional(), ne: bool('ne').optional(), exists: bool('exists').optional() });

const TEST_SCHEMAS = { text: textTestSchema, number: numberTestSchema, boolean: booleanTestSchema } as const;

const FIELD_LIST = `${[...TEXT_FIELDS, ...NUMBER_FIELDS, ...BOOLEAN_FIELDS].join(', ')}, metadata.<tag>, header.<name>`;
/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

type Issue = { message: string; path: PropertyKey[] };
type Parsed<T> = { value: T; issues?: undefined } | { value?: undefined; issues: Issue[] };

const fail = <T>(message: string, path: PropertyKey[] = []): Parsed<T> => ({ issues: [{ message, path }] });

function fromZod<T>(result: z.ZodSafeParseResult<T>, prefix: PropertyKey[]): Parsed<T> {
  if (result.success) return { value: result.data };
  return { issues: result.error.issues.map((issue) => ({ message: issue.message.replace(/^Invalid input: /, ''), path: [...prefix, ...issue.path] })) };
}

/** Which field a condition key names, or why it names none. */
function classifyField(key: string): { kind: FieldKind; field: string } | { problem: string } {
  if ((TEXT_FIELDS as readonly string[]).includes(key)) return { kind: 'text', field: key };
  if ((NUMBER_FIELDS as readonly string[]).includes(key)) return { kind: 'number', field: key };
  if ((BOOLEAN_FIELDS as readonly string[]).includes(key)) return { kind: 'boolean', field: key };
  if (key === 'metadata' || key === 'header') return { problem: `write "${key}.<name>" as one key, e.g. "${key === 'metadata' ? 'metadata.tier' : 'header.x-team'}": { eq: ... }` };
  if (key.startsWith('metadata.')) {
    return key.length > 'metadata.'.length ? { kind: 'text', field: key } : { problem: '"metadata." needs a tag name, e.g. metadata.tier' };
  }
  if (key.startsWith('header.')) {
    const name = key.slice('header.'.length).toLowerCase();
    if (!HEADER_NAME.test(name)) return { problem: `"${key}" does not name a valid HTTP header` };
    return { kind: 'text', field: `header.${name}` };
  }
  return { problem: `unknown field "${key}"; a condition tests ${FIELD_LIST}, or combines conditions with and, or, not` };
}

function parseFieldTest(key: string, value: unknown): Parsed<RuleCondition> {
  const field = classifyField(key);
  if ('problem' in field) return fail(field.problem, [key]);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`expected a test such as { eq: ... }, { in: [...] } or { exists: true }`, [key]);
  const allowed = OPERATORS[field.kind];
  const operators = Object.keys(value);
  if (operators.length === 0) return fail(`the test for "${key}" needs an operator: ${allowed.join(', ')}`, [key]);
  const unknown = operators.filter((op) => !allowed.includes(op));
  if (unknown.length > 0) {
    return { issues: unknown.map((op) => ({ message: `${describeOperator(op, field.kind)}; "${key}" takes ${allowed.join(', ')}`, path: [key, op] })) };
  }
  const parsed = fromZod<TextTest | NumberTest | BooleanTest>(TEST_SCHEMAS[field.kind].safeParse(value), [key]);
  if (parsed.issues) return parsed;
  return { value: { kind: field.kind, field: field.field, test: parsed.value } as RuleCondition };
}

function describeOperator(op: string, kind: FieldKind): string {
  const kindsWithOp = (Object.keys(OPERATORS) as FieldKind[]).filter((k) => OPERATORS[k].includes(op));
  if (kindsWithOp.length === 0) return `unknown operator "${op}"`;
  return `"${op}" applies to ${kindsWithOp.join(' and ')} fields, not to a ${kind} field`;
}

function parseEntry(key: string, value: unknown): Parsed<RuleCondition> {
  if (key === 'and' || key === 'or') {
    if (!Array.isArray(value)) return fail(`${key} takes a list of conditions`, [key]);
    if (value.length === 0) return fail(`${key} needs at least one condition`, [key]);
    const conditions: RuleCondition[] = [];
    const issues: Issue[] = [];
    value.forEach((item, i) => {
      const parsed = parseCondition(item);
      if (parsed.issues) issues.push(...parsed.issues.map((issue) => ({ message: issue.message, path: [key, i, ...issue.path] })));
      else conditions.push(parsed.value);
    });
    return issues.length > 0 ? { issues } : { value: { kind: key, conditions } };
  }
  if (key === 'not') {
    if (Array.isArray(value)) return fail('not takes one condition, not a list (wrap several in and / or)', [key]);
    const parsed = parseCondition(value);
    if (parsed.issues) return { issues: parsed.issues.map((issue) => ({ message: issue.message, path: [key, ...issue.path] })) };
    return { value: { kind: 'not', condition: parsed.value } };
  }
  return parseFieldTest(key, value);
}

function parseCondition(raw: unknown): Parsed<RuleCondition> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('expected a condition: a mapping of fields to tests, e.g. { model: { eq: smart } }, or and / or / not');
  }
  const entries = Object.entries(raw);
  if (entries.length === 0) return fail('an empty condition; test at least one field, or use and / or / not');
  const conditions: RuleCondition[] = [];
  const issues: Issue[] = [];
  for (const [key, value] of entries) {
    const parsed = parseEntry(key, value);
    if (parsed.issues) issues.push(...parsed.issues);
    else conditions.push(parsed.value);
  }
  if (issues.length > 0) return { issues };
  return { value: conditions.length === 1 ? conditions[0]! : { kind: 'and', conditions } };
}

const conditionSchema = z.unknown().transform((raw, ctx): RuleCondition => {
  const parsed = raw === undefined ? fail<RuleCondition>('a rule needs when: a condition') : parseCondition(raw);
  if (!parsed.issues) return parsed.value;
  for (const issue of parsed.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

/** Rule names go into logs and the `x-switchyard-route-rule` response header. */
const ruleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'rule names use letters, digits, ".", "_", ":" and "-" (they are sent in a response header)');

/** One routing rule: `{ name?, when, route_to }`. */
export const routingRuleSchema = z.strictObject({
  name: ruleName.optional(),
  when: conditionSchema,
  /** A model group name (the config schema checks that it exists). */
  route_to: z.string({ error: 'route_to takes a model group name' }).min(1, 'route_to takes a model group name'),
});

/** The `routing.rules` list; names (given, or the `rule-<index>` default) must be unique. */
export const routingRulesSchema = z
  .array(routingRuleSchema)
  .superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.forEach((rule, i) => {
      const name = ruleNameAt(rule, i);
      const first = seen.get(name);
      if (first === undefined) seen.set(name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `rule name "${name}" is already used by rule ${first}` });
    });
  })
  .default([]);

/** A validated rule. */
export type RoutingRuleConfig = z.output<typeof routingRuleSchema>;

export function ruleNameAt(rule: RoutingRuleConfig, index: number): string {
  return rule.name ?? `rule-${index}`;
}

/** Group names referenced by route_to, each once, in rule order (the config schema checks they exist). */
export function ruleTargets(rules: readonly RoutingRuleConfig[]): string[] {
  return [...new Set(rules.map((rule) => rule.route_to))];
}
