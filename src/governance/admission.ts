/**
 * Admission: a request is let through only if every level it belongs to — virtual key, team, org,
 * end user — admits it. First the policies (blocked, expired, allowed models, prices), then one
 * all-or-nothing reservation with the limiter: requests per minute, estimated tokens per minute
 * and per day, a slot among the parallel requests, and the request's largest possible cost
 * against each budget. The ticket it returns reconciles the reservation with what the request
 * really used.
 */
import { endUserTenantId } from './tenant.js';
import { GatewayError } from '../gateway/errors.js';
import type { Directory, Level } from './directory.js';
import type { Admission, Limiter, Rule } from './limits/limiter.js';
import { periodWindow } from './periods.js';
import { fromMicros, spendMicros, toMicros } from './cost.js';
import { rateLimitHeaders, Ticket, type RuleRole } from './ticket.js';
import type { Principal } from './principal.js';
import type { Budget, Policy } from './types.js';

/** The most a request's tokens can cost (USD per 1M tokens): the dearest target that may serve it. */
export interface PriceBound {
  input: number;
  output: number;
}

export interface AdmissionRequest {
  principal: Principal;
  endUser: string | undefined;
  /** What the client asked for: a model group, or `<provider>/<model>`. */
  model: string;
  /** `model` addresses a provider directly (not a configured group, even one named `<provider>/…`). */
  direct: boolean;
  /** Prompt tokens, estimated, for token rate limits (reconciled with the real count afterwards). */
  promptTokens: () => number;
  /**
   * At least as many prompt tokens as any provider will count, for budget reservations (a budget
   * must hold however the provider counts); defaults to promptTokens.
   */
  promptTokensBound?: () => number;
  /** Output tokens the request may produce (its max_tokens), if it said. */
  maxOutputTokens: number | undefined;
  /** undefined: some target that may serve it has no known price. */
  price: PriceBound | undefined;
  /** count_tokens and the like: checked against the policies, not counted against limits. */
  free?: boolean;
}

export interface AdmissionOptions {
  unpricedModels: 'deny' | 'allow';
  defaultMaxTokens: number;
  now?: () => number;
}

interface LevelView {
  level: Level;
  id: string;
  /** For messages: `key "ci-bot"`. */
  label: string;
  policy: Policy;
  /** Counter keys, built once per record: `key:<id>:rpm`, …, and the budget's prefix (the period id follows). */
  keys: { rpm: string; tpm: string; tpd: string; parallel: string; budget: string };
  /** Rules whose amount never changes (RPM, parallel), shared by every request of the record. */
  rpmRule: Rule | undefined;
  parallelRule: Rule | undefined;
  /** What each kind of rule of this level stands for. */
  metas: { rpm: RuleMeta; tpm: RuleMeta; tpd: RuleMeta; parallel: RuleMeta };
  /** The budget's counter for the period last seen: its key, limit, expiry, seed and meta. */
  budgetPeriod: { startsAt: number; endsAt: number; windowId: string; key: string; limit: number; expiresAt: number; seed: number; seedGeneration: number; meta: RuleMeta } | undefined;
  /** `models` as exact names and `<provider>/` prefixes (undefined: any model). */
  allowed: { names: ReadonlySet<string>; prefixes: readonly string[]; any: boolean } | undefined;
  /** The id its spend is recorded under: the record's, or for an end user, theirs within the tenant. */
  spendId: string;
}

/** A request's levels, its tenant, and what its admission has to work out. */
interface Levels {
  views: LevelView[];
  /** The outermost level (`org:<id>`, else team, else key; `user:<id>` for the master key's end users): an end user's counters are kept per tenant. */
  tenant: string;
  /** Some level limits tokens per minute or per day. */
  tokenLimited: boolean;
  /** The first level with a budget, if any. */
  budgeted: LevelView | undefined;
}

