/**
 * The OpenTelemetry side of tracing.ts, loaded only when tracing is on. Spans are parented
 * explicitly (trace.setSpan on ROOT_CONTEXT) rather than through a context manager: the gateway
 * knows which request an attempt belongs to, so no AsyncLocalStorage cost on every await.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_SERVICE_NAME, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { roundUsd } from '../governance/cost.js';
import type { AttemptOutcome, AttemptSpan, AttemptSpanInit, CreateTracingOptions, GenAiOperation, RequestSpan, RequestSpanInit, RequestSummary, ResolvedTracing, TokenUsage, TracedRoute, Tracing } from './tracing.js';

/**
 * GenAI semantic conventions (open-telemetry/semantic-conventions-genai, gen-ai-spans.md and the
 * gen_ai attribute registry). @opentelemetry/semantic-conventions marks its copies deprecated
 * since they moved to that repository, so the names are spelled out here.
 */
const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
const GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
const GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
const GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
const GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
const GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
const GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
const GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';

/** The gateway's own attributes (switchyard.*), next to the GenAI ones. */
const SWITCHYARD_REQUEST_ID = 'switchyard.request_id';
const SWITCHYARD_MODEL_GROUP = 'switchyard.model_group';
const SWITCHYARD_PROVIDER_ID = 'switchyard.provider_id';
const SWITCHYARD_CACHE = 'switchyard.cache';
const SWITCHYARD_ATTEMPTS = 'switchyard.attempts';
const SWITCHYARD_ATTEMPT = 'switchyard.attempt';
const SWITCHYARD_CANCELLED = 'switchyard.cancelled';
const SWITCHYARD_COST_USD = 'switchyard.cost_usd';
const SWITCHYARD_KEY_ID = 'switchyard.key_id';

const OPERATION_BY_ROUTE: Record<TracedRoute, GenAiOperation | undefined> = {
  chat: 'chat',
  messages: 'chat',
  embeddings: 'embeddings',
  count_tokens: undefined,
  other: undefined,
};

/**
 * gen_ai.provider.name well-known values by provider type. OpenAI-compatible servers speak the
 * OpenAI flavour, which is what the convention asks for (server.address tells them apart);
 * types without a well-known value keep their own name.
 */
const PROVIDER_NAMES: Record<string, string> = {
  openai: 'openai',
  'openai-compatible': 'openai',
  azure: 'azure.ai.openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  vertex: 'gcp.vertex_ai',
  bedrock: 'aws.bedrock',
};

export function genAiProviderName(providerType: string): string {
  return PROVIDER_NAMES[providerType] ?? providerType;
}

const propagator = new W3CTraceContextPropagator();

const DEFAULT_SHUTDOWN_WAIT_MS = 3_000;

export class OtelTracing implements Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly onExportError: ((error: Error) => void) | undefined;
  /** Errors already passed to onExportError, so shutdown does not report them twice. */
  private readonly reported = new WeakSet<Error>();

  constructor(settings: ResolvedTracing, options: CreateTracingOptions = {}) {
    const otlp = options.exporter ?? new OTLPTraceExporter({ url: settings.endpoint, headers: settings.headers, timeoutMillis: settings.exportTimeoutMs });
    this.onExportError = options.onExportError;
    const exporter = options.onExportError ? reportingFailures(otlp, options.onExportError, this.reported) : otlp;
    const processor = options.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, { exportTimeoutMillis: settings.exportTimeoutMs });
    // OTEL_RESOURCE_ATTRIBUTES (deployment.environment, ...) applies; the service name wins over it.
    const resource = defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }));
    this.provider = new BasicTracerProvider({
      resource,
      // Parent-based: a client's sampled flag decides for its trace; the ratio applies to new traces.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer('switchyard');
  }

  startRequest(init: RequestSpanInit): RequestSpan {
    const parent = init.traceparent ? propagator.extract(ROOT_CONTEXT, { traceparent: init.traceparent, tracestate: init.tracestate }, defaultTextMapGetter) : ROOT_CONTEXT;
    const operation = OPERATION_BY_ROUTE[init.route];
    const attributes: Attributes = { [SWITCHYARD_REQUEST_ID]: init.requestId };
    if (operation) attributes[GEN_AI_OPERATION_NAME] = operation;
    if (init.httpMethod) attributes[ATTR_HTTP_REQUEST_METHOD] = init.httpMethod;
    if (init.urlPath) attributes[ATTR_URL_PATH] = init.urlPath;
    const label = operation ?? (init.route === 'other' ? (init.httpMethod ?? 'other') : init.route);
    // Renamed to "{operation} {model}" at the end, once the model is known.
    const span = this.tracer.startSpan(label, { kind: SpanKind.SERVER, startTime: init.startTime, attributes }, parent);
    return new OtelRequestSpan(this.tracer, span, init.route, label, operation);
  }

  /**
   * Never rejects and waits at most `timeoutMs`: a collector that is down must neither fail nor
   * hold up the gateway's shutdown (the exporter would retry until its own timeout); the spans
   * still buffered then are lost, and onExportError hears of it.
   */
  async shutdown(timeoutMs = DEFAULT_SHUTDOWN_WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), timeoutMs);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([this.provider.shutdown(), expired]);
      if (outcome === 'expired') this.onExportError?.(new Error(`trace export did not finish within ${timeoutMs} ms of shutdown; buffered spans were dropped`));
    } catch (error) {
      // The processor rejects with the failed export's error, which the exporter wrapper already reported.
      if (!(error instanceof Error && this.reported.has(error))) this.onExportError?.(error instanceof Error ? error : new Error(String(error)));
    } finally {
      clearTimeout(timer);
    }
  }
}

