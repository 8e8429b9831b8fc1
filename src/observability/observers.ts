/**
 * Everything that watches a finished request, handed to the HTTP layer as one object: metrics,
 * the request log, SLA monitoring and tracing. Only metrics are always there.
 */
import type { Metrics } from './metrics.js';
import type { RequestRecorder } from './request-recorder.js';
import type { SlaMonitor } from './sla/monitor.js';
import type { Tracing } from './tracing.js';

export interface Observers {
  metrics: Metrics;
  /** The request log (spend rows and, unless request_log.enabled is off, every request). */
  recorder: RequestRecorder | undefined;
  /** SLOs and answer quality; absent when no objective is configured and quality is not tracked. */
  sla: SlaMonitor | undefined;
  /** OpenTelemetry; absent when tracing is off. */
  tracing: Tracing | undefined;
}
