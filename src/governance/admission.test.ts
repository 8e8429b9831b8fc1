import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import { Admitter, modelMatches, type AdmissionOptions, type AdmissionRequest } from './admission.js';
import { resetText, type Ticket } from './ticket.js';
import { Directory, type DirectorySource, type Level } from './directory.js';
import type { Admission, Lease, Limiter, Rule } from './limits/limiter.js';
import { MemoryLimiter } from './limits/memory-limiter.js';
import { ANONYMOUS, MASTER, type Principal } from './principal.js';
import type { KeyRecord, OrgRecord, Policy, TeamRecord, UserRecord } from './types.js';
import { orgRecord, teamRecord, keyRecord, userRecord } from './__fixtures__/records.js';

/** A Sunday: the week began on Monday 2026-11-30; the day ends at 2026-12-07T00:00Z, 12 hours on. */
const NOW = Date.parse('2026-12-06T12:00:00Z');
const TOMORROW = Date.parse('2026-12-07T00:00:00Z');
const MINUTE = 60_000;
const DAY = 86_400_000;


const principal = (key?: KeyRecord, team?: TeamRecord, org?: OrgRecord): Principal => ({ master: false, key, team, org });

/** The real limiter, with the calls it was given written down so the rules can be read back. */
class RecordingLimiter implements Limiter {
  readonly calls: { tag: string; rules: Rule[] }[] = [];
  readonly errors: Error[] = [];
  readonly inner: MemoryLimiter;

  constructor(now: () => number) {
    this.inner = new MemoryLimiter({ now, onError: (err) => this.errors.push(err) });
  }

  acquire(tag: string, rules: Rule[]): Promise<Admission> {
    this.calls.push({ tag, rules });
    return this.inner.acquire(tag, rules);
  }

