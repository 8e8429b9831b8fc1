/**
 * Content-based routing rules (docs/routing-rules.md): config data evaluated in order before a
 * model group's strategy; the first rule whose condition holds sends the request to another group.
 *
 * `compileRules` turns the validated condition tree (routing/rules-schema.ts) into closures once,
 * at config load. Per request, evaluation reuses one view object, reads the request's lazy fields
 * (prompt text, token estimate) only when a test needs them, at most once each, and returns a
 * result object built at compile time.
 */
import { escapeRegex } from '../gateway/escape-regex.js';
import { ruleNameAt, type BooleanTest, type NumberField, type NumberTest, type RoutingRuleConfig, type RuleCondition, type TextField, type TextTest } from './rules-schema.js';

export { routingRuleSchema, routingRulesSchema, ruleTargets, type RoutingRuleConfig, type RuleCondition, type TextTest, type NumberTest, type BooleanTest, type TextField, type NumberField } from './rules-schema.js';

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