class OtelRequestSpan implements RequestSpan {
  private attempts = 0;
  private ended = false;
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly route: TracedRoute,
    private readonly label: string,
    private readonly operation: GenAiOperation | undefined,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  startAttempt(init: AttemptSpanInit): AttemptSpan {
    this.attempts += 1;
    const name = this.operation ? `${this.operation} ${init.model}` : init.model;
    // An unsampled request's attempts are not sampled either: skip building their attributes.
    let attributes: Attributes | undefined;
    if (this.span.isRecording()) {
      attributes = {
        [GEN_AI_PROVIDER_NAME]: genAiProviderName(init.providerType),
        [GEN_AI_REQUEST_MODEL]: init.model,
        [SWITCHYARD_PROVIDER_ID]: init.providerId,
        [SWITCHYARD_ATTEMPT]: this.attempts,
      };
      if (this.operation) attributes[GEN_AI_OPERATION_NAME] = this.operation;
      if (init.requestModel !== undefined) attributes[SWITCHYARD_MODEL_GROUP] = init.requestModel;
      if (init.serverAddress !== undefined) attributes[ATTR_SERVER_ADDRESS] = init.serverAddress;
      if (init.serverPort !== undefined) attributes[ATTR_SERVER_PORT] = init.serverPort;
    }
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, this.context);
    const headers: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
    return new OtelAttemptSpan(span, headers);
  }

  end(summary: RequestSummary): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      const operation = summary.operation ?? this.operation;
      const attributes: Attributes = {
        [ATTR_HTTP_RESPONSE_STATUS_CODE]: summary.status,
        [GEN_AI_REQUEST_STREAM]: summary.stream,
        [SWITCHYARD_ATTEMPTS]: summary.attempts,
      };
      if (operation) attributes[GEN_AI_OPERATION_NAME] = operation;
      if (summary.providerType !== undefined) attributes[GEN_AI_PROVIDER_NAME] = genAiProviderName(summary.providerType);
      setDefined(attributes, GEN_AI_REQUEST_MODEL, summary.requestModel);
      setDefined(attributes, GEN_AI_RESPONSE_MODEL, summary.responseModel);
      setUsage(attributes, summary.usage);
      if (summary.finishReasons?.length) attributes[GEN_AI_RESPONSE_FINISH_REASONS] = summary.finishReasons;
      setDefined(attributes, SWITCHYARD_MODEL_GROUP, summary.modelGroup);
      setDefined(attributes, SWITCHYARD_PROVIDER_ID, summary.providerId);
      setDefined(attributes, SWITCHYARD_CACHE, summary.cache);
      setDefined(attributes, SWITCHYARD_KEY_ID, summary.keyId);
      // To the nano-dollar, as x-switchyard-cost-usd and the request log give it.
      if (typeof summary.costUsd === 'number') attributes[SWITCHYARD_COST_USD] = roundUsd(summary.costUsd);
      if (summary.error) attributes[ATTR_ERROR_TYPE] = summary.error.code;
      span.setAttributes(attributes);
      const label = operation ?? this.label;
      if (summary.requestModel && this.route !== 'other') span.updateName(`${label} ${summary.requestModel}`);
      else if (label !== this.label) span.updateName(label);
      // HTTP server convention: 4xx are the client's errors, not the server's.
      if (summary.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: summary.error?.message });
    }
    span.end(summary.endTime);
  }
}

class OtelAttemptSpan implements AttemptSpan {
  private ended = false;

  constructor(
    private readonly span: Span,
    readonly headers: Readonly<Record<string, string>>,
  ) {}

  end(outcome: AttemptOutcome): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      const attributes: Attributes = {};
      setDefined(attributes, GEN_AI_RESPONSE_MODEL, outcome.responseModel);
      setUsage(attributes, outcome.usage);
      if (outcome.finishReasons?.length) attributes[GEN_AI_RESPONSE_FINISH_REASONS] = outcome.finishReasons;
      if (outcome.cancelled) {
        attributes[SWITCHYARD_CANCELLED] = true;
      } else if (outcome.error) {
        attributes[ATTR_ERROR_TYPE] = outcome.error.code;
        setDefined(attributes, ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.error.status);
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
      }
      span.setAttributes(attributes);
    }
    span.end();
  }
}

/** Undefined values must not reach the SDK: it would store and export them as empty attributes. */
function setDefined(attributes: Attributes, key: string, value: string | number | undefined): void {
  if (value !== undefined) attributes[key] = value;
}

function setUsage(attributes: Attributes, usage: TokenUsage | undefined): void {
  if (!usage) return;
  setDefined(attributes, GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens);
  setDefined(attributes, GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens);
  setDefined(attributes, GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cached_input_tokens);
}

/** Passes every export through, telling `onError` about the ones that failed (their spans are dropped). */
function reportingFailures(exporter: SpanExporter, onError: (error: Error) => void, reported: WeakSet<Error>): SpanExporter {
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          const error = result.error ?? new Error('span export failed');
          reported.add(error);
          onError(error);
          done({ code: result.code, error });
        } else {
          done(result);
        }
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