  settle(lease: Lease, actual: (number | undefined)[]): Promise<void> {
    return this.inner.settle(lease, actual);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Setup {
  users?: UserRecord[];
  /** Keys the directory holds (their budgets decide which recorded spend it loads). */
  keys?: KeyRecord[];
  /** Recorded spend per `<level>:<startDay or total>`: id → USD. */
  spend?: Record<string, Record<string, number>>;
  options?: Partial<AdmissionOptions>;
}

interface World {
  admitter: Admitter;
  limiter: RecordingLimiter;
  clock: { now: number };
  directory: Directory;
}

/** A directory over in-test records (end users, recorded spend) sharing the admitter's clock. */
async function world(setup: Setup = {}): Promise<World> {
  const clock = { now: NOW };
  const now = (): number => clock.now;
  const source: DirectorySource = {
    listOrgs: async () => [],
    listTeams: async () => [],
    listKeys: async () => setup.keys ?? [],
    listUsers: async () => setup.users ?? [],
    revision: async () => 1,
    spendTotals: async (level: Level, sinceDay: string | null) => new Map(Object.entries(setup.spend?.[`${level}:${sinceDay ?? 'total'}`] ?? {})),
  };
  const directory = new Directory(source, { refreshIntervalMs: 60_000, onError: (err) => expect.fail(String(err)), now });
  await directory.start();
  directory.stop();
  const limiter = new RecordingLimiter(now);
  const admitter = new Admitter(directory, limiter, { unpricedModels: 'deny', defaultMaxTokens: 4096, now, ...setup.options });
  return { admitter, limiter, clock, directory };
}

/** 100 prompt tokens and max_tokens 50 (150 tokens), at $2 / $8 per 1M tokens: 600 micro-USD at most. */
function ask(who: Principal, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { principal: who, endUser: undefined, model: 'smart', direct: false, promptTokens: () => 100, maxOutputTokens: 50, price: { input: 2, output: 8 }, ...extra };
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected admission to be refused');
}

async function admitted(admitter: Admitter, request: AdmissionRequest): Promise<Ticket> {
  const ticket = await admitter.admit(request);
  if (!ticket) throw new Error('expected a ticket');
  return ticket;
}

/** One principal per level: the level's policy is `policy`, the others are open. */
function atLevel(level: Level, policy: Partial<Policy>): { who: Principal; endUser: string | undefined; users: UserRecord[] } {
  const key = keyRecord(level === 'key' ? policy : {});
  const team = teamRecord(level === 'team' ? policy : {});
  const org = orgRecord(level === 'org' ? policy : {});
  const users = [userRecord(level === 'user' ? policy : {})];
  return { who: principal(key, team, org), endUser: 'u1', users };
}

const LABELS: [Level, string][] = [
  ['key', 'Key "ci-bot"'],
  ['team', 'Team "ml"'],
  ['org', 'Org "acme"'],
  ['user', 'End user "u1"'],
];

describe('modelMatches', () => {
  it.each([
    ['smart', 'smart', false, true],
    ['smart', 'smarter', false, false],
    ['openai/*', 'openai/gpt-4o', true, true],
    ['openai/*', 'openai/o1/preview', true, true],
    ['openai/*', 'openaix/gpt-4o', true, false],
    ['openai/*', 'smart', false, false],
    // A configured group whose name starts with the provider's is not the provider addressed directly.
    ['openai/*', 'openai/premium', false, false],
    ['openai/premium', 'openai/premium', false, true],
    ['openai/gpt-4o', 'openai/gpt-4o-mini', true, false],
    ['*', 'anything/at-all', true, true],
  ])('%s allows %s (direct: %s): %s', (allowed, model, direct, expected) => {
    expect(modelMatches(allowed, model, direct)).toBe(expected);
  });
});

describe('resetText', () => {
  it.each([
    [0, '0ms'],
    [20, '20ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1001, '2s'],
    [59_000, '59s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [361_500, '6m2s'],
    [3_723_000, '1h2m3s'],
  ])('%d ms is %s', (ms, text) => {
    expect(resetText(ms)).toBe(text);
  });
});

describe('Admitter policies', () => {
  it.each(LABELS)('refuses a blocked %s, naming it (403 access_denied)', async (level, label) => {
    const { who, endUser, users } = atLevel(level, { blocked: true });
    const { admitter, limiter } = await world({ users });
    const err = await refusal(admitter.admit(ask(who, { endUser })));
    expect(err).toMatchObject({ code: 'access_denied', status: 403, message: `${label} is blocked. Ask your administrator.` });
    expect(limiter.calls).toHaveLength(0);
  });

  it.each(LABELS.filter(([level]) => level !== 'key'))('refuses an expired %s, naming it and when it expired', async (level, label) => {
    const { who, endUser, users } = atLevel(level, { expires_at: NOW });
    const { admitter } = await world({ users });
    const err = await refusal(admitter.admit(ask(who, { endUser })));
    expect(err).toMatchObject({ code: 'access_denied', status: 403, message: `${label} expired at 2026-12-06T12:00:00.000Z. Ask your administrator.` });
  });

  it('lets a level through until the moment it expires', async () => {
    const { who, endUser, users } = atLevel('org', { expires_at: NOW + 1, limits: { rpm: 5 } });
    const { admitter } = await world({ users });
    await expect(admitter.admit(ask(who, { endUser }))).resolves.toBeDefined();
  });

  it("leaves a key's expiry to the authenticator", async () => {
    const { who, users } = atLevel('key', { expires_at: NOW - DAY, limits: { rpm: 5 } });
    const { admitter } = await world({ users });
    await expect(admitter.admit(ask(who))).resolves.toBeDefined();
  });

  it.each(LABELS)('refuses a model the %s may not use (403 model_not_allowed on param model)', async (level, label) => {
    const { who, endUser, users } = atLevel(level, { models: ['fast', 'anthropic/*'] });
    const { admitter } = await world({ users });
    const err = await refusal(admitter.admit(ask(who, { endUser, model: 'openai/gpt-4o' })));
    expect(err).toMatchObject({ code: 'model_not_allowed', status: 403, param: 'model', message: `${label} may not use the model "openai/gpt-4o" (allowed: fast, anthropic/*).` });
  });

  it('allows listed names, provider wildcards and *', async () => {
    const { admitter } = await world();
    const models = { models: ['fast', 'anthropic/*'] };
    const who = principal(keyRecord(models), teamRecord({ models: ['*'] }), orgRecord({ models: ['fast', 'anthropic/*', 'smart'] }));
    await expect(admitter.admit(ask(who, { model: 'fast' }))).resolves.toBeUndefined();
    await expect(admitter.admit(ask(who, { model: 'anthropic/claude-sonnet-4-5', direct: true }))).resolves.toBeUndefined();
    await expect(refusal(admitter.admit(ask(who, { model: 'smart' })))).resolves.toMatchObject({ message: expect.stringMatching(/^Key "ci-bot" may not use/) });
    // A configured group named like the provider's models is not the provider addressed directly.
    await expect(refusal(admitter.admit(ask(who, { model: 'anthropic/premium', direct: false })))).resolves.toMatchObject({ message: expect.stringMatching(/^Key "ci-bot" may not use the model "anthropic\/premium"/) });
  });

  it('allows no model at all with an empty list', async () => {
    const { admitter } = await world();
    const err = await refusal(admitter.admit(ask(principal(keyRecord(), teamRecord({ models: [] })), { model: 'fast' })));
    expect(err.message).toBe('Team "ml" may not use the model "fast" (allowed: none).');
  });

  it('checks the innermost level first', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ models: ['fast'] }), teamRecord({ blocked: true }), orgRecord({ blocked: true }));
    const err = await refusal(admitter.admit(ask(who)));
    expect(err.message).toMatch(/^Key "ci-bot" may not use/);
  });

  it('gives no ticket to a request without levels, or without rules', async () => {
    const { admitter, limiter } = await world({ users: [userRecord({ limits: { rpm: 1 } })] });
    await expect(admitter.admit(ask(ANONYMOUS))).resolves.toBeUndefined();
    await expect(admitter.admit(ask(MASTER, { endUser: 'someone-unknown' }))).resolves.toBeUndefined();
    await expect(admitter.admit(ask(principal(keyRecord(), teamRecord(), orgRecord())))).resolves.toBeUndefined();
    expect(limiter.calls).toHaveLength(0);
  });

  it('checks only the policies of a free request (count_tokens), counting nothing', async () => {
    const { admitter, limiter } = await world();
    const limited = principal(keyRecord({ limits: { rpm: 1, tpm: 10 }, budget: { usd: 1, period: 'daily' } }));
    const never = (): number => expect.fail('a free request estimates no tokens');
    for (let i = 0; i < 3; i++) await expect(admitter.admit(ask(limited, { free: true, promptTokens: never, price: undefined }))).resolves.toBeUndefined();
    expect(limiter.calls).toHaveLength(0);
    const blocked = principal(keyRecord({ blocked: true }));
    await expect(refusal(admitter.admit(ask(blocked, { free: true })))).resolves.toMatchObject({ code: 'access_denied' });
  });
});