function levelsOf(views: LevelView[], tenant: string): Levels {
  const tokenLimited = views.some(({ policy }) => policy.limits?.tpm !== undefined || policy.limits?.tpd !== undefined);
  return { views, tenant, tokenLimited, budgeted: views.find((view) => view.policy.budget) };
}

/**
 * The one hash tag of every counter. A counter's key names its level's record alone (`key:<id>:rpm`),
 * never the tenant it is in: a key moved into a team, or a team into an org, keeps its counts.
 */
const LIMITS_TAG = 'limits';

/** What a rule stands for, to explain a refusal and to fill the x-ratelimit headers. */
interface RuleMeta extends RuleRole {
  level: LevelView;
  budget?: Budget;
  endsAt?: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Budget counters are kept a day past their period, then dropped. */
const COUNTER_GRACE_MS = DAY;
/** Far enough for a `total` budget's counter never to expire. */
const FOREVER = Date.UTC(9999, 0, 1);

export class Admitter {
  readonly #now: () => number;
  /**
   * Levels per principal and per end user, built once: records are replaced (never changed) when
   * the directory reloads, so a record's views stay true for as long as the record is in use.
   */
  readonly #principalViews = new WeakMap<Principal, Levels>();
  /** An end user's levels with each principal's (their counters are the tenant's: one view per principal). */
  readonly #userViews = new WeakMap<object, WeakMap<Levels, Levels>>();

