import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SCAN_HEAD_CHARS, SCAN_TAIL_CHARS, compileRules, routingRulesSchema, ruleTargets, type RuleInput } from './rules.js';

/** A request for the rules; the lazy fields count their calls. */
function request(fields: Partial<Omit<RuleInput, 'prompt' | 'lastUserMessage' | 'system' | 'promptTokens' | 'header'>> & {
  prompt?: string;
  lastUserMessage?: string;
  system?: string;
  promptTokens?: number;
  headers?: Record<string, string>;
} = {}) {
  const calls = { prompt: 0, lastUserMessage: 0, system: 0, promptTokens: 0, header: 0 };
  const { prompt = '', lastUserMessage = '', system = '', promptTokens = 0, headers = {}, ...rest } = fields;
  const input: RuleInput = {
    model: 'smart',
    stream: false,
    metadata: {},
    ...rest,
    prompt: () => (calls.prompt++, prompt),
    lastUserMessage: () => (calls.lastUserMessage++, lastUserMessage),
    system: () => (calls.system++, system),
    promptTokens: () => (calls.promptTokens++, promptTokens),
    header: (name) => (calls.header++, headers[name]),
  };
  return { input, calls };
}

function rules(list: unknown) {
  return compileRules(routingRulesSchema.parse(list));
}

/** Whether a single rule with this condition matches the request. */
function holds(when: unknown, input: RuleInput): boolean {
  return rules([{ when, route_to: 'target' }]).match(input) !== undefined;
}

function issues(list: unknown) {
  const result = routingRulesSchema.safeParse(list);
  expect(result.success).toBe(false);
  return result.error!.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
}