describe('Admitter rules', () => {
  it("builds every level's rules with their keys, limits, windows and amounts", async () => {
    const limits = { rpm: 10, tpm: 1000, tpd: 5000, max_parallel: 2 };
    const { admitter, limiter } = await world({ users: [userRecord({ limits: { rpm: 7 } })] });
    const who = principal(keyRecord({ limits, budget: { usd: 5, period: 'daily' } }), teamRecord({ limits: { tpm: 2000 } }), orgRecord({ budget: { usd: 100, period: 'monthly' } }));
    await admitted(admitter, ask(who, { endUser: 'u1' }));
    expect(limiter.calls).toHaveLength(1);
    expect(limiter.calls[0]).toEqual({
      tag: 'limits',
      rules: [
        { kind: 'rate', key: 'key:k1:rpm', limit: 10, windowMs: MINUTE, amount: 1 },
        { kind: 'rate', key: 'key:k1:tpm', limit: 1000, windowMs: MINUTE, amount: 150 },
        { kind: 'rate', key: 'key:k1:tpd', limit: 5000, windowMs: DAY, amount: 150 },
        { kind: 'parallel', key: 'key:k1:parallel', limit: 2 },
        { kind: 'budget', key: 'key:k1:budget:d2026-12-06', limit: 5_000_000, amount: 600, expiresAt: TOMORROW + DAY, seed: 0 },
        { kind: 'rate', key: 'team:t1:tpm', limit: 2000, windowMs: MINUTE, amount: 150 },
        { kind: 'budget', key: 'org:o1:budget:m2026-12', limit: 100_000_000, amount: 600, expiresAt: Date.parse('2027-01-01T00:00:00Z') + DAY, seed: 0 },
        { kind: 'rate', key: 'user:u1\u0000org:o1:rpm', limit: 7, windowMs: MINUTE, amount: 1 },
      ],
    });
  });

  it('reserves default_max_tokens when the request sets no max_tokens, and estimates the prompt once', async () => {
    const { admitter, limiter } = await world({ options: { defaultMaxTokens: 200 } });
    let estimates = 0;
    const promptTokens = (): number => (estimates++, 100);
    const who = principal(keyRecord({ limits: { tpm: 10_000, tpd: 10_000 }, budget: { usd: 5, period: 'weekly' } }));
    await admitted(admitter, ask(who, { promptTokens, maxOutputTokens: undefined }));
    expect(estimates).toBe(1);
    expect(limiter.calls[0]!.rules.map((rule) => ('amount' in rule ? rule.amount : undefined))).toEqual([300, 300, 100 * 2 + 200 * 8]);
    expect(limiter.calls[0]!.rules[2]).toMatchObject({ key: 'key:k1:budget:w2026-11-30', expiresAt: Date.parse('2026-12-07T00:00:00Z') + DAY });
  });

  it('reserves token rates from the estimate and budgets from the upper bound of the prompt, each computed once', async () => {
    const { admitter, limiter } = await world();
    let bounds = 0;
    const promptTokensBound = (): number => (bounds++, 400);
    const who = principal(keyRecord({ limits: { tpm: 10_000 }, budget: { usd: 5, period: 'daily' } }), teamRecord({ budget: { usd: 50, period: 'monthly' } }));
    await admitted(admitter, ask(who, { promptTokens: () => 100, promptTokensBound, maxOutputTokens: 50 }));
    expect(bounds).toBe(1);
    // tpm: 100 + 50 tokens; each budget: 400 × $2 + 50 × $8 per 1M tokens = 1,200 micro-USD.
    expect(limiter.calls[0]!.rules.map((rule) => ('amount' in rule ? rule.amount : undefined))).toEqual([150, 1200, 1200]);
  });

  it('does not estimate the prompt when only requests are counted', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: { rpm: 10, max_parallel: 3 } }));
    await expect(admitter.admit(ask(who, { promptTokens: () => expect.fail('no token rule needs it') }))).resolves.toBeDefined();
  });

  it("keeps a total budget's counter for good", async () => {
    const { admitter, limiter } = await world();
    await admitted(admitter, ask(principal(keyRecord({ budget: { usd: 5, period: 'total' } }))));
    expect(limiter.calls[0]!.rules).toEqual([{ kind: 'budget', key: 'key:k1:budget:total', limit: 5_000_000, amount: 600, expiresAt: Date.UTC(9999, 0, 1), seed: 0 }]);
  });

  it("keeps a key's, team's and org's counters under their own names, whatever they are in (a move keeps the counts)", async () => {
    const { admitter, limiter } = await world();
    const alone = principal(keyRecord({ team_id: null, limits: { rpm: 3 } }));
    const team = teamRecord({ org_id: null, limits: { rpm: 3 } });
    const inTeam = principal(keyRecord({ limits: { rpm: 3 } }), team);
    const inOrg = principal(keyRecord({ limits: { rpm: 3 } }), teamRecord({ limits: { rpm: 3 } }), orgRecord());
    for (const who of [alone, inTeam, inOrg]) await admitted(admitter, ask(who));
    expect(limiter.calls.map((call) => [call.tag, call.rules.map((rule) => rule.key)])).toEqual([
      ['limits', ['key:k1:rpm']],
      ['limits', ['key:k1:rpm', 'team:t1:rpm']],
      ['limits', ['key:k1:rpm', 'team:t1:rpm']],
    ]);
    // The key's third request in a minute, moved twice, is its last within rpm: 3.
    await expect(refusal(admitter.admit(ask(inOrg)))).resolves.toMatchObject({ message: expect.stringMatching(/^Rate limit reached for key "ci-bot"/) });
  });

  it("keeps one end user's counters per tenant (the outermost level), request after request", async () => {
    const { admitter, limiter } = await world({ users: [userRecord({ limits: { rpm: 100 } })] });
    const inOrg = principal(keyRecord({ limits: { rpm: 100 } }), teamRecord(), orgRecord());
    const alone = principal(keyRecord({ id: 'k2', name: 'solo', team_id: null, limits: { rpm: 100 } }));
    const inTeam = principal(keyRecord({ id: 'k3', limits: { rpm: 100 } }), teamRecord({ org_id: null }));
    for (const who of [inOrg, alone, inOrg, alone, inTeam, MASTER]) await admitted(admitter, ask(who, { endUser: 'u1' }));
    expect(limiter.calls.map((call) => call.rules.map((rule) => rule.key))).toEqual([
      ['key:k1:rpm', 'user:u1\u0000org:o1:rpm'],
      ['key:k2:rpm', 'user:u1\u0000key:k2:rpm'],
      ['key:k1:rpm', 'user:u1\u0000org:o1:rpm'],
      ['key:k2:rpm', 'user:u1\u0000key:k2:rpm'],
      ['key:k3:rpm', 'user:u1\u0000team:t1:rpm'],
      ['user:u1\u0000user:u1:rpm'],
    ]);
  });
});

