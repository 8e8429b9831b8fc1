/**
 * Governance settings (docs/governance.md): how virtual keys, limits and budgets are enforced and
 * spend is recorded. Keys, teams, orgs and their limits themselves live in the database and are
 * managed through the admin API, not here.
 */
import { z } from 'zod';
import { ttlSeconds } from './cache-schema.js';
import { millis, numeric, positiveMillis } from './values.js';

export const UNPRICED_POLICIES = ['deny', 'allow'] as const;
export const LIMITER_FAILURE_POLICIES = ['open', 'closed'] as const;

export const governanceSchema = z
  .strictObject({
    /** How often each instance polls the database for changes made elsewhere (keys, teams, orgs, users). */
    refresh_interval_ms: positiveMillis.default(5_000),
    /**
     * With limits in Redis, how often the spend recorded in the current budget periods is read
     * again: the floor a budget counter starts from when it starts again (Redis restarted empty,
     * the in-memory fallback during a Redis outage). 0: only on the events that read it anyway
     * (keys, teams or orgs changed, Redis stopped or came back, spilled spend written back).
     */
    spend_refresh_interval_ms: millis.default(30_000),
    limits: z
      .strictObject({
        /** Where limit and budget counters live; default: redis when redis.url is set, else memory. */
        backend: z.enum(['memory', 'redis']).optional(),
        /**
         * Redis unreachable: `open` admits with this instance's own in-memory limits (and counts it
         * in switchyard_limiter_fallbacks_total), `closed` refuses with 503.
         */
        on_redis_error: z.enum(LIMITER_FAILURE_POLICIES).default('open'),
        /** A Redis call slower than this counts as a failure (the policy above applies). */
        redis_timeout_ms: positiveMillis.default(250),
      })
      .prefault({}),
    /**
     * A budgeted request to a model with no known price: `deny` refuses it (403) until a price is
     * configured; `allow` serves it and records its cost as unknown. Unbudgeted requests are
     * always served (their cost is recorded as unknown).
     */
    unpriced_models: z.enum(UNPRICED_POLICIES).default('deny'),
    /** Output tokens reserved (TPM and budget) for a request that sets no max_tokens. */
    default_max_tokens: numeric(z.number().int().positive()).default(4096),
    /**
     * A stream whose client disconnected is still read to its end, for the real usage, for at
     * most this long (then it is cut and billed from what was seen).
     */
    drain_timeout_ms: millis.default(30_000),
    /** How long a rotated key's old secret stays valid, unless the rotate call says otherwise. */
    rotation_grace: ttlSeconds.default(86_400),
    spend: z
      .strictObject({
        /** Rows held in memory while the database is slow or down; beyond it they spill to a file. */
        max_queue: numeric(z.number().int().positive()).default(10_000),
        batch_size: numeric(z.number().int().positive()).default(500),
        flush_interval_ms: positiveMillis.default(1_000),
        /** Where rows wait while the database is down and the queue is full (JSON lines). */
        spill_path: z.string().min(1).default('./data/spend-spill.jsonl'),
      })
      .prefault({}),
  })
  .prefault({});

export type GovernanceConfig = z.output<typeof governanceSchema>;