describe('routing rules: schema', () => {
  it('accepts the documented example and defaults to no rules', () => {
    const config = parseYaml(`
rules:
  - name: long-prompts
    when: { prompt_tokens: { gt: 8000 } }
    route_to: long-context
  - name: code-questions
    when:
      or:
        - { prompt: { regex: "\`\`\`|\\\\bdef |\\\\bfunction\\\\b|\\\\bclass\\\\s+\\\\w+" } }
        - { prompt: { contains_any: [python, typescript, stack trace] } }
    route_to: coder
  - name: free-tier
    when: { and: [ { model: { eq: smart } }, { "metadata.tier": { in: [free, trial] } } ] }
    route_to: cheap
  - when: { not: { "header.x-team": { exists: true } } }
    route_to: default-group
`) as { rules: unknown };
    const parsed = routingRulesSchema.parse(config.rules);
    expect(parsed).toHaveLength(4);
    expect(parsed[1]!.when).toEqual({
      kind: 'or',
      conditions: [
        { kind: 'text', field: 'prompt', test: { regex: '```|\\bdef |\\bfunction\\b|\\bclass\\s+\\w+' } },
        { kind: 'text', field: 'prompt', test: { contains_any: ['python', 'typescript', 'stack trace'] } },
      ],
    });
    expect(routingRulesSchema.parse(undefined)).toEqual([]);
    const compiled = compileRules(parsed);
    expect(compiled.size).toBe(4);
    expect(compiled.match(request({ prompt: 'why does this fail?\n```\nx = 1\n```' }).input)).toEqual({ name: 'code-questions', routeTo: 'coder' });
    expect(compiled.match(request({ model: 'other' }).input)).toEqual({ name: 'rule-3', routeTo: 'default-group' });
  });

  it('accepts every rule list in docs/routing-rules.md', () => {
    const doc = readFileSync(new URL('../../docs/routing-rules.md', import.meta.url), 'utf8');
    const blocks = [...doc.matchAll(/^```yaml\n(routing:[\s\S]*?)^```$/gm)].map((match) => parseYaml(match[1]!) as { routing: { rules: unknown } });
    expect(blocks).toHaveLength(2);
    for (const block of blocks) expect(routingRulesSchema.safeParse(block.routing.rules).error?.issues).toBeUndefined();
  });

  it('takes values as text for text fields and numbers / booleans from env strings', () => {
    const [rule] = routingRulesSchema.parse([
      { when: { 'metadata.year': { eq: 2024 }, prompt_tokens: { gte: '100' }, stream: { eq: 'true' }, 'header.X-Team': { exists: 'false' } }, route_to: 'g' },
    ]);
    expect(rule!.when).toEqual({
      kind: 'and',
      conditions: [
        { kind: 'text', field: 'metadata.year', test: { eq: '2024' } },
        { kind: 'number', field: 'prompt_tokens', test: { gte: 100 } },
        { kind: 'boolean', field: 'stream', test: { eq: true } },
        { kind: 'text', field: 'header.x-team', test: { exists: false } },
      ],
    });
  });

  it('reports an invalid regex with the RegExp error, at its path', () => {
    expect(issues([{ when: { or: [{ model: { eq: 'a' } }, { prompt: { regex: '(unclosed' } }] }, route_to: 'g' }])).toEqual([
      { path: '0.when.or.1.prompt.regex', message: 'Invalid regular expression: /(unclosed/: Unterminated group' },
    ]);
    expect(issues([{ when: { prompt: { regex: 'a', flags: 'ii' } }, route_to: 'g' }])[0]!.message).toMatch(/Invalid flags/);
  });

  it('rejects stateful or unknown regex flags, and flags without a regex', () => {
    expect(issues([{ when: { prompt: { regex: 'a', flags: 'gi' } }, route_to: 'g' }])).toEqual([
      { path: '0.when.prompt.flags', message: 'flags may use i, m, s, u and v (g and y would make the shared pattern stateful)' },
    ]);
    expect(issues([{ when: { prompt: { contains: 'a', flags: 'i' } }, route_to: 'g' }])).toEqual([
      { path: '0.when.prompt.flags', message: 'flags apply to regex, which this test does not have' },
    ]);
  });

  it('names unknown operators and operators of another field kind', () => {
    expect(issues([{ when: { model: { regx: 'a' } }, route_to: 'g' }])).toEqual([
      { path: '0.when.model.regx', message: 'unknown operator "regx"; "model" takes eq, ne, in, not_in, regex, flags, contains, contains_any, exists' },
    ]);
    expect(issues([{ when: { prompt: { gt: 5 } }, route_to: 'g' }])).toEqual([
      { path: '0.when.prompt.gt', message: '"gt" applies to number fields, not to a text field; "prompt" takes eq, ne, in, not_in, regex, flags, contains, contains_any, exists' },
    ]);
    expect(issues([{ when: { stream: { in: [true] } }, route_to: 'g' }])[0]!.message).toMatch(/^"in" applies to text and number fields, not to a boolean field/);
    expect(issues([{ when: { model: {} }, route_to: 'g' }])).toEqual([
      { path: '0.when.model', message: 'the test for "model" needs an operator: eq, ne, in, not_in, regex, flags, contains, contains_any, exists' },
    ]);
  });

  it('names unknown and malformed fields', () => {
    expect(issues([{ when: { promt: { eq: 'a' } }, route_to: 'g' }])[0]).toEqual({
      path: '0.when.promt',
      message: expect.stringMatching(/^unknown field "promt"; a condition tests model, prompt, .*metadata\.<tag>, header\.<name>, or combines conditions with and, or, not$/),
    });
    expect(issues([{ when: { metadata: { tier: { eq: 'free' } } }, route_to: 'g' }])[0]!.message).toBe('write "metadata.<name>" as one key, e.g. "metadata.tier": { eq: ... }');
    expect(issues([{ when: { 'metadata.': { eq: 'x' } }, route_to: 'g' }])[0]!.message).toBe('"metadata." needs a tag name, e.g. metadata.tier');
    expect(issues([{ when: { 'header.x team': { eq: 'x' } }, route_to: 'g' }])[0]!.message).toBe('"header.x team" does not name a valid HTTP header');
    expect(issues([{ when: { model: 'smart' }, route_to: 'g' }])[0]!.message).toBe('expected a test such as { eq: ... }, { in: [...] } or { exists: true }');
  });

  it('rejects empty and / or, empty conditions, a list under not, and bad operand types', () => {
    expect(issues([{ when: { and: [] }, route_to: 'g' }])).toEqual([{ path: '0.when.and', message: 'and needs at least one condition' }]);
    expect(issues([{ when: { or: [] }, route_to: 'g' }])).toEqual([{ path: '0.when.or', message: 'or needs at least one condition' }]);
    expect(issues([{ when: { or: { model: { eq: 'a' } } }, route_to: 'g' }])).toEqual([{ path: '0.when.or', message: 'or takes a list of conditions' }]);
    expect(issues([{ when: {}, route_to: 'g' }])).toEqual([{ path: '0.when', message: 'an empty condition; test at least one field, or use and / or / not' }]);
    expect(issues([{ when: { and: [{ not: {} }] }, route_to: 'g' }])).toEqual([{ path: '0.when.and.0.not', message: 'an empty condition; test at least one field, or use and / or / not' }]);
    expect(issues([{ when: { not: [{ model: { eq: 'a' } }] }, route_to: 'g' }])).toEqual([{ path: '0.when.not', message: 'not takes one condition, not a list (wrap several in and / or)' }]);
    expect(issues([{ when: { 'metadata.tier': { in: 'free' } }, route_to: 'g' }])).toEqual([{ path: '0.when.metadata.tier.in', message: 'in takes a list, e.g. in: [free, trial]' }]);
    expect(issues([{ when: { 'metadata.tier': { in: [] } }, route_to: 'g' }])).toEqual([{ path: '0.when.metadata.tier.in', message: 'in needs at least one value' }]);
    expect(issues([{ when: { prompt_tokens: { gt: 'lots' } }, route_to: 'g' }])).toEqual([{ path: '0.when.prompt_tokens.gt', message: 'gt takes a number' }]);
    expect(issues([{ when: { prompt: { contains_any: ['python', ''] } }, route_to: 'g' }])).toEqual([{ path: '0.when.prompt.contains_any.1', message: 'contains_any needs non-empty keywords' }]);
  });

  it('checks the rule itself: strict keys, when and route_to required, unique header-safe names', () => {
    expect(issues([{ when: { model: { eq: 'a' } }, route: 'g' }])).toEqual([
      { path: '0.route_to', message: 'route_to takes a model group name' },
      { path: '0', message: 'Unrecognized key: "route"' },
    ]);
    expect(issues([{ route_to: 'g' }])).toEqual([{ path: '0.when', message: 'a rule needs when: a condition' }]);
    expect(issues([{ name: 'two words', when: { model: { eq: 'a' } }, route_to: 'g' }])[0]!.path).toBe('0.name');
    expect(issues([
      { name: 'cheap', when: { model: { eq: 'a' } }, route_to: 'g' },
      { when: { model: { eq: 'b' } }, route_to: 'g' },
      { name: 'cheap', when: { model: { eq: 'c' } }, route_to: 'g' },
      { name: 'rule-1', when: { model: { eq: 'd' } }, route_to: 'g' },
    ])).toEqual([
      { path: '2.name', message: 'rule name "cheap" is already used by rule 0' },
      { path: '3.name', message: 'rule name "rule-1" is already used by rule 1' },
    ]);
  });
});