describe('Admitter refusals', () => {
  it('is all or nothing: a refusal by the org reserves nothing for the key', async () => {
    const { admitter } = await world();
    const org = orgRecord({ limits: { max_parallel: 1 } });
    const team = teamRecord();
    const ours = principal(keyRecord({ limits: { rpm: 2 } }), team, org);
    const theirs = principal(keyRecord({ id: 'k2', name: 'other' }), team, org);
    const holding = await admitted(admitter, ask(theirs));
    const err = await refusal(admitter.admit(ask(ours)));
    expect(err.message).toMatch(/^Org "acme" allows 1 requests in flight/);
    await holding.settle(0, 0);
    // Had the refused request counted against the key, this one would find 0 of 2 left.
    const first = await admitted(admitter, ask(ours));
    expect(first.states[0]).toMatchObject({ limit: 2, remaining: 1 });
    await first.settle(150, 0);
    await admitted(admitter, ask(ours));
    await expect(refusal(admitter.admit(ask(ours)))).resolves.toMatchObject({ message: expect.stringMatching(/^Rate limit reached for key "ci-bot"/) });
  });

  it('answers an exhausted rpm with 429 and when a request is free again', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: { rpm: 2 } }));
    await admitted(admitter, ask(who));
    await admitted(admitter, ask(who));
    const err = await refusal(admitter.admit(ask(who)));
    expect(err).toMatchObject({ code: 'rate_limit_exceeded', status: 429, retryAfterMs: 30_000, message: 'Rate limit reached for key "ci-bot": 2 requests per minute. Retry after 30s.' });
  });

  it.each([
    ['tpm', 'minute', MINUTE],
    ['tpd', 'day', DAY],
  ] as const)('answers an exhausted %s with 429 and the wait for the tokens', async (what, per, windowMs) => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: what === 'tpm' ? { tpm: 1000 } : { tpd: 1000 } }));
    // 600 tokens each: the second needs 200 of them drained, at 1000 per window.
    const big = { promptTokens: () => 500, maxOutputTokens: 100 };
    await admitted(admitter, ask(who, big));
    const err = await refusal(admitter.admit(ask(who, big)));
    const wait = (200 * windowMs) / 1000;
    expect(err).toMatchObject({ code: 'rate_limit_exceeded', status: 429, retryAfterMs: wait, message: `Token rate limit reached for key "ci-bot": 1000 tokens per ${per}. Retry after ${wait / 1000}s.` });
  });

  it('says when a request can never fit a token limit, without Retry-After', async () => {
    const { admitter } = await world();
    const err = await refusal(admitter.admit(ask(principal(keyRecord(), teamRecord({ limits: { tpm: 100 } })))));
    expect(err).toMatchObject({
      code: 'rate_limit_exceeded',
      status: 429,
      retryAfterMs: undefined,
      message: 'Team "ml" allows 100 tokens per minute, and this request may use more than that on its own (its prompt plus max_tokens). Lower max_tokens or shorten the prompt.',
    });
  });

  it('tells a request with no output (embeddings) to send less input, not to lower max_tokens', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: { tpm: 100 } }), teamRecord({ budget: { usd: 0.000001, period: 'daily' } }));
    const tpm = await refusal(admitter.admit(ask(principal(keyRecord({ limits: { tpm: 100 } })), { promptTokens: () => 500, maxOutputTokens: 0 })));
    expect(tpm.message).toBe('Key "ci-bot" allows 100 tokens per minute, and this request may use more than that on its own (its input). Send less input per request.');
    const budget = await refusal(admitter.admit(ask(who, { promptTokens: () => 50, maxOutputTokens: 0 })));
    expect(budget.message).toBe('Team "ml" has a budget of $0.000001 daily, and this request alone could cost more than that (its input at the model\'s price). Send less input per request.');
  });

  it('names the limit a request can never fit, not one that is only busy', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: { tpm: 1000 } }), teamRecord(), orgRecord({ limits: { tpm: 500 } }));
    await admitted(admitter, ask(who, { promptTokens: () => 300, maxOutputTokens: 100 }));
    // 700 tokens: the key's 1000 per minute are busy for a while, the org's 500 can never hold them.
    const err = await refusal(admitter.admit(ask(who, { promptTokens: () => 600, maxOutputTokens: 100 })));
    expect(err).toMatchObject({ retryAfterMs: undefined, message: expect.stringMatching(/^Org "acme" allows 500 tokens per minute, and this request may use more than that on its own/) });
  });

  it('answers a full parallel limit with 429 and a 1 s Retry-After', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: { max_parallel: 1 } }));
    const running = await admitted(admitter, ask(who));
    const err = await refusal(admitter.admit(ask(who)));
    expect(err).toMatchObject({ code: 'rate_limit_exceeded', status: 429, retryAfterMs: 1000, message: 'Key "ci-bot" allows 1 requests in flight at once, and that many are running. Retry after 1s.' });
    await running.settle(150, 0);
    await expect(admitter.admit(ask(who))).resolves.toBeDefined();
  });

  it('answers a spent budget with 429 budget_exceeded, what was spent and when it resets', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord(), teamRecord({ budget: { usd: 0.001, period: 'daily' } }));
    await admitted(admitter, ask(who));
    const err = await refusal(admitter.admit(ask(who)));
    expect(err).toMatchObject({
      code: 'budget_exceeded',
      status: 429,
      retryAfterMs: TOMORROW - NOW,
      message:
        'Budget reached for team "ml": $0.001 daily ($0.0006 spent or held by requests in flight); this request could cost more than what is left. It resets at 2026-12-07T00:00:00.000Z.',
    });
  });

  it('gives no Retry-After when the request alone could cost more than the whole budget, and says so', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord(), teamRecord({ budget: { usd: 0.0001, period: 'daily' } }));
    const err = await refusal(admitter.admit(ask(who)));
    expect(err).toMatchObject({
      code: 'budget_exceeded',
      status: 429,
      retryAfterMs: undefined,
      message: 'Team "ml" has a budget of $0.0001 daily, and this request alone could cost more than that (its prompt plus max_tokens at the model\'s price). Lower max_tokens or shorten the prompt.',
    });
  });

  it('refuses a max_tokens whose cost no counter holds exactly (near 2^53) as more than the budget, not as an error', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ budget: { usd: 100, period: 'daily' } }));
    const err = await refusal(admitter.admit(ask(who, { maxOutputTokens: 2 ** 52 })));
    expect(err).toMatchObject({ code: 'budget_exceeded', status: 429, retryAfterMs: undefined, message: expect.stringContaining('this request alone could cost more than that') });
  });

  it('gives no Retry-After for a spent total budget', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ budget: { usd: 0.001, period: 'total' } }));
    await admitted(admitter, ask(who));
    const err = await refusal(admitter.admit(ask(who)));
    expect(err).toMatchObject({ code: 'budget_exceeded', retryAfterMs: undefined, message: 'Budget reached for key "ci-bot": $0.001 in total ($0.0006 spent or held by requests in flight); this request could cost more than what is left.' });
  });
});

