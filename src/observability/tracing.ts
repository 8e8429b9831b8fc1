/**
 * Request tracing (OpenTelemetry). This module is the only one the gateway imports statically and
 * it loads no OpenTelemetry code: the SDK lives in ./otel-tracing.ts and is imported only when
 * tracing is on, so a gateway without tracing pays nothing for it (no module load, no per-request
 * work: callers hold `Tracing | undefined` and skip every call when it is undefined).
 *
 * Shape of a trace: one SERVER span per client request, one CLIENT span per upstream attempt as
 * its child, both carrying the OpenTelemetry GenAI semantic-convention attributes. A client's W3C
 * traceparent becomes the request span's parent; each attempt hands its own traceparent upstream.
 */
// Type-only: erased at compile time, so it loads nothing.
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '../config/load.js';
import type { TracingSettings } from '../config/tracing-schema.js';

export type TracedRoute = 'chat' | 'embeddings' | 'messages' | 'count_tokens' | 'other';

/** GenAI operation names (gen_ai.operation.name well-known values) the gateway serves. */
export type GenAiOperation = 'chat' | 'embeddings' | 'text_completion' | 'generate_content';

export interface Tracing {
  startRequest(init: RequestSpanInit): RequestSpan;
  /**
   * Exports what is buffered, then stops; later spans are dropped. Never rejects, and waits at
   * most `timeoutMs` (default 3 s) for a slow or unreachable collector.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface RequestSpanInit {
  route: TracedRoute;
  requestId: string;
  /** The client's `traceparent` header; absent or invalid starts a new trace. */
  traceparent?: string;
  tracestate?: string;
  /** When the request arrived, epoch ms (may be fractional: performance.timeOrigin + startedAt). */
  startTime: number;
  httpMethod?: string;
  urlPath?: string;
}

export interface RequestSpan {
  /** One child span per upstream attempt (CLIENT kind), started now. */
  startAttempt(init: AttemptSpanInit): AttemptSpan;
  /** Ends the request span (SERVER kind); a second call does nothing. */
  end(summary: RequestSummary): void;
  /** The request's trace id (32 hex digits), e.g. for logs; also set when the trace is not sampled. */
  readonly traceId: string;
}

export interface AttemptSpanInit {
  providerId: string;
  /** openai | azure | anthropic | gemini | vertex | bedrock | openai-compatible | mock */
  providerType: string;
  /** The upstream model the attempt asks for. */
  model: string;
  /** The model the client asked for (group name), when it differs. */
  requestModel?: string;
  /** The upstream host (server.address), e.g. api.openai.com. */
  serverAddress?: string;
  serverPort?: number;
}

export interface AttemptOutcome {
  error?: { code: string; message: string; status?: number };
  /**
   * The attempt was abandoned without a verdict (another attempt won a hedge race, the client
   * left): recorded as switchyard.cancelled, not as an error; `error` is then ignored.
   */
  cancelled?: boolean;
  responseModel?: string;
  usage?: TokenUsage;
  finishReasons?: string[];
}

export interface AttemptSpan {
  /** W3C trace context for the upstream request (traceparent, tracestate?) naming this attempt's span as parent. */
  readonly headers: Readonly<Record<string, string>>;
  /** Ends the attempt span; a second call does nothing. */
  end(outcome: AttemptOutcome): void;
}

export interface TokenUsage {
  input_tokens?: number;
  output_tokens?: number;
  /** Input tokens served from the provider's prompt cache (included in input_tokens). */
  cached_input_tokens?: number;
}

export interface RequestSummary {
  /** Overrides the operation derived from the route (chat and messages: chat; embeddings: embeddings). */
  operation?: GenAiOperation;
  /** The model the client asked for (a group name or provider/model). */
  requestModel?: string;
  /** The model group that served (after routing rules and fallbacks). */
  modelGroup?: string;
  providerId?: string;
  providerType?: string;
  /** The model the upstream says answered. */
  responseModel?: string;
  /** The HTTP status sent to the client. */
  status: number;
  error?: { code: string; message: string };
  usage?: TokenUsage;
  finishReasons?: string[];
  /** x-switchyard-cache: HIT, SEMANTIC_HIT, MISS, REFRESH, BYPASS. */
  cache?: string;
  stream: boolean;
  attempts: number;
  /** USD; null when the model has no known price. */
  costUsd?: number | null;
  /** The virtual key's id (never the secret). */
  keyId?: string;
  /** When the answer ended, epoch ms; default now. */
  endTime?: number;
}

/** Tracing settings with the environment applied: what the exporter is built from. */
export interface ResolvedTracing {
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  sampleRatio: number;
  exportTimeoutMs: number;
}

export interface CreateTracingOptions {
  /** Export to this exporter instead of OTLP/HTTP (tests, benchmarks). */
  exporter?: SpanExporter;
  /** Export each span as it ends (SimpleSpanProcessor) instead of in batches. */
  simple?: boolean;
  /** Called when an export fails (collector down, timeout); spans of that batch are dropped. */
  onExportError?: (error: Error) => void;
}

const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';

/**
 * Applies the environment to the settings; undefined when tracing is off. Throws on an
 * environment-provided endpoint that is not an http(s) URL (the file's own one is checked by the schema).
 */
export function resolveTracing(settings: TracingSettings, env: NodeJS.ProcessEnv): ResolvedTracing | undefined {
  const tracesEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const baseEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const enabled = settings.enabled ?? (env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true' && (settings.endpoint ?? tracesEndpoint ?? baseEndpoint) !== undefined);
  if (!enabled) return undefined;
  let endpoint = settings.endpoint;
  if (endpoint === undefined && tracesEndpoint !== undefined) endpoint = checkedUrl(tracesEndpoint, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (endpoint === undefined && baseEndpoint !== undefined) endpoint = checkedUrl(baseEndpoint, 'OTEL_EXPORTER_OTLP_ENDPOINT').replace(/\/+$/, '') + '/v1/traces';
  return {
    endpoint: endpoint ?? DEFAULT_ENDPOINT,
    headers: settings.headers,
    serviceName: settings.service_name ?? nonEmpty(env.OTEL_SERVICE_NAME) ?? 'switchyard',
    sampleRatio: settings.sample_ratio,
    exportTimeoutMs: settings.export_timeout_ms,
  };
}

/** Tracing per the settings, or undefined when it is off (then no OpenTelemetry module is loaded). */
export async function createTracing(settings: TracingSettings, env: NodeJS.ProcessEnv, options: CreateTracingOptions = {}): Promise<Tracing | undefined> {
  const resolved = resolveTracing(settings, env);
  if (!resolved) return undefined;
  const { OtelTracing } = await import('./otel-tracing.js');
  return new OtelTracing(resolved, options);
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function checkedUrl(value: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new ConfigError('environment', [`${name}: expected an http(s) URL, got ${JSON.stringify(value)}`]);
  return value;
}