describe('routing rules: text operators', () => {
  const { input } = request({ model: 'gpt-4o-mini', prompt: 'Please fix my Python STACK TRACE' });

  it('eq / ne are exact and case-sensitive', () => {
    expect(holds({ model: { eq: 'gpt-4o-mini' } }, input)).toBe(true);
    expect(holds({ model: { eq: 'GPT-4o-mini' } }, input)).toBe(false);
    expect(holds({ model: { ne: 'gpt-4o' } }, input)).toBe(true);
    expect(holds({ model: { ne: 'gpt-4o-mini' } }, input)).toBe(false);
  });

  it('in / not_in test membership', () => {
    expect(holds({ model: { in: ['a', 'gpt-4o-mini'] } }, input)).toBe(true);
    expect(holds({ model: { in: ['a', 'b'] } }, input)).toBe(false);
    expect(holds({ model: { not_in: ['a', 'b'] } }, input)).toBe(true);
    expect(holds({ model: { not_in: ['gpt-4o-mini'] } }, input)).toBe(false);
  });

  it('regex uses the JavaScript syntax and its flags', () => {
    expect(holds({ model: { regex: '^gpt-4o(-mini)?$' } }, input)).toBe(true);
    expect(holds({ prompt: { regex: 'python' } }, input)).toBe(false);
    expect(holds({ prompt: { regex: 'python', flags: 'i' } }, input)).toBe(true);
    expect(holds({ prompt: { regex: '\\bfix\\b' } }, input)).toBe(true);
  });

  it('contains / contains_any are case-insensitive substrings with no pattern syntax', () => {
    expect(holds({ prompt: { contains: 'stack trace' } }, input)).toBe(true);
    expect(holds({ prompt: { contains: 'typescript' } }, input)).toBe(false);
    expect(holds({ prompt: { contains_any: ['typescript', 'PYTHON'] } }, input)).toBe(true);
    expect(holds({ prompt: { contains_any: ['typescript', 'rust'] } }, input)).toBe(false);
    const code = request({ prompt: 'is C++ faster than a.b?' }).input;
    expect(holds({ prompt: { contains: 'c++' } }, code)).toBe(true);
    expect(holds({ prompt: { contains: 'a.b' } }, code)).toBe(true);
    expect(holds({ prompt: { contains: 'a?b' } }, code)).toBe(false);
    expect(holds({ prompt: { contains: 'ÉTÉ' } }, request({ prompt: 'cet été' }).input)).toBe(true);
  });

  it('several operators in one test must all hold', () => {
    expect(holds({ model: { regex: '^gpt', ne: 'gpt-4o' } }, input)).toBe(true);
    expect(holds({ model: { regex: '^gpt', ne: 'gpt-4o-mini' } }, input)).toBe(false);
  });
});

