/**
 * Request coalescing for the pipeline: identical requests in flight share one upstream call
 * (cache/coalescer.ts) made under a context of its own, so one client leaving does not abort what
 * the others wait for; the call is aborted only when every waiting client has left. Each request
 * then takes on the facts of the shared call (provider, model, usage); only the one that made it
 * counts its attempts, the others are marked `coalesced`.
 */
import { Coalescer } from '../cache/coalescer.js';
import { closeClient, createRequestContext, type RequestContext } from './context.js';

export class SharedCalls {
  private readonly coalescer = new Coalescer();

  constructor(private readonly onShared: () => void) {}

  get inFlight(): number {
    return this.coalescer.inFlight;
  }

  /** One answer for every concurrent caller of `key`. */
  async answer<T>(key: string, rc: RequestContext, call: (flight: RequestContext) => Promise<T>): Promise<T> {
    if (rc.clientClosed) throw rc.clientClosed;
    const joined = this.coalescer.join(key, (onAbandoned) => {
      const flight = flightContext(rc);
      onAbandoned(() => closeClient(flight));
      return call(flight).then(
        (value) => ({ value, flight }),
        (error: unknown) => Promise.reject(new FailedFlight(error, flight)),
      );
    });
    rc.onClientClose = (reason) => joined.leave(reason);
    try {
      const { value, flight } = await joined.result;
      adopt(rc, flight, joined.shared);
      if (joined.shared) this.onShared();
      return value;
    } catch (err) {
      throw failed(err, rc, joined.shared);
    } finally {
      rc.onClientClose = undefined;
    }
  }

  /**
   * One upstream stream for every concurrent caller of `key`: each gets every item from the
   * first. Resolves once the stream started (its first item arrived).
   */
  async stream<T>(key: string, rc: RequestContext, start: (flight: RequestContext) => Promise<AsyncIterable<T>>): Promise<AsyncIterable<T>> {
    if (rc.clientClosed) throw rc.clientClosed;
    let joined;
    // Only the caller that starts the flight runs `start`.
    let leader = false;
    try {
      const started = (flight: RequestContext) => {
        leader = true;
        return start(flight).catch((error: unknown) => Promise.reject(new FailedFlight(error, flight)));
      };
      joined = await this.coalescer.stream(key, started, () => flightContext(rc));
    } catch (err) {
      // The shared stream failed before its first item.
      throw failed(err, rc, !leader);
    }
    const flight = joined.context;
    adopt(rc, flight, joined.shared);
    if (joined.shared) this.onShared();
    const iterator = joined.stream[Symbol.asyncIterator]();
    rc.onClientClose = () => void iterator.return?.();
    return followed(iterator, rc, flight, joined.shared);
  }
}

/** A shared call that failed, with the context it ran under: every caller reports its attempts and provider. */
class FailedFlight {
  constructor(
    readonly error: unknown,
    readonly flight: RequestContext,
  ) {}
}

/** The error to throw for a caller of a failed shared call, after it took on the call's outcome (as on success). */
function failed(err: unknown, rc: RequestContext, shared: boolean): unknown {
  if (!(err instanceof FailedFlight)) return err;
  adopt(rc, err.flight, shared);
  return err.error;
}

function flightContext(rc: RequestContext): RequestContext {
  const flight = createRequestContext(rc.requestId, rc.route, rc.startedAt);
  flight.stream = rc.stream;
  flight.model = rc.model;
  flight.routeRule = rc.routeRule;
  return flight;
}

/** The request takes on the shared call's outcome; attempts and upstream time belong to the one that made it. */
function adopt(rc: RequestContext, flight: RequestContext, shared: boolean): void {
  rc.providerId = flight.providerId;
  rc.upstreamModel = flight.upstreamModel;
  rc.fallbackGroup = flight.fallbackGroup;
  rc.usage = flight.usage;
  if (shared) {
    rc.coalesced = true;
    return;
  }
  rc.attempts = flight.attempts;
  rc.failedAttempts = flight.failedAttempts;
  rc.upstreamMs = flight.upstreamMs;
}

/** The consumer's items; at the end, the usage and upstream time the shared stream reached. */
async function* followed<T>(iterator: AsyncIterator<T>, rc: RequestContext, flight: RequestContext, shared: boolean): AsyncGenerator<T> {
  try {
    for (;;) {
      const result = await iterator.next();
      if (result.done === true) break;
      yield result.value;
    }
  } finally {
    rc.onClientClose = undefined;
    await iterator.return?.();
    rc.usage = flight.usage;
    if (!shared) rc.upstreamMs = flight.upstreamMs;
  }
}
