import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { Admitter, type AdmissionOptions } from '../governance/admission.js';
import { Directory, type DirectorySource } from '../governance/directory.js';
import { Ledger } from '../governance/ledger.js';
import type { Limiter, Rule } from '../governance/limits/limiter.js';
import { MemoryLimiter } from '../governance/limits/memory-limiter.js';
import { RedisLimiter } from '../governance/limits/redis-limiter.js';
import { ANONYMOUS, MASTER, type Principal } from '../governance/principal.js';
import type { KeyRecord, OrgRecord, TeamRecord, UserRecord } from '../governance/types.js';
import { buildProviders } from '../providers/registry.js';
import { ModelRegistry } from '../routing/models.js';
import { RoutePlan } from '../routing/plan.js';
import { NO_HINTS, type RouteHints } from '../routing/router.js';
import { AdmissionStage, type Estimate } from './admission-stage.js';
import { createRequestContext, type RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { keyRecord, orgRecord, teamRecord, userRecord } from '../governance/__fixtures__/records.js';
import { closedPort } from '../../test/helpers/ports.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const DRAIN_MS = 30_000;

/**
 * Prices are USD per 1M tokens. `local` has no price (a self-hosted server the catalogue cannot
 * know); mock targets cost 0 unless the config says otherwise.
 */
const CONFIG = `
providers:
  demo: { type: mock }
  local: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }
models:
  cheap:
    targets:
      - { provider: demo, model: cheap-a, price: { input: 1, output: 2 } }
      - { provider: demo, model: cheap-b, price: { input: 0.5, output: 4 } }
  dear:
    targets: [ { provider: demo, model: dear, price: { input: 3, output: 15, cache_write: 3.75 } } ]
  cheap-then-dear:
    targets: [ { provider: demo, model: first, price: { input: 1, output: 2 } } ]
    fallbacks: [ dear ]
  ring-a:
    targets: [ { provider: demo, model: ring-a, price: { input: 2, output: 1 } } ]
    context_window_fallbacks: [ ring-b ]
  ring-b:
    targets: [ { provider: demo, model: ring-b, price: { input: 1, output: 6 } } ]
    content_policy_fallbacks: [ ring-a, ring-c ]
  ring-c:
    targets: [ { provider: demo, model: ring-c, price: { input: 7, output: 1 } } ]
    fallbacks: [ ring-a ]
  free:
    targets: [ { provider: demo, model: free } ]
  unpriced:
    targets:
      - { provider: demo, model: priced, price: { input: 1, output: 1 } }
      - { provider: local, model: llama }
  priced-then-unpriced:
    targets: [ { provider: demo, model: before, price: { input: 1, output: 1 } } ]
    fallbacks: [ unpriced ]
`;

const member = (key: Partial<KeyRecord> = {}, team: Partial<TeamRecord> = {}, org: Partial<OrgRecord> = {}): Principal => ({
  master: false,
  key: keyRecord(key),
  team: teamRecord(team),
  org: orgRecord(org),
});

/** The real limiter, with the rules it was given written down so the reserved cost can be read back. */
class RecordingLimiter implements Limiter {
  readonly rules: Rule[][] = [];
  readonly #inner = new MemoryLimiter({ now: () => NOW });
  acquire(tag: string, rules: Rule[]): ReturnType<Limiter['acquire']> {
    this.rules.push(rules);
    return this.#inner.acquire(tag, rules);
  }
  settle(...args: Parameters<Limiter['settle']>): Promise<void> {
    return this.#inner.settle(...args);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

interface Stage {
  stage: AdmissionStage;
  models: ModelRegistry;
  ledger: Ledger;
  limiter: RecordingLimiter;
}

async function stageOf(options: { users?: UserRecord[]; limiter?: Limiter; admission?: Partial<AdmissionOptions> } = {}): Promise<Stage> {
  const { config } = parseConfigText(CONFIG, 'test.yaml', {});
  const models = new ModelRegistry(config, await buildProviders(config, {}));
  const source: DirectorySource = {
    listOrgs: async () => [],
    listTeams: async () => [],
    listKeys: async () => [],
    listUsers: async () => options.users ?? [],
    revision: async () => 1,
    spendTotals: async () => new Map(),
  };
  const directory = new Directory(source, { refreshIntervalMs: 60_000, onError: (err) => expect.fail(String(err)), now: () => NOW });
  await directory.start();
  directory.stop();
  const limiter = new RecordingLimiter();
  const admitter = new Admitter(directory, options.limiter ?? limiter, { unpricedModels: 'deny', defaultMaxTokens: 4096, now: () => NOW, ...options.admission });
  const ledger = new Ledger(() => undefined);
  return { stage: new AdmissionStage(() => models, { admitter, ledger, drainMs: DRAIN_MS }), models, ledger, limiter };
}

function context(principal: Principal | undefined, endUser?: string): RequestContext {
  const rc = createRequestContext('req-1', 'chat', 0);
  rc.principal = principal;
  rc.endUser = endUser;
  return rc;
}

function hints(extra: Partial<RouteHints> = {}): RouteHints {
  return { ...NO_HINTS, ...extra };
}

function planFor(models: ModelRegistry, group: string): RoutePlan {
  return new RoutePlan(models, models.resolve(group)!, { stream: false, constraints: {} });
}

/** 1000 prompt tokens and max_tokens 10: a bound of (in, out) reserves 1000 × in + 10 × out micro-USD. */
const ESTIMATE: Estimate = { promptTokens: () => 1000, maxOutputTokens: 10 };

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a refusal');
}

describe('AdmissionStage.constrain', () => {
  it('copies the request tags, and leaves the ledger to admission (a request routing refuses is not spend)', async () => {
    const { stage, ledger, models } = await stageOf();
    const rc = context(undefined);
    const metadata = { feature: 'search', team: 'web' };
    const out = stage.constrain(rc, hints({ metadata }));
    expect(rc.tags).toEqual(metadata);
    expect(out.constraints).toEqual({});
    expect(rc.ledger).toBeUndefined();
    await stage.admit(rc, planFor(models, 'cheap'), ESTIMATE);
    expect(rc.ledger).toBe(ledger);
  });

  it('leaves the tags unset without metadata', async () => {
    const { stage } = await stageOf();
    const rc = context(member());
    stage.constrain(rc, hints());
    expect(rc.tags).toBeUndefined();
  });

  it('changes nothing when no level restricts regions', async () => {
    const { stage } = await stageOf();
    const asked = hints({ constraints: { regions: ['us'] } });
    expect(stage.constrain(context(undefined), asked)).toBe(asked);
    expect(stage.constrain(context(ANONYMOUS), asked)).toBe(asked);
    expect(stage.constrain(context(member()), asked)).toBe(asked);
  });

  it('narrows routing to the regions every level allows, keeping the other constraints', async () => {
    const { stage } = await stageOf({ users: [userRecord({ id: 'alice', regions: ['eu', 'asia', 'us'] })] });
    const rc = context(member({ regions: ['us', 'eu', 'asia'] }, {}, { regions: ['asia', 'eu'] }), 'alice');
    const out = stage.constrain(rc, hints({ constraints: { pinProvider: 'demo' } }));
    expect(out.constraints).toEqual({ pinProvider: 'demo', regions: ['eu', 'asia'] });
  });

  it("keeps only the client's own regions (x-switchyard-region) that its levels allow", async () => {
    const { stage } = await stageOf();
    const rc = context(member({}, { regions: ['eu', 'us'] }));
    expect(stage.constrain(rc, hints({ constraints: { regions: ['asia', 'us', 'eu'] } })).constraints.regions).toEqual(['us', 'eu']);
  });

  it('refuses (403 access_denied) a client asking only for regions its levels forbid', async () => {
    const { stage } = await stageOf();
    const rc = context(member({}, { regions: ['eu'] }));
    const err = refusal(() => stage.constrain(rc, hints({ constraints: { regions: ['us', 'asia'] } })));
    expect(err).toMatchObject({ code: 'access_denied', status: 403 });
    expect(err.message).toBe("The policies of this request's key, team, org or end user allow it to be served only from the regions eu, not us, asia.");
  });

  it('refuses (403 access_denied) when the levels share no region', async () => {
    const { stage } = await stageOf();
    const rc = context(member({ regions: ['eu'] }, {}, { regions: ['us'] }));
    const err = refusal(() => stage.constrain(rc, hints()));
    expect(err).toMatchObject({ code: 'access_denied', status: 403, message: "The policies of this request's key, team, org or end user allow it to be served from no region." });
  });

  it("applies an end user's regions under the master key", async () => {
    const { stage } = await stageOf({ users: [userRecord({ id: 'alice', regions: ['eu'] })] });
    expect(stage.constrain(context(MASTER, 'alice'), hints()).constraints.regions).toEqual(['eu']);
    expect(stage.constrain(context(MASTER, 'bob'), hints()).constraints.regions).toBeUndefined();
  });
});

describe('AdmissionStage.admit', () => {
  it('admits nobody-in-particular without a ticket or draining', async () => {
    const { stage, models, limiter } = await stageOf();
    const rc = context(undefined);
    await stage.admit(rc, planFor(models, 'cheap'), ESTIMATE);
    expect(rc.ticket).toBeUndefined();
    expect(rc.drainMs).toBe(0);
    expect(limiter.rules).toEqual([]);
  });

  it('holds the served group to the policies, by its name', async () => {
    const { stage, models } = await stageOf();
    const rc = context(member({ models: ['cheap'] }));
    await expect(stage.admit(rc, planFor(models, 'dear'), ESTIMATE)).rejects.toMatchObject({ code: 'model_not_allowed', message: expect.stringContaining('"dear"') });
    await expect(stage.admit(rc, planFor(models, 'cheap'), ESTIMATE)).resolves.toBeUndefined();
  });

  it('gives a ticket and arms draining for a limited request', async () => {
    const { stage, models } = await stageOf();
    const rc = context(member({ limits: { rpm: 5 } }));
    await stage.admit(rc, planFor(models, 'cheap'), ESTIMATE);
    expect(rc.ticket).toBeDefined();
    expect(rc.drainMs).toBe(DRAIN_MS);
  });

  it('arms draining for any virtual key, limited or not', async () => {
    const { stage, models } = await stageOf();
    const rc = context(member());
    await stage.admit(rc, planFor(models, 'cheap'), ESTIMATE);
    expect(rc.ticket).toBeUndefined();
    expect(rc.drainMs).toBe(DRAIN_MS);
  });

  it('arms draining under the master key only when an end user is limited', async () => {
    const users = [userRecord({ id: 'alice', limits: { rpm: 5 } })];
    const { stage, models } = await stageOf({ users });
    const plain = context(MASTER);
    await stage.admit(plain, planFor(models, 'cheap'), ESTIMATE);
    expect(plain.drainMs).toBe(0);
    const limited = context(MASTER, 'alice');
    await stage.admit(limited, planFor(models, 'cheap'), ESTIMATE);
    expect(limited.ticket).toBeDefined();
    expect(limited.drainMs).toBe(DRAIN_MS);
  });

  it('counts nothing for a free request (count_tokens)', async () => {
    const { stage, models, limiter } = await stageOf();
    const rc = context(member({ limits: { rpm: 1 } }));
    await stage.admit(rc, planFor(models, 'cheap'), { ...ESTIMATE, free: true });
    expect(rc.ticket).toBeUndefined();
    expect(limiter.rules).toEqual([]);
  });

  it('answers 503 limits_unavailable when the limits store cannot be reached', async () => {
    const port = await closedPort();
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 500 });
    client.on('error', () => {});
    const limiter = new RedisLimiter(client);
    try {
      const { stage, models } = await stageOf({ limiter });
      const rc = context(member({ limits: { rpm: 5 } }));
      const err = await stage.admit(rc, planFor(models, 'cheap'), ESTIMATE).then(
        () => expect.fail('expected a refusal'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ code: 'limits_unavailable', status: 503, retryAfterMs: 1000 });
      expect((err as GatewayError).cause).toMatchObject({ name: 'LimiterUnavailableError' });
      expect(rc.drainMs).toBe(0);
    } finally {
      await limiter.close();
      client.disconnect();
    }
  });
});