describe('routing rules: fields', () => {
  const { input } = request({
    model: 'smart',
    prompt: 'system text\nhello there',
    lastUserMessage: 'hello there',
    system: 'system text',
    metadata: { tier: 'free' },
    headers: { 'x-team': 'search' },
    key: 'key-1',
    team: 'team-1',
    org: 'org-1',
  });

  it.each([
    ['model', 'smart'],
    ['prompt', 'system text\nhello there'],
    ['last_user_message', 'hello there'],
    ['system', 'system text'],
    ['metadata.tier', 'free'],
    ['header.x-team', 'search'],
    ['key', 'key-1'],
    ['team', 'team-1'],
    ['org', 'org-1'],
  ])('%s reads its value', (field, value) => {
    expect(holds({ [field]: { eq: value } }, input)).toBe(true);
    expect(holds({ [field]: { eq: `${value}!` } }, input)).toBe(false);
  });

  it('header names are case-insensitive in the config', () => {
    expect(holds({ 'header.X-Team': { eq: 'search' } }, input)).toBe(true);
  });

  it('last_user_message and system are not the whole prompt', () => {
    expect(holds({ last_user_message: { contains: 'system' } }, input)).toBe(false);
    expect(holds({ system: { contains: 'hello' } }, input)).toBe(false);
    expect(holds({ prompt: { contains_any: ['hello'] }, system: { contains: 'system' } }, input)).toBe(true);
  });

  it('prompt_tokens and max_tokens compare numbers', () => {
    const tokens = request({ promptTokens: 8000, maxTokens: 512 }).input;
    expect(holds({ prompt_tokens: { gt: 7999 } }, tokens)).toBe(true);
    expect(holds({ prompt_tokens: { gt: 8000 } }, tokens)).toBe(false);
    expect(holds({ prompt_tokens: { gte: 8000 } }, tokens)).toBe(true);
    expect(holds({ prompt_tokens: { lt: 8000 } }, tokens)).toBe(false);
    expect(holds({ prompt_tokens: { lte: 8000 } }, tokens)).toBe(true);
    expect(holds({ prompt_tokens: { gt: 1000, lt: 10000 } }, tokens)).toBe(true);
    expect(holds({ max_tokens: { eq: 512 } }, tokens)).toBe(true);
    expect(holds({ max_tokens: { ne: 512 } }, tokens)).toBe(false);
    expect(holds({ max_tokens: { in: [256, 512] } }, tokens)).toBe(true);
    expect(holds({ max_tokens: { not_in: [256, 512] } }, tokens)).toBe(false);
    expect(holds({ max_tokens: { exists: true } }, tokens)).toBe(true);
  });

  it('stream compares a boolean', () => {
    const streaming = request({ stream: true }).input;
    expect(holds({ stream: { eq: true } }, streaming)).toBe(true);
    expect(holds({ stream: { eq: false } }, streaming)).toBe(false);
    expect(holds({ stream: { ne: true } }, streaming)).toBe(false);
    expect(holds({ stream: { exists: true } }, streaming)).toBe(true);
  });
});