describe('Admitter and unpriced models', () => {
  it('refuses a budgeted request to an unpriced model under deny (403 model_not_priced naming the level)', async () => {
    const { admitter, limiter } = await world();
    const who = principal(keyRecord({ limits: { rpm: 5 } }), teamRecord({ budget: { usd: 5, period: 'daily' } }));
    const err = await refusal(admitter.admit(ask(who, { price: undefined })));
    expect(err).toMatchObject({ code: 'model_not_priced', status: 403 });
    expect(err.message).toMatch(/^Team "ml" has a budget, and "smart" has no known price/);
    expect(limiter.calls).toHaveLength(0);
  });

  it('serves it under allow, holding it to every limit but the budget', async () => {
    const { admitter, limiter } = await world({ options: { unpricedModels: 'allow' } });
    const who = principal(keyRecord({ limits: { rpm: 5 }, budget: { usd: 5, period: 'daily' } }));
    await admitted(admitter, ask(who, { price: undefined }));
    expect(limiter.calls[0]!.rules).toEqual([{ kind: 'rate', key: 'key:k1:rpm', limit: 5, windowMs: MINUTE, amount: 1 }]);
    const budgetOnly = principal(keyRecord({ budget: { usd: 5, period: 'daily' } }));
    await expect(admitter.admit(ask(budgetOnly, { price: undefined }))).resolves.toBeUndefined();
  });

  it('serves an unpriced model to levels without budgets, under deny too', async () => {
    const { admitter } = await world();
    await expect(admitter.admit(ask(principal(keyRecord({ limits: { rpm: 5 } })), { price: undefined }))).resolves.toBeDefined();
  });
});