  constructor(
    private readonly directory: Directory | undefined,
    private readonly limiter: Limiter,
    private readonly options: AdmissionOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Whether every level of the principal may use `model` (for GET /v1/models). */
  mayUse(principal: Principal, model: string, direct = false): boolean {
    for (const view of this.#levels(principal, undefined).views) if (view.allowed && !allowsModel(view.allowed, model, direct)) return false;
    return true;
  }

  /** Regions the request may be served from: the intersection of its levels' allowed regions (undefined: any). */
  regions(principal: Principal, endUser: string | undefined): string[] | undefined {
    let allowed: string[] | undefined;
    for (const { policy } of this.#levels(principal, endUser).views) {
      if (policy.regions === null) continue;
      allowed = allowed === undefined ? [...policy.regions] : allowed.filter((region) => policy.regions!.includes(region));
    }
    return allowed;
  }

  /** Admits the request or throws the 403 / 429 / 503 that names the level that refused. */
  async admit(request: AdmissionRequest): Promise<Ticket | undefined> {
    const levels = this.#levels(request.principal, request.endUser);
    const { views } = levels;
    if (views.length === 0) return undefined;
    const now = this.#now();
    for (const view of views) checkPolicy(view, request.model, request.direct, now);
    if (request.free) return undefined;

    // Worked out once per request, and only when some level counts tokens or has a budget.
    const output = request.maxOutputTokens ?? this.options.defaultMaxTokens;
    const prompt = levels.tokenLimited || (levels.budgeted && !request.promptTokensBound) ? request.promptTokens() : 0;
    const tokens = prompt + output;
    const cost = levels.budgeted ? this.#maxCostMicros(request, levels.budgeted, request.promptTokensBound ? request.promptTokensBound() : prompt, output) : undefined;
    const rules: Rule[] = [];
    const meta: RuleMeta[] = [];
    for (const view of views) {
      const { limits, budget } = view.policy;
      if (view.rpmRule) {
        rules.push(view.rpmRule);
        meta.push(view.metas.rpm);
      }
      if (limits?.tpm !== undefined) {
        rules.push({ kind: 'rate', key: view.keys.tpm, limit: limits.tpm, windowMs: MINUTE, amount: tokens });
        meta.push(view.metas.tpm);
      }
      if (limits?.tpd !== undefined) {
        rules.push({ kind: 'rate', key: view.keys.tpd, limit: limits.tpd, windowMs: DAY, amount: tokens });
        meta.push(view.metas.tpd);
      }
      if (view.parallelRule) {
        rules.push(view.parallelRule);
        meta.push(view.metas.parallel);
      }
      if (budget && cost !== undefined) {
        const period = this.#budgetPeriod(view, budget, now);
        rules.push({ kind: 'budget', key: period.key, limit: period.limit, amount: cost, expiresAt: period.expiresAt, seed: period.seed });
        meta.push(period.meta);
      }
    }
    if (rules.length === 0) return undefined;

    const admission = await this.limiter.acquire(LIMITS_TAG, rules);
    if (!admission.admitted) throw refusal(admission, rules, meta, now, output > 0);
    return new Ticket(this.limiter, admission.lease, meta, admission.states);
  }

  /** The budget's counter for the period containing `now`, made once per record and period. */
  #budgetPeriod(view: LevelView, budget: Budget, now: number): NonNullable<LevelView['budgetPeriod']> {
    const period = view.budgetPeriod;
    const generation = this.directory?.spendGeneration ?? 0;
    if (period !== undefined && now < period.endsAt && now >= period.startsAt) {
      // The seed is the spend recorded as of the directory's last read of it.
      if (period.seedGeneration !== generation) {
        period.seed = spendMicros(this.directory?.recordedSpend(view.level, view.spendId, period.windowId) ?? 0);
        period.seedGeneration = generation;
      }
      return period;
    }
    const window = periodWindow(budget.period, now);
    return (view.budgetPeriod = {
      startsAt: window.startsAt,
      endsAt: window.endsAt,
      windowId: window.id,
      key: view.keys.budget + window.id,
      limit: toMicros(budget.usd),
      expiresAt: Number.isFinite(window.endsAt) ? window.endsAt + COUNTER_GRACE_MS : FOREVER,
      seed: spendMicros(this.directory?.recordedSpend(view.level, view.spendId, window.id) ?? 0),
      seedGeneration: generation,
      meta: { level: view, what: 'budget', budget, endsAt: window.endsAt },
    });
  }

  /**
   * The request's largest possible cost in micro-USD (rounded up); undefined when it is unpriced
   * and that is allowed. `view` is the first level with a budget: a refusal names it.
   */
  #maxCostMicros(request: AdmissionRequest, view: LevelView, prompt: number, output: number): number | undefined {
    const price = request.price;
    if (price === undefined) {
      if (this.options.unpricedModels === 'allow') return undefined;
      throw new GatewayError(
        'model_not_priced',
        `${capitalize(view.label)} has a budget, and "${request.model}" has no known price, so its cost cannot be held to it. Configure a price for its targets (targets[].price) or set governance.unpriced_models: allow.`,
      );
    }
    // USD per 1M tokens × tokens = micro-USD. A max_tokens near 2^53 makes a cost no counter holds
    // exactly: the largest one is still more than any budget, so the request is refused as such.
    return Math.min(Math.ceil(prompt * price.input + output * price.output), Number.MAX_SAFE_INTEGER);
  }

  /** The levels a request belongs to, innermost first: key, team, org, end user (only those that exist), and their tenant. */
  #levels(principal: Principal, endUser: string | undefined): Levels {
    let levels = this.#principalViews.get(principal);
    if (levels === undefined) {
      const views: LevelView[] = [];
      if (principal.key) views.push(levelView('key', principal.key.id, `key "${principal.key.name}"`, principal.key));
      if (principal.team) views.push(levelView('team', principal.team.id, `team "${principal.team.name}"`, principal.team));
      if (principal.org) views.push(levelView('org', principal.org.id, `org "${principal.org.name}"`, principal.org));
      levels = levelsOf(views, tenantOf(views));
      this.#principalViews.set(principal, levels);
    }
    const user = endUser === undefined ? undefined : this.directory?.user(endUser);
    if (!user) return levels;
    let withPrincipals = this.#userViews.get(user);
    if (withPrincipals === undefined) this.#userViews.set(user, (withPrincipals = new WeakMap()));
    let withUser = withPrincipals.get(levels);
    if (withUser === undefined) {
      const tenant = levels.views.length > 0 ? levels.tenant : `user:${user.id}`;
      const view = levelView('user', user.id, `end user "${user.id}"`, user, endUserTenantId(user.id, tenant));
      withUser = levelsOf([...levels.views, view], tenant);
      withPrincipals.set(levels, withUser);
    }
    return withUser;
  }
}