describe('routing rules: missing fields', () => {
  // No key / team / org / max_tokens / metadata / headers; empty system and last user message.
  const { input } = request({ prompt: 'hi' });

  it.each(['key', 'team', 'org', 'metadata.tier', 'header.x-team', 'system', 'last_user_message'])('%s: only exists: false, ne and not_in match', (field) => {
    expect(holds({ [field]: { exists: false } }, input)).toBe(true);
    expect(holds({ [field]: { ne: 'x' } }, input)).toBe(true);
    expect(holds({ [field]: { not_in: ['x'] } }, input)).toBe(true);
    expect(holds({ [field]: { exists: true } }, input)).toBe(false);
    expect(holds({ [field]: { eq: '' } }, input)).toBe(false);
    expect(holds({ [field]: { in: ['x'] } }, input)).toBe(false);
    expect(holds({ [field]: { regex: '.*' } }, input)).toBe(false);
    expect(holds({ [field]: { contains: 'x' } }, input)).toBe(false);
    expect(holds({ [field]: { contains_any: ['x'] } }, input)).toBe(false);
  });

  it('max_tokens: only exists: false, ne and not_in match', () => {
    expect(holds({ max_tokens: { exists: false } }, input)).toBe(true);
    expect(holds({ max_tokens: { ne: 100 } }, input)).toBe(true);
    expect(holds({ max_tokens: { not_in: [100] } }, input)).toBe(true);
    for (const test of [{ exists: true }, { eq: 0 }, { in: [0] }, { gt: -1 }, { gte: 0 }, { lt: 1e9 }, { lte: 1e9 }]) {
      expect(holds({ max_tokens: test }, input)).toBe(false);
    }
  });

  it('metadata tags do not reach inherited object properties', () => {
    expect(holds({ 'metadata.constructor': { exists: true } }, input)).toBe(false);
    expect(holds({ 'metadata.toString': { exists: false } }, input)).toBe(true);
  });
});