describe('Admitter budget seeds', () => {
  it("seeds a budget counter with the directory's recorded spend for the current period", async () => {
    const spend = { 'key:2026-12-06': { k1: 0.0009 }, 'key:2026-12-01': { k1: 3 } };
    const key = keyRecord({ budget: { usd: 0.001, period: 'daily' } });
    const { admitter, limiter } = await world({ spend, keys: [key] });
    const who = principal(key);
    const err = await refusal(admitter.admit(ask(who)));
    expect(err).toMatchObject({ code: 'budget_exceeded', message: expect.stringContaining('($0.0009 spent or held by requests in flight)') });
    expect(limiter.calls[0]!.rules[0]).toMatchObject({ seed: 900 });
  });

  it('does not report the limit as the spend when the recorded spend is past a budget lowered since', async () => {
    // $3 spent today, and the budget is now $0.001: the counter is full, and the message says only that.
    const key = keyRecord({ budget: { usd: 0.001, period: 'daily' } });
    const { admitter } = await world({ spend: { 'key:2026-12-06': { k1: 3 } }, keys: [key] });
    const err = await refusal(admitter.admit(ask(principal(key))));
    expect(err.message).toMatch(/^Budget reached for key "ci-bot": \$0\.001 daily \(all of it spent or held by requests in flight\); this request could cost more than what is left\./);
  });

  it("seeds an end user's budget with what the user spent in this tenant only: another org's spend is another person's", async () => {
    const user = userRecord({ budget: { usd: 0.01, period: 'daily' } });
    // u1 spent $0.006 under org o1 and $0.003 as a standalone key's end user.
    const spend = { 'user:2026-12-06': { 'u1\u0000org:o1': 0.006, 'u1\u0000key:k9': 0.003 } };
    const { admitter, limiter } = await world({ spend, users: [user] });
    const inOrg = principal(keyRecord(), teamRecord(), orgRecord());
    const standalone = principal(keyRecord({ id: 'k9', team_id: null }));
    const elsewhere = principal(keyRecord({ id: 'k8', team_id: null }));
    for (const who of [inOrg, standalone, elsewhere]) await admitted(admitter, ask(who, { endUser: 'u1' }));
    expect(limiter.calls.map((call) => call.rules.find((rule) => rule.kind === 'budget'))).toEqual([
      expect.objectContaining({ key: 'user:u1\u0000org:o1:budget:d2026-12-06', seed: 6000 }),
      expect.objectContaining({ key: 'user:u1\u0000key:k9:budget:d2026-12-06', seed: 3000 }),
      expect.objectContaining({ key: 'user:u1\u0000key:k8:budget:d2026-12-06', seed: 0 }),
    ]);
  });

  it('takes the recorded spend read again as the new floor (a counter that starts again, after Redis lost it, starts there)', async () => {
    const key = keyRecord({ budget: { usd: 1, period: 'daily' } });
    const setup: Setup = { spend: { 'key:2026-12-06': { k1: 0.25 } }, keys: [key] };
    const { admitter, limiter, directory } = await world(setup);
    const who = principal(key);
    await admitted(admitter, ask(who));
    // Spend recorded since (this instance's rows, or another's), read by the periodic refresh.
    setup.spend = { 'key:2026-12-06': { k1: 0.75 } };
    await directory.refreshSpend();
    await admitted(admitter, ask(who));
    expect(limiter.calls.map((call) => call.rules[0])).toEqual([expect.objectContaining({ seed: 250_000 }), expect.objectContaining({ seed: 750_000 })]);
  });

  it('starts a period that began after the directory loaded at 0', async () => {
    const key = keyRecord({ budget: { usd: 0.001, period: 'daily' } });
    const { admitter, limiter, clock } = await world({ spend: { 'key:2026-12-06': { k1: 0.0009 } }, keys: [key] });
    clock.now = TOMORROW + MINUTE;
    const who = principal(key);
    await admitted(admitter, ask(who));
    expect(limiter.calls[0]!.rules[0]).toMatchObject({ key: 'key:k1:budget:d2026-12-07', seed: 0 });
  });
});

