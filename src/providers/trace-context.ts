/**
 * W3C trace context for upstream calls. An attempt's span names itself as the parent of its
 * upstream request; the headers are keyed by the attempt's abort signal, which every adapter
 * already hands to the transport, so no adapter has to know about tracing.
 */
import type { CallSignal } from './call-signal.js';
import { mergeHeaders } from './headers.js';
const bySignal = new WeakMap<CallSignal, Readonly<Record<string, string>>>();
let used = false;

/** The headers (traceparent, tracestate) to send with every upstream request made under `signal`. */
export function propagateTrace(signal: CallSignal, headers: Readonly<Record<string, string>>): void {
  used = true;
  bySignal.set(signal, headers);
}

/** `headers` with the trace context of `signal` added, if it has one. */
export function withTraceContext(headers: Record<string, string>, signal: CallSignal): Record<string, string> {
  if (!used) return headers;
  const trace = bySignal.get(signal);
  return trace ? mergeHeaders(headers, trace) : headers;
}