describe('routing rules: combinators', () => {
  const { input } = request({ model: 'smart', metadata: { tier: 'free' }, promptTokens: 50 });

  it('and, or and not nest', () => {
    expect(holds({ and: [{ model: { eq: 'smart' } }, { 'metadata.tier': { in: ['free', 'trial'] } }] }, input)).toBe(true);
    expect(holds({ and: [{ model: { eq: 'smart' } }, { 'metadata.tier': { eq: 'paid' } }] }, input)).toBe(false);
    expect(holds({ or: [{ model: { eq: 'fast' } }, { 'metadata.tier': { eq: 'free' } }] }, input)).toBe(true);
    expect(holds({ or: [{ model: { eq: 'fast' } }, { 'metadata.tier': { eq: 'paid' } }] }, input)).toBe(false);
    expect(holds({ not: { model: { eq: 'smart' } } }, input)).toBe(false);
    expect(holds({ not: { not: { model: { eq: 'smart' } } } }, input)).toBe(true);
    expect(holds({ or: [{ and: [{ model: { eq: 'smart' } }, { not: { prompt_tokens: { lt: 100 } } }] }, { not: { or: [{ 'metadata.tier': { eq: 'free' } }] } }] }, input)).toBe(false);
    expect(holds({ or: [{ and: [{ model: { eq: 'smart' } }, { not: { prompt_tokens: { gt: 100 } } }] }, { model: { eq: 'x' } }] }, input)).toBe(true);
  });

  it('several keys in one condition must all hold, combinators included', () => {
    expect(holds({ model: { eq: 'smart' }, prompt_tokens: { lt: 100 } }, input)).toBe(true);
    expect(holds({ model: { eq: 'smart' }, prompt_tokens: { gt: 100 } }, input)).toBe(false);
    expect(holds({ model: { eq: 'smart' }, or: [{ 'metadata.tier': { eq: 'paid' } }, { prompt_tokens: { lt: 100 } }] }, input)).toBe(true);
    expect(holds({ model: { eq: 'smart' }, not: { 'metadata.tier': { eq: 'free' } } }, input)).toBe(false);
  });
});

