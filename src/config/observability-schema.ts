/**
 * Metrics and request-log settings (docs/observability.md). Tracing and SLAs have their own
 * schemas (tracing-schema.ts, sla-schema.ts).
 */
import { z } from 'zod';
import { boolean, byteSize, numeric } from './values.js';

export const metricsSchema = z
  .strictObject({
    /** Serve GET /metrics and keep the per-request series (off: /metrics answers 404). */
    enabled: boolean().default(true),
    /** Add a `team` label (the team's id) to switchyard_tokens_total and switchyard_cost_usd_total. */
    team_labels: boolean().default(false),
    /** Distinct teams labelled; traffic of further teams is counted under team="other". */
    max_teams: numeric(z.number().int().positive().max(10_000)).default(100),
  })
  .prefault({});

export const requestLogSchema = z
  .strictObject({
    /** Record every request in the request_log table (off: only spend rows for the rollups are written). */
    enabled: boolean().default(true),
    /** Also keep request and response bodies, with emails, phone numbers, card numbers, keys and tokens redacted. */
    bodies: boolean().default(false),
    /** Each body is cut to this size (UTF-8 bytes) after redaction. */
    max_body_bytes: byteSize.default(16 * 1024),
    /** Rows older than this many days are deleted (in small batches, hourly); 0 keeps them forever. */
    retention_days: numeric(z.number().nonnegative()).default(30),
  })
  .prefault({});

export type MetricsSettings = z.infer<typeof metricsSchema>;
export type RequestLogSettings = z.infer<typeof requestLogSchema>;