describe('Ticket', () => {
  it('reconciles tokens and cost exactly once', async () => {
    const { admitter, limiter } = await world();
    // $1 per 1M tokens either way: a micro-USD a token, 1000 in the budget.
    const price = { input: 1, output: 1 };
    const who = principal(keyRecord({ limits: { tpm: 1000 }, budget: { usd: 0.001, period: 'daily' } }));
    const first = await admitted(admitter, ask(who, { price, promptTokens: () => 500, maxOutputTokens: 100 }));
    expect(first.states.map((s) => s.remaining)).toEqual([400, 400]);
    await first.settle(200, 0.0002);
    const second = await admitted(admitter, ask(who, { price, promptTokens: () => 500, maxOutputTokens: 100 }));
    expect(second.states.map((s) => s.remaining)).toEqual([200, 200]);
    await first.settle(0, 0);
    // Had the second settle counted, 200 tokens and $0.0002 would be left after this one.
    const third = await admitted(admitter, ask(who, { price, promptTokens: () => 100, maxOutputTokens: 100 }));
    expect(third.states.map((s) => s.remaining)).toEqual([0, 0]);
    expect(limiter.errors).toEqual([]);
  });

  it('fills x-ratelimit-* from the tightest requests and tokens limits', async () => {
    const { admitter } = await world();
    const who = principal(keyRecord({ limits: { rpm: 10, tpm: 100_000 } }), teamRecord(), orgRecord({ limits: { rpm: 3, tpm: 10_000, tpd: 20 * 150 } }));
    const ticket = await admitted(admitter, ask(who));
    const headers: Record<string, string> = {};
    ticket.headers(headers);
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': '20s',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '9850',
      // 150 tokens drain in 150 × 60 s / 10000 = 900 ms.
      'x-ratelimit-reset-tokens': '900ms',
    });
  });

  it('formats longer resets like OpenAI', async () => {
    const { admitter } = await world();
    const ticket = await admitted(admitter, ask(principal(keyRecord({ limits: { tpm: 160 } }))));
    const headers: Record<string, string> = {};
    ticket.headers(headers);
    // 150 of 160 tokens per minute: 56.25 s to drain.
    expect(headers['x-ratelimit-reset-tokens']).toBe('57s');
    expect(headers['x-ratelimit-remaining-tokens']).toBe('10');
  });

  it('sets no headers without request or token rates', async () => {
    const { admitter } = await world();
    const ticket = await admitted(admitter, ask(principal(keyRecord({ limits: { tpd: 1000, max_parallel: 1 }, budget: { usd: 1, period: 'daily' } }))));
    const headers: Record<string, string> = {};
    ticket.headers(headers);
    expect(headers).toEqual({});
  });
});