function levelView(level: Level, id: string, label: string, policy: Policy, spendId = id): LevelView {
  const base = `${level}:${spendId}`;
  const keys = { rpm: `${base}:rpm`, tpm: `${base}:tpm`, tpd: `${base}:tpd`, parallel: `${base}:parallel`, budget: `${base}:budget:` };
  const { limits, models } = policy;
  const view: LevelView = {
    level,
    id,
    label,
    policy,
    keys,
    spendId,
    rpmRule: limits?.rpm === undefined ? undefined : { kind: 'rate', key: keys.rpm, limit: limits.rpm, windowMs: MINUTE, amount: 1 },
    parallelRule: limits?.max_parallel === undefined ? undefined : { kind: 'parallel', key: keys.parallel, limit: limits.max_parallel },
    // Filled just below: each meta points back at this view.
    metas: undefined as unknown as LevelView['metas'],
    budgetPeriod: undefined,
    allowed: models === null ? undefined : allowedModels(models),
  };
  view.metas = { rpm: { level: view, what: 'rpm' }, tpm: { level: view, what: 'tpm' }, tpd: { level: view, what: 'tpd' }, parallel: { level: view, what: 'parallel' } };
  return view;
}

/** An allowed-models list as exact names and `<provider>/` prefixes, for quick checks. */
function allowedModels(models: readonly string[]): NonNullable<LevelView['allowed']> {
  return { names: new Set(models), prefixes: models.filter((entry) => entry.endsWith('/*')).map((entry) => entry.slice(0, -1)), any: models.includes('*') };
}

/** An entry `<provider>/*` allows direct addressing of that provider only, not a configured group whose name starts so. */
function allowsModel({ names, prefixes, any }: NonNullable<LevelView['allowed']>, model: string, direct: boolean): boolean {
  if (any || names.has(model)) return true;
  if (!direct) return false;
  for (const prefix of prefixes) if (model.startsWith(prefix)) return true;
  return false;
}

function checkPolicy(view: LevelView, model: string, direct: boolean, now: number): void {
  const { policy, label } = view;
  if (policy.blocked) throw new GatewayError('access_denied', `${capitalize(label)} is blocked. Ask your administrator.`);
  if (view.level !== 'key' && policy.expires_at !== null && policy.expires_at <= now) {
    throw new GatewayError('access_denied', `${capitalize(label)} expired at ${new Date(policy.expires_at).toISOString()}. Ask your administrator.`);
  }
  if (view.allowed && !allowsModel(view.allowed, model, direct)) {
    const list = policy.models && policy.models.length > 0 ? policy.models.join(', ') : 'none';
    throw new GatewayError('model_not_allowed', `${capitalize(label)} may not use the model "${model}" (allowed: ${list}).`, { param: 'model' });
  }
}

/** An allowed-models entry: a name, `<provider>/*` for any model of a provider addressed directly, or `*`. */
export function modelMatches(allowed: string, model: string, direct: boolean): boolean {
  return allowsModel(allowedModels([allowed]), model, direct);
}

/**
 * The 429 (or 503) for a refused admission, naming the level, the limit and when to come back.
 * `outputTokens`: whether the request may produce output (an embeddings request has no max_tokens to lower).
 */
