/**
 * Tracing settings (OpenTelemetry, OTLP/HTTP). Everything here is optional: the standard OTEL_*
 * environment variables fill what the file leaves out, resolved once at start-up by
 * `resolveTracing` (src/observability/tracing.ts) so the defaults follow the same precedence as
 * any other OpenTelemetry SDK.
 */
import { z } from 'zod';
import { boolean, millis, numeric, unsetIfEmpty } from './values.js';

/** `${VAR:-}` interpolates to ''; an empty value counts as not set, like elsewhere in the file. */

export const tracingSchema = z
  .strictObject({
    /**
     * Unset: on when `endpoint` is given here or OTEL_EXPORTER_OTLP_ENDPOINT /
     * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not true).
     */
    enabled: unsetIfEmpty(boolean().optional()),
    /**
     * The OTLP/HTTP traces URL (JSON). Unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
     * OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, else http://localhost:4318/v1/traces.
     */
    endpoint: unsetIfEmpty(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://localhost:4318/v1/traces' }).optional()),
    /** Sent with every export (e.g. an API key); OTEL_EXPORTER_OTLP_HEADERS is honoured too, these win. */
    headers: z.record(z.string(), z.string()).default({}),
    /** The `service.name` resource attribute. Unset: OTEL_SERVICE_NAME, else switchyard. */
    service_name: unsetIfEmpty(z.string().min(1).optional()),
    /**
     * Share of new traces recorded (0..1). Parent-based: a client's traceparent decides for its
     * own requests (sampled flag 1: recorded, 0: not recorded but still propagated).
     */
    sample_ratio: numeric(z.number().min(0).max(1)).default(1),
    /** How long one export to the collector may take before it is abandoned. */
    export_timeout_ms: millis.pipe(z.number().positive()).default(10_000),
  })
  .prefault({});

export type TracingSettings = z.output<typeof tracingSchema>;
