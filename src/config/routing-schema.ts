/**
 * The routing and resilience part of the configuration (issue 4): per-target limits and tags,
 * per-group strategy, fallbacks, retries and hedging, and the gateway-wide `routing:` block.
 * Every key has a default here; docs/routing.md lists them.
 */
import { z } from 'zod';
import { COALESCE_MODES, groupCacheSchema } from './cache-schema.js';
import { targetCatalogSchema } from '../routing/catalog.js';
import { routingRulesSchema } from '../routing/rules-schema.js';
import { boolean, millis, numeric, positiveMillis } from './values.js';

export const STRATEGIES = ['fallback', 'round-robin', 'weighted', 'least-latency', 'least-busy', 'cost'] as const;

/** Region tags: `eu`, `us-east-1`, `europe-west4` (compared case-insensitively). */
const regionTag = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*$/i, 'expected a region tag such as eu, us-east-1 or europe-west4')
  .transform((tag) => tag.toLowerCase());

export const targetSchema = z.strictObject({
  provider: z.string().min(1),
  model: z.string().min(1),
  /** Share of traffic under the `weighted` strategy (relative). */
  weight: numeric(z.number().positive()).default(1),
  /** Where the target runs; requests that restrict regions never reach a target outside them. */
  region: regionTag.optional(),
  /** Most calls in flight to this target; more wait in a queue of `max_queue`, then are shed. */
  max_concurrency: numeric(z.number().int().positive()).optional(),
  /** Defaults: no queue; 5 s wait. */
  max_queue: numeric(z.number().int().nonnegative()).optional(),
  queue_timeout_ms: millis.optional(),
  /** Upstream quota to stay under (requests / tokens per minute), rather than learning it from 429s. */
  rpm: numeric(z.number().int().positive()).optional(),
  tpm: numeric(z.number().int().positive()).optional(),
  ...targetCatalogSchema.shape,
});

export const retrySchema = z.strictObject({
  /** Attempts after every candidate target was tried once (failing over to the next target is not a retry). */
  max_retries: numeric(z.number().int().nonnegative()).optional(),
  /** Full-jitter exponential backoff before a retry: random(0, min(max, initial * 2^n)). */
  initial_backoff_ms: millis.optional(),
  max_backoff_ms: millis.optional(),
  /** The whole request, every attempt and wait included; 0 = none. */
  deadline_ms: millis.optional(),
  /** An upstream's Retry-After longer than this is not waited for. */
  max_retry_after_ms: millis.optional(),
});

const hedgeSchema = z.strictObject({
  /** Start the next target when the first has not answered (streams: sent its first chunk) after this long; `p95` = the target's observed p95 first-byte time. */
  delay_ms: z.union([z.literal('p95'), millis]).default('p95'),
  /** Delay used for `p95` until the target has enough samples. */
  min_delay_ms: millis.default(200),
  /** Extra concurrent attempts at most. */
  max_extra: numeric(z.number().int().min(1).max(3)).default(1),
});

export const modelGroupSchema = z.strictObject({
  targets: z.array(targetSchema).min(1, 'a model group needs at least one target'),
  strategy: z.enum(STRATEGIES).default('fallback'),
  /** Other groups to try, in order, when every target of this one failed. */
  fallbacks: z.array(z.string()).default([]),
  /** Groups for a prompt that fits no target here (prompt tokens + max_tokens over the context window). */
  context_window_fallbacks: z.array(z.string()).default([]),
  /** Groups for a request a provider refused under its content policy. */
  content_policy_fallbacks: z.array(z.string()).default([]),
  retry: retrySchema.optional(),
  hedge: hedgeSchema.optional(),
  /** Response caching of this group's answers (off unless set). */
  cache: groupCacheSchema.optional(),
  /** Identical concurrent requests share one upstream call: `auto` when that cannot change an answer (temperature 0 or a seed, n = 1), `always`, or `off`. */
  coalesce: z.enum(COALESCE_MODES).default('auto'),
});

const breakerSchema = z.strictObject({
  enabled: boolean().default(true),
  /** Open when failures / calls over the window reach this share... */
  failure_rate: numeric(z.number().gt(0).max(1)).default(0.5),
  /** ...and at least this many calls were made in the window. */
  minimum_requests: numeric(z.number().int().positive()).default(10),
  window_ms: positiveMillis.default(30_000),
  /** Open → half-open after this long; then `half_open_probes` calls decide. */
  cooldown_ms: millis.default(30_000),
  half_open_probes: numeric(z.number().int().positive()).default(3),
});

const healthChecksSchema = z.strictObject({
  /** Active probes: a one-token chat to every configured target on an interval. */
  enabled: boolean().default(false),
  interval_ms: numeric(z.number().int().min(1000)).default(30_000),
  timeout_ms: positiveMillis.default(10_000),
});

export const routingSchema = z
  .strictObject({
    /** Content-based rules, evaluated in order before the group's strategy (docs/routing-rules.md). */
    rules: routingRulesSchema,
    /** Whether clients may pin / exclude providers or pick a strategy with request headers. */
    allow_client_overrides: boolean().default(false),
    retry: z
      .strictObject({
        max_retries: numeric(z.number().int().nonnegative()).default(2),
        initial_backoff_ms: millis.default(250),
        max_backoff_ms: millis.default(8_000),
        deadline_ms: millis.default(300_000),
        max_retry_after_ms: millis.default(10_000),
      })
      .prefault({}),
    circuit_breaker: breakerSchema.prefault({}),
    health_checks: healthChecksSchema.prefault({}),
    /** Window of the passive statistics shown by GET /v1/providers. */
    stats_window_ms: numeric(z.number().int().min(1000)).default(60_000),
  })
  .prefault({});

export type TargetConfig = z.output<typeof targetSchema>;
export type RetryConfig = z.output<typeof retrySchema>;
export type RoutingConfig = z.output<typeof routingSchema>;
export type HedgeConfig = z.output<typeof hedgeSchema>;
