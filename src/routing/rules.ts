/**
 * Content-based routing rules (docs/routing-rules.md): config data evaluated in order before a
 * model group's strategy; the first rule whose condition holds sends the request to another group.
 *
 * The schema validates a rule's `when:` mapping into a typed condition tree; `compileRules` turns
 * the tree into closures once, at config load. Per request, evaluation reuses one view object,
 * reads the request's lazy fields (prompt text, token estimate) only when a test needs them, at
 * most once each, and returns a result object built at compile time.
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

function ruleNameAt(rule: RoutingRuleConfig, index: number): string {
  return rule.name ?? `rule-${index}`;
}

/** Group names referenced by route_to, each once, in rule order (the config schema checks they exist). */
export function ruleTargets(rules: readonly RoutingRuleConfig[]): string[] {
  return [...new Set(rules.map((rule) => rule.route_to))];
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** What a rule can look at. Text and token fields are functions so they are computed only if some rule needs them (and then once). */
export interface RuleInput {
  /** The model the client asked for. */
  model: string;
  stream: boolean;
  maxTokens?: number;
  /** All message text, system included, joined with newlines. */
  prompt(): string;
  lastUserMessage(): string;
  /** System prompt text; '' when there is none. */
  system(): string;
  /** An estimate. */
  promptTokens(): number;
  metadata: Readonly<Record<string, string>>;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  key?: string;
  team?: string;
  org?: string;
}

/** The rule that matched: its name (given, or `rule-<index>`) and the group it routes to. */
export interface RuleMatch {
  readonly name: string;
  readonly routeTo: string;
}

/** Rules compiled for evaluation. */
export interface CompiledRules {
  readonly size: number;
  /** The first matching rule's { name, routeTo } or undefined */
  match(input: RuleInput): RuleMatch | undefined;
}

/**
 * Regexes and keyword tests scan at most the first SCAN_HEAD_CHARS and the last SCAN_TAIL_CHARS
 * (UTF-16 code units) of a value, each part separately: a huge prompt cannot make a pattern's cost
 * unbounded, and the part most prompts put instructions in (start) and questions in (end) is seen.
 */
export const SCAN_HEAD_CHARS = 64 * 1024;
export const SCAN_TAIL_CHARS = 16 * 1024;

/** Whether `pattern` (no g / y flag) occurs in the scanned parts of `text`. */
function scan(pattern: RegExp, text: string): boolean {
  if (text.length <= SCAN_HEAD_CHARS + SCAN_TAIL_CHARS) return pattern.test(text);
  return pattern.test(text.slice(0, SCAN_HEAD_CHARS)) || pattern.test(text.slice(text.length - SCAN_TAIL_CHARS));
}

const NO_INPUT: RuleInput = {
  model: '',
  stream: false,
  prompt: () => '',
  lastUserMessage: () => '',
  system: () => '',
  promptTokens: () => 0,
  metadata: {},
  header: () => undefined,
};

/** A text computed from the input on first use; '' counts as missing. Keeps its scanned parts too. */
class LazyText {
  #input: RuleInput = NO_INPUT;
  #read = false;
  #value: string | undefined;
  #head: string | undefined;
  #tail: string | undefined;

  constructor(private readonly compute: (input: RuleInput) => string) {}

  reset(input: RuleInput): void {
    this.#input = input;
    this.#read = false;
    this.#value = this.#head = this.#tail = undefined;
  }

  value(): string | undefined {
    if (!this.#read) {
      this.#read = true;
      const text = this.compute(this.#input);
      this.#value = text === '' ? undefined : text;
    }
    return this.#value;
  }

  /** Like scan(), slicing a long text once per request rather than once per pattern. */
  scan(pattern: RegExp): boolean {
    const text = this.value();
    if (text === undefined) return false;
    if (text.length <= SCAN_HEAD_CHARS + SCAN_TAIL_CHARS) return pattern.test(text);
    this.#head ??= text.slice(0, SCAN_HEAD_CHARS);
    this.#tail ??= text.slice(text.length - SCAN_TAIL_CHARS);
    return pattern.test(this.#head) || pattern.test(this.#tail);
  }
}

/** One request as the compiled rules see it: the input plus the lazy fields read so far. Reused across requests. */
class RequestView {
  input: RuleInput = NO_INPUT;
  readonly prompt = new LazyText((input) => input.prompt());
  readonly lastUserMessage = new LazyText((input) => input.lastUserMessage());
  readonly system = new LazyText((input) => input.system());
  #promptTokens: number | undefined;

  begin(input: RuleInput): void {
    this.input = input;
    this.prompt.reset(input);
    this.lastUserMessage.reset(input);
    this.system.reset(input);
    this.#promptTokens = undefined;
  }

  /** Drops the request's texts so an idle view holds no memory. */
  end(): void {
    this.begin(NO_INPUT);
  }

  promptTokens(): number {
    return (this.#promptTokens ??= this.input.promptTokens());
  }
}

type Predicate = (view: RequestView) => boolean;

/**
 * A compiled test with a rough cost, so `and` / `or` try cheap tests first: 0 reads a field the
 * request already has, 1 the token estimate or a scan of a short field, 2 computes a text, 3 scans it.
 * Reordering is safe because tests have no effects beyond the memoized lazy reads.
 */
interface Compiled {
  readonly test: Predicate;
  readonly cost: number;
}

interface TextSource {
  readonly cost: number;
  value(view: RequestView): string | undefined;
  scan(view: RequestView, pattern: RegExp): boolean;
}

const lazyTextSource = (pick: (view: RequestView) => LazyText): TextSource => ({
  cost: 2,
  value: (view) => pick(view).value(),
  scan: (view, pattern) => pick(view).scan(pattern),
});

const directTextSource = (read: (input: RuleInput) => string | undefined): TextSource => ({
  cost: 0,
  value: (view) => read(view.input),
  scan: (view, pattern) => {
    const text = read(view.input);
    return text !== undefined && scan(pattern, text);
  },
});

function textSource(field: TextField): TextSource {
  if (field.startsWith('metadata.')) {
    const tag = field.slice('metadata.'.length);
    return directTextSource((input) => {
      const value = input.metadata[tag];
      return typeof value === 'string' ? value : undefined; // not an inherited `constructor` or `__proto__`
    });
  }
  if (field.startsWith('header.')) {
    const name = field.slice('header.'.length);
    return directTextSource((input) => input.header(name));
  }
  switch (field) {
    case 'model':
      return directTextSource((input) => input.model);
    case 'key':
      return directTextSource((input) => input.key);
    case 'team':
      return directTextSource((input) => input.team);
    case 'org':
      return directTextSource((input) => input.org);
    case 'prompt':
      return lazyTextSource((view) => view.prompt);
    case 'last_user_message':
      return lazyTextSource((view) => view.lastUserMessage);
    case 'system':
      return lazyTextSource((view) => view.system);
  }
  throw new Error(`routing rules: unknown text field ${field}`);
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Keywords as one case-insensitive pattern: one pass over the text for the whole list. */
const keywordPattern = (keywords: readonly string[]): RegExp => new RegExp(keywords.map(escapeRegex).join('|'), 'iu');

function compileTextTest(field: TextField, test: TextTest): Compiled[] {
  const source = textSource(field);
  const read = source.cost;
  const scanCost = source.cost + 1;
  const parts: Compiled[] = [];
  const { eq, ne, in: anyOf, not_in: noneOf, regex, contains, contains_any: containsAny, exists } = test;
  if (eq !== undefined) parts.push({ cost: read, test: (view) => source.value(view) === eq });
  if (ne !== undefined) parts.push({ cost: read, test: (view) => source.value(view) !== ne });
  if (anyOf !== undefined) {
    const set = new Set(anyOf);
    parts.push({ cost: read, test: (view) => { const value = source.value(view); return value !== undefined && set.has(value); } });
  }
  if (noneOf !== undefined) {
    const set = new Set(noneOf);
    parts.push({ cost: read, test: (view) => { const value = source.value(view); return value === undefined || !set.has(value); } });
  }
  if (exists !== undefined) parts.push({ cost: read, test: (view) => (source.value(view) !== undefined) === exists });
  if (regex !== undefined) {
    const pattern = new RegExp(regex, test.flags);
    parts.push({ cost: scanCost, test: (view) => source.scan(view, pattern) });
  }
  if (contains !== undefined) {
    const pattern = keywordPattern([contains]);
    parts.push({ cost: scanCost, test: (view) => source.scan(view, pattern) });
  }
  if (containsAny !== undefined) {
    const pattern = keywordPattern(containsAny);
    parts.push({ cost: scanCost, test: (view) => source.scan(view, pattern) });
  }
  return parts;
}

function compileNumberTest(field: NumberField, test: NumberTest): Compiled[] {
  const read: (view: RequestView) => number | undefined = field === 'prompt_tokens' ? (view) => view.promptTokens() : (view) => view.input.maxTokens;
  const cost = field === 'prompt_tokens' ? 1 : 0;
  const parts: Compiled[] = [];
  const present = (check: (value: number) => boolean): Compiled => ({
    cost,
    test: (view) => {
      const value = read(view);
      return value !== undefined && check(value);
    },
  });
  const { eq, ne, in: anyOf, not_in: noneOf, gt, gte, lt, lte, exists } = test;
  if (eq !== undefined) parts.push(present((value) => value === eq));
  if (ne !== undefined) parts.push({ cost, test: (view) => read(view) !== ne });
  if (anyOf !== undefined) {
    const set = new Set(anyOf);
    parts.push(present((value) => set.has(value)));
  }
  if (noneOf !== undefined) {
    const set = new Set(noneOf);
    parts.push({ cost, test: (view) => { const value = read(view); return value === undefined || !set.has(value); } });
  }
  if (gt !== undefined) parts.push(present((value) => value > gt));
  if (gte !== undefined) parts.push(present((value) => value >= gte));
  if (lt !== undefined) parts.push(present((value) => value < lt));
  if (lte !== undefined) parts.push(present((value) => value <= lte));
  if (exists !== undefined) parts.push({ cost, test: (view) => (read(view) !== undefined) === exists });
  return parts;
}

function compileBooleanTest(test: BooleanTest): Compiled[] {
  const parts: Compiled[] = [];
  const { eq, ne, exists } = test;
  if (eq !== undefined) parts.push({ cost: 0, test: (view) => view.input.stream === eq });
  if (ne !== undefined) parts.push({ cost: 0, test: (view) => view.input.stream !== ne });
  // `stream` is always present.
  if (exists !== undefined) parts.push({ cost: 0, test: () => exists });
  return parts;
}

const byCost = (parts: readonly Compiled[]): Predicate[] => [...parts].sort((a, b) => a.cost - b.cost).map((part) => part.test);
const maxCost = (parts: readonly Compiled[]): number => parts.reduce((max, part) => Math.max(max, part.cost), 0);

function allOf(parts: readonly Compiled[]): Compiled {
  if (parts.length === 1) return parts[0]!;
  const tests = byCost(parts);
  return {
    cost: maxCost(parts),
    test: (view) => {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(view)) return false;
      return true;
    },
  };
}

function anyOf(parts: readonly Compiled[]): Compiled {
  if (parts.length === 1) return parts[0]!;
  const tests = byCost(parts);
  return {
    cost: maxCost(parts),
    test: (view) => {
      for (let i = 0; i < tests.length; i++) if (tests[i]!(view)) return true;
      return false;
    },
  };
}

function compileCondition(condition: RuleCondition): Compiled {
  switch (condition.kind) {
    case 'and':
      return allOf(condition.conditions.map(compileCondition));
    case 'or':
      return anyOf(condition.conditions.map(compileCondition));
    case 'not': {
      const inner = compileCondition(condition.condition);
      return { cost: inner.cost, test: (view) => !inner.test(view) };
    }
    case 'text':
      return allOf(compileTextTest(condition.field, condition.test));
    case 'number':
      return allOf(compileNumberTest(condition.field, condition.test));
    case 'boolean':
      return allOf(compileBooleanTest(condition.test));
  }
}

interface CompiledRule {
  readonly test: Predicate;
  readonly result: RuleMatch;
}

class RuleList implements CompiledRules {
  readonly size: number;
  readonly #rules: readonly CompiledRule[];
  /** The view to reuse; undefined while a match() is running (a re-entrant call gets its own). */
  #idleView: RequestView | undefined = new RequestView();

  constructor(rules: readonly CompiledRule[]) {
    this.#rules = rules;
    this.size = rules.length;
  }

  match(input: RuleInput): RuleMatch | undefined {
    const view = this.#idleView ?? new RequestView();
    this.#idleView = undefined;
    view.begin(input);
    try {
      const rules = this.#rules;
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        if (rule.test(view)) return rule.result;
      }
      return undefined;
    } finally {
      view.end();
      this.#idleView = view;
    }
  }
}

/** Compiles validated rules (regexes included) once, at config load; unnamed rules get `rule-<index>`. */
export function compileRules(rules: readonly RoutingRuleConfig[]): CompiledRules {
  return new RuleList(
    rules.map((rule, index) => ({
      test: compileCondition(rule.when).test,
      result: Object.freeze({ name: ruleNameAt(rule, index), routeTo: rule.route_to }),
    })),
  );
}
