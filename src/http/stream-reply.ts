/**
 * The lifecycle of a streamed answer, the same for every API surface: once the first event is
 * out, a failure ends the stream with the surface's own error event; a client that left is a 499;
 * the request is settled exactly once, whatever happened.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RequestContext } from '../gateway/context.js';
import { asGatewayError, type GatewayError } from '../gateway/errors.js';
import { settle } from '../gateway/settle.js';
import type { Metrics } from '../observability/metrics.js';
import type { SseWriter } from './sse.js';

/**
 * Runs `write` (which sends the events and resolves true when the stream completed, false when
 * the client left first) and closes the stream properly on every outcome.
 */
export async function runStream(
  sse: SseWriter,
  rc: RequestContext,
  log: FastifyBaseLogger,
  metrics: Metrics,
  write: () => Promise<boolean>,
  errorFrame: (error: GatewayError) => string,
): Promise<void> {
  rc.status = 200;
  let completed = false;
  try {
    completed = await write();
  } catch (err) {
    const error = asGatewayError(err);
    rc.error = error;
    if (error.code === 'internal_error') log.error({ err }, 'unexpected error while streaming');
    if (error.code === 'client_closed_request' || sse.closed) {
      rc.status = 499;
    } else {
      await sse.frame(errorFrame(error));
      sse.end(false);
    }
  } finally {
    if (!completed && !rc.error) rc.status = 499;
    settle(rc, metrics, log);
  }
}
