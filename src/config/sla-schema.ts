/**
 * SLA monitoring (docs/observability.md): service-level objectives per model group or provider, evaluated
 * over a rolling window, and the webhooks their violations and recoveries are sent to.
 */
import { z } from 'zod';
import { millis, numeric } from './values.js';

export const WEBHOOK_FORMATS = ['json', 'slack'] as const;

/** The config keys of the indicators, in the order they are reported. */
export const INDICATOR_KEYS = ['availability', 'error_rate', 'p95_latency_ms', 'p95_ttft_ms'] as const;


const objectiveSchema = z
  .strictObject({
    /** Unique; it names the objective in GET /v1/sla, alerts and metric labels. */
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_.-]+$/, 'an objective name uses only letters, digits, "_", "." and "-"'),
    /** The model group whose requests count (exactly one of model / provider). */
    model: z.string().min(1).optional(),
    /** The provider id whose requests count; cache hits never count for a provider. */
    provider: z.string().min(1).optional(),
    /** The rolling window the indicators are computed over. */
    window_ms: numeric(z.number().int().min(1_000)).default(300_000),
    /** Below this many samples in the window an indicator is `insufficient_data` and never alerts. */
    min_requests: numeric(z.number().int().positive()).default(10),
    /** Minimum % of requests not failed by the gateway or the upstream. */
    availability: numeric(z.number().gt(0).max(100)).optional(),
    /** Maximum % of requests answered with an error (policy refusals and disconnects aside). */
    error_rate: numeric(z.number().min(0).lt(100)).optional(),
    /** Maximum 95th percentile of the total time of successful requests. */
    p95_latency_ms: numeric(z.number().positive()).optional(),
    /** Maximum 95th percentile of the time to the first token of successful streams. */
    p95_ttft_ms: numeric(z.number().positive()).optional(),
  })
  .superRefine((objective, ctx) => {
    if ((objective.model === undefined) === (objective.provider === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['model'], message: 'an objective names exactly one of model (a model group) or provider (a provider id)' });
    }
    if (INDICATOR_KEYS.every((key) => objective[key] === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: `an objective sets at least one of ${INDICATOR_KEYS.join(', ')}` });
    }
  });

const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** `json`: Switchyard's own alert object; `slack`: a Slack incoming-webhook message (Block Kit). */
  format: z.enum(WEBHOOK_FORMATS).default('json'),
  /** Sent with every call (e.g. authorization). */
  headers: z.record(z.string(), z.string()).optional(),
  /** One call, response included; a slower call counts as failed (and is retried). */
  timeout_ms: numeric(z.number().int().positive()).default(5_000),
});

export const slaSchema = z
  .strictObject({
    /** How often every objective is evaluated (and alerts decided). */
    evaluation_interval_ms: numeric(z.number().int().min(100)).default(10_000),
    objectives: z
      .array(objectiveSchema)
      .default([])
      .superRefine((objectives, ctx) => {
        const seen = new Set<string>();
        objectives.forEach((objective, i) => {
          if (seen.has(objective.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate objective name ${JSON.stringify(objective.name)}` });
          seen.add(objective.name);
        });
      }),
    alerts: z
      .strictObject({
        /**
         * After a violation alert for an objective's indicator, a new violation of the same one is
         * held back for this long (flapping sends one alert, not one per flap); if it is still
         * violated when the cool-down ends, its alert goes out then.
         */
        cooldown_ms: millis.default(600_000),
        /** Extra attempts for a failed webhook call (after 1 s, 2 s, 4 s, ...). */
        retries: numeric(z.number().int().min(0).max(10)).default(2),
        webhooks: z.array(webhookSchema).default([]),
      })
      .prefault({}),
  })
  .prefault({});

export type SlaSettings = z.output<typeof slaSchema>;
export type SloSettings = SlaSettings['objectives'][number];
export type WebhookSettings = SlaSettings['alerts']['webhooks'][number];

/**
 * Objectives naming a model group or provider the configuration does not have. A model may also
 * be `<provider>/*`, the label of requests that address a provider's model directly.
 */
export function checkSlaReferences(sla: SlaSettings, modelNames: readonly string[], providerIds: readonly string[]): { path: (string | number)[]; message: string }[] {
  const models = new Set(modelNames);
  const providers = new Set(providerIds);
  const issues: { path: (string | number)[]; message: string }[] = [];
  sla.objectives.forEach((objective, i) => {
    if (objective.model !== undefined && !models.has(objective.model)) {
      const direct = /^(.+)\/\*$/.exec(objective.model)?.[1];
      if (direct === undefined || !providers.has(direct)) {
        issues.push({ path: ['sla', 'objectives', i, 'model'], message: `unknown model group ${JSON.stringify(objective.model)} (known: ${[...models].join(', ') || 'none'})` });
      }
    }
    if (objective.provider !== undefined && !providers.has(objective.provider)) {
      issues.push({ path: ['sla', 'objectives', i, 'provider'], message: `unknown provider ${JSON.stringify(objective.provider)} (known: ${[...providers].join(', ') || 'none'})` });
    }
  });
  return issues;
}