function refusal(admission: Extract<Admission, { admitted: false }>, rules: Rule[], meta: RuleMeta[], now: number, outputTokens: boolean): GatewayError {
  // No retryAfterMs: some refusing rule can never pass. That one is the reason to give, not the
  // first refusing rule, which may only be busy (and would be explained as too small).
  const never = admission.retryAfterMs === null ? rules.findIndex(neverPasses) : -1;
  const index = never >= 0 ? never : admission.refused;
  const rule = meta[index]!;
  const state = admission.states[index];
  const who = capitalize(rule.level.label);
  const retryAfterMs = admission.retryAfterMs ?? undefined;
  const retryText = retryAfterMs === undefined ? '' : ` Retry after ${Math.max(1, Math.ceil(retryAfterMs / 1000))}s.`;
  const ownSize = outputTokens ? { what: 'its prompt plus max_tokens', remedy: 'Lower max_tokens or shorten the prompt.' } : { what: 'its input', remedy: 'Send less input per request.' };
  // As OpenAI's own 429s do, a rate-limit refusal carries the x-ratelimit-* headers.
  const headers: Record<string, string> = {};
  rateLimitHeaders(meta, admission.states, headers);
  switch (rule.what) {
    case 'rpm':
      return new GatewayError('rate_limit_exceeded', `Rate limit reached for ${rule.level.label}: ${state?.limit} requests per minute.${retryText}`, { retryAfterMs, headers });
    case 'tpm':
    case 'tpd': {
      const per = rule.what === 'tpm' ? 'minute' : 'day';
      if (admission.retryAfterMs === null) {
        return new GatewayError('rate_limit_exceeded', `${who} allows ${state?.limit} tokens per ${per}, and this request may use more than that on its own (${ownSize.what}). ${ownSize.remedy}`, { headers });
      }
      return new GatewayError('rate_limit_exceeded', `Token rate limit reached for ${rule.level.label}: ${state?.limit} tokens per ${per}.${retryText}`, { retryAfterMs, headers });
    }
    case 'parallel':
      return new GatewayError('rate_limit_exceeded', `${who} allows ${state?.limit} requests in flight at once, and that many are running.${retryText}`, { retryAfterMs: retryAfterMs ?? 1000, headers });
    case 'budget': {
      const budget = rule.budget!;
      const spent = state ? fromMicros(state.limit - state.remaining) : undefined;
      const resets = rule.endsAt !== undefined && Number.isFinite(rule.endsAt) ? ` It resets at ${new Date(rule.endsAt).toISOString()}.` : '';
      // With nothing left the counter says only that: spend may be past a budget lowered after it was made.
      const spentText = spent === undefined ? '' : state!.remaining <= 0 ? ' (all of it spent or held by requests in flight)' : ` ($${usdText(spent)} spent or held by requests in flight)`;
      if (never >= 0) {
        // The request's own bound is over the whole budget: no reset makes room, so no Retry-After.
        return new GatewayError(
          'budget_exceeded',
          `${who} has a budget of $${budget.usd} ${budget.period === 'total' ? 'in total' : budget.period}, and this request alone could cost more than that (${ownSize.what} at the model's price). ${ownSize.remedy}`,
        );
      }
      return new GatewayError(
        'budget_exceeded',
        `Budget reached for ${rule.level.label}: $${budget.usd} ${budget.period === 'total' ? 'in total' : budget.period}${spentText}; this request could cost more than what is left.${resets}`,
        { retryAfterMs: rule.endsAt !== undefined && Number.isFinite(rule.endsAt) ? rule.endsAt - now : undefined },
      );
    }
  }
}

/** A counter's USD to the micro-dollar (its precision), without trailing zeros: $0.0006, $0.000012, $3.5. */
function usdText(usd: number): string {
  return usd.toFixed(6).replace(/\.?0+$/, '');
}

/** A rule no wait can satisfy: the request alone is over its limit. */
function neverPasses(rule: Rule): boolean {
  return rule.kind === 'parallel' ? rule.limit < 1 : rule.amount > rule.limit;
}

/** The tenant an end user's counters are kept under: the outermost level (as storage/spend.ts's endUserTenant names it). */
function tenantOf(levels: LevelView[]): string {
  const outer = levels.find((l) => l.level === 'org') ?? levels.find((l) => l.level === 'team') ?? levels.find((l) => l.level === 'key');
  // No level: the master key, whose end users are each their own tenant (#levels).
  return outer ? `${outer.level}:${outer.id}` : '';
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
