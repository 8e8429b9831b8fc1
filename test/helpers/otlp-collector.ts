/**
 * A local OpenTelemetry collector for e2e tests: an OTLP/HTTP endpoint (JSON) on 127.0.0.1 that
 * keeps every span it receives, flattened (trace and span ids as hex, attributes as plain values).
 * Exporters batch, so tests poll with `waitFor` until the spans they expect have arrived.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { closeFake, localOrigin, serveFake } from '../fakes/http-fake.js';

/** OTLP's SpanKind numbers (opentelemetry-proto trace.proto). */
export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
/** OTLP's StatusCode numbers. */
export const STATUS_CODE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type AttributeValue = string | number | boolean | AttributeValue[] | null;

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  attributes: Record<string, AttributeValue>;
  status: { code: number; message?: string };
  /** The resource's attributes (service.name, ...). */
  resource: Record<string, AttributeValue>;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
}

interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: OtlpKeyValue[];
  status?: { code?: number; message?: string };
}

interface OtlpExport {
  resourceSpans?: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

export class OtlpCollector {
  readonly spans: CollectedSpan[] = [];
  /** Export calls received (each one batch), with the path they were posted to. */
  readonly exports: { path: string; contentType: string | undefined }[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpCollector> {
    const server = createServer();
    const collector = new OtlpCollector(server);
    await serveFake(server, (req, res) => collector.#handle(req, res));
    return collector;
  }

  /** The traces endpoint to configure: `http://127.0.0.1:<port>/v1/traces`. */
  get endpoint(): string {
    return `${localOrigin(this.#server)}/v1/traces`;
  }

  /** Every span of one trace. */
  trace(traceId: string): CollectedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  /**
   * Polls until `select` returns a non-empty list from the spans received so far (or the time is
   * up: then the last, possibly empty, selection is returned for the caller's assertion).
   */
  async waitFor(select: (spans: CollectedSpan[]) => CollectedSpan[], timeoutMs = 10_000): Promise<CollectedSpan[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = select(this.spans);
      if (found.length > 0 || Date.now() > until) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async close(): Promise<void> {
    await closeFake(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    this.exports.push({ path: (req.url ?? '/').split('?')[0]!, contentType: req.headers['content-type'] });
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/json')) {
      // Protobuf or anything else is a configuration the tests do not expect: say so loudly.
      res.writeHead(415, { 'content-type': 'text/plain' });
      res.end(`the test collector takes OTLP/HTTP JSON only, got ${req.method} ${String(req.headers['content-type'])}`);
      return;
    }
    const payload = JSON.parse(body.toString('utf8')) as OtlpExport;
    for (const resourceSpans of payload.resourceSpans ?? []) {
      const resource = attributesOf(resourceSpans.resource?.attributes);
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ? span.parentSpanId : undefined,
            name: span.name,
            kind: span.kind ?? 0,
            attributes: attributesOf(span.attributes),
            status: { code: span.status?.code ?? STATUS_CODE.UNSET, message: span.status?.message },
            resource,
          });
        }
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  }
}

function attributesOf(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) out[key] = valueOf(value);
  return out;
}

function valueOf(value: OtlpAnyValue | undefined): AttributeValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  // int64 may arrive as a decimal string (JSON encoding of 64-bit integers).
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return null;
}