describe('AdmissionStage price bound', () => {
  /** The micro-USD the request reserved against its key's budget, for the group given. */
  async function reserved(group: string): Promise<number> {
    const { stage, models, limiter } = await stageOf();
    await stage.admit(context(member({ budget: { usd: 100, period: 'daily' } })), planFor(models, group), ESTIMATE);
    const budget = limiter.rules[0]!.find((rule) => rule.kind === 'budget');
    if (budget?.kind !== 'budget') throw new Error('no budget rule');
    return budget.amount;
  }

  it.each([
    ['the dearest input and output among the targets', 'cheap', 1000 * 1 + 10 * 4],
    ['cache writes as input', 'dear', 1000 * 3.75 + 10 * 15],
    ['the fallback groups', 'cheap-then-dear', 1000 * 3.75 + 10 * 15],
    ['every kind of fallback, through a cycle', 'ring-a', 1000 * 7 + 10 * 6],
    ['the mock provider, free', 'free', 0],
  ])('takes %s', async (_what, group, micros) => {
    expect(await reserved(group)).toBe(micros);
  });

  it.each(['unpriced', 'priced-then-unpriced'])('is unknown when a target of %s has no price', async (group) => {
    const { stage, models } = await stageOf();
    const rc = context(member({}, { budget: { usd: 100, period: 'daily' } }));
    await expect(stage.admit(rc, planFor(models, group), ESTIMATE)).rejects.toMatchObject({ code: 'model_not_priced', message: expect.stringMatching(new RegExp(`^Team "ml" has a budget, and "${group}" has no known price`)) });
  });

  it('serves an unpriced group under unpriced_models: allow, without a budget rule', async () => {
    const { stage, models, limiter } = await stageOf({ admission: { unpricedModels: 'allow' } });
    const rc = context(member({ limits: { rpm: 5 }, budget: { usd: 100, period: 'daily' } }));
    await stage.admit(rc, planFor(models, 'priced-then-unpriced'), ESTIMATE);
    expect(limiter.rules[0]!.map((rule) => rule.kind)).toEqual(['rate']);
  });

  it('prices a directly addressed model from the catalogue', async () => {
    const { stage, models, limiter } = await stageOf();
    await stage.admit(context(member({ budget: { usd: 100, period: 'daily' } })), planFor(models, 'demo/anything'), ESTIMATE);
    expect(limiter.rules[0]).toMatchObject([{ kind: 'budget', amount: 0 }]);
    await expect(stage.admit(context(member({ budget: { usd: 100, period: 'daily' } })), planFor(models, 'local/llama-3'), ESTIMATE)).rejects.toMatchObject({ code: 'model_not_priced' });
  });
});