describe('routing rules: evaluation', () => {
  it('the first matching rule wins, in order; unnamed rules are rule-<index>', () => {
    const compiled = rules([
      { name: 'never', when: { model: { eq: 'other' } }, route_to: 'a' },
      { when: { model: { eq: 'smart' } }, route_to: 'b' },
      { name: 'also', when: { model: { eq: 'smart' } }, route_to: 'c' },
    ]);
    expect(compiled.size).toBe(3);
    expect(compiled.match(request().input)).toEqual({ name: 'rule-1', routeTo: 'b' });
    expect(compiled.match(request({ model: 'none' }).input)).toBeUndefined();
    expect(rules([]).match(request().input)).toBeUndefined();
  });

  it('returns the same result object for every match of a rule', () => {
    const compiled = rules([{ when: { model: { eq: 'smart' } }, route_to: 'b' }]);
    expect(compiled.match(request().input)).toBe(compiled.match(request().input));
  });

  it('computes no lazy field that no rule tests', () => {
    const { input, calls } = request({ prompt: 'python' });
    const compiled = rules([
      { when: { model: { eq: 'x' }, 'metadata.tier': { exists: true } }, route_to: 'a' },
      { when: { stream: { eq: true } }, route_to: 'b' },
    ]);
    expect(compiled.match(input)).toBeUndefined();
    expect(calls).toEqual({ prompt: 0, lastUserMessage: 0, system: 0, promptTokens: 0, header: 0 });
  });

  it('computes each lazy field at most once per request, however many rules test it', () => {
    const compiled = rules([
      { when: { prompt: { contains: 'rust' } }, route_to: 'a' },
      { when: { prompt: { regex: 'go' }, prompt_tokens: { gt: 10 } }, route_to: 'b' },
      { when: { prompt_tokens: { lt: 5 }, system: { exists: true } }, route_to: 'c' },
      { when: { or: [{ prompt: { eq: 'x' } }, { prompt_tokens: { gt: 100 } }] }, route_to: 'd' },
    ]);
    const { input, calls } = request({ prompt: 'python', promptTokens: 50 });
    expect(compiled.match(input)).toBeUndefined();
    expect(calls).toMatchObject({ prompt: 1, promptTokens: 1, system: 0, lastUserMessage: 0 });
    // The next request reads its own values.
    const next = request({ prompt: 'rust', promptTokens: 50 });
    expect(compiled.match(next.input)).toEqual({ name: 'rule-0', routeTo: 'a' });
    expect(next.calls.prompt).toBe(1);
  });

  it('tests cheap fields first, so a failing one spares the prompt', () => {
    const { input, calls } = request({ model: 'fast', prompt: 'python' });
    const compiled = rules([
      { when: { prompt: { contains: 'python' }, model: { eq: 'smart' } }, route_to: 'a' },
      { when: { and: [{ last_user_message: { regex: 'x' } }, { prompt_tokens: { gt: 1 } }] }, route_to: 'b' },
      { when: { or: [{ system: { contains: 'x' } }, { model: { eq: 'fast' } }] }, route_to: 'c' },
    ]);
    expect(compiled.match(input)).toEqual({ name: 'rule-2', routeTo: 'c' });
    expect(calls).toEqual({ prompt: 0, lastUserMessage: 0, system: 0, promptTokens: 1, header: 0 });
  });

  it('scans only the head and tail of a long text', () => {
    const filler = 'x'.repeat(SCAN_HEAD_CHARS + SCAN_TAIL_CHARS);
    const middle = `${filler.slice(0, SCAN_HEAD_CHARS)}python${filler.slice(SCAN_HEAD_CHARS)}`;
    const head = `python${filler}`;
    const tail = `${filler}python`;
    const seam = `${filler.slice(0, SCAN_HEAD_CHARS - 3)}pyt${'x'.repeat(1000)}hon${filler.slice(SCAN_HEAD_CHARS + 1000)}`;
    for (const when of [{ prompt: { contains: 'python' } }, { prompt: { regex: 'python' } }]) {
      expect(holds(when, request({ prompt: head }).input)).toBe(true);
      expect(holds(when, request({ prompt: tail }).input)).toBe(true);
      expect(holds(when, request({ prompt: middle }).input)).toBe(false);
    }
    expect(holds({ prompt: { regex: 'pyt.*hon' } }, request({ prompt: seam }).input)).toBe(false);
    expect(holds({ prompt: { regex: 'pyt.*hon' } }, request({ prompt: seam.slice(0, SCAN_HEAD_CHARS + SCAN_TAIL_CHARS) }).input)).toBe(true);
    // Fields the request already holds are capped the same way; equality still sees the whole value.
    expect(holds({ 'metadata.note': { contains: 'python' } }, request({ metadata: { note: middle } }).input)).toBe(false);
    expect(holds({ 'metadata.note': { contains: 'python' } }, request({ metadata: { note: tail } }).input)).toBe(true);
    expect(holds({ prompt: { eq: middle } }, request({ prompt: middle }).input)).toBe(true);
  });

  it('survives a lazy field that throws and a match() re-entered from a lazy field', () => {
    const compiled = rules([{ when: { prompt: { contains: 'python' } }, route_to: 'a' }]);
    const failing = request().input;
    failing.prompt = () => {
      throw new Error('no prompt');
    };
    expect(() => compiled.match(failing)).toThrow('no prompt');
    expect(compiled.match(request({ prompt: 'python' }).input)).toEqual({ name: 'rule-0', routeTo: 'a' });

    const outer = request().input;
    let inner: ReturnType<typeof compiled.match> = undefined;
    outer.prompt = () => {
      inner = compiled.match(request({ prompt: 'no match here' }).input);
      return 'python';
    };
    expect(compiled.match(outer)).toEqual({ name: 'rule-0', routeTo: 'a' });
    expect(inner).toBeUndefined();
  });
});

describe('ruleTargets', () => {
  it('lists each route_to group once, in rule order', () => {
    const parsed = routingRulesSchema.parse([
      { when: { model: { eq: 'a' } }, route_to: 'coder' },
      { when: { model: { eq: 'b' } }, route_to: 'cheap' },
      { when: { model: { eq: 'c' } }, route_to: 'coder' },
    ]);
    expect(ruleTargets(parsed)).toEqual(['coder', 'cheap']);
  });
});
