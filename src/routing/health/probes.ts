/**
 * Active health checks (optional, `routing.health_checks`): on an interval, one cheap request to
 * every configured target — a one-token chat, or a one-word embedding for embedding models (other
 * non-chat models, such as speech or image models, are not probed). The
 * result is shown by GET /v1/providers and feeds the target's circuit breaker, so a target whose
 * breaker is open can be found healthy again without risking client traffic on it.
 */
import { GatewayError } from '../../gateway/errors.js';
import { countsAgainstTarget } from '../attempt.js';
import type { ModelRegistry } from '../models.js';
import type { RoutingTarget } from '../target.js';

export interface ProbeSettings {
  intervalMs: number;
  timeoutMs: number;
}

export interface ProbeLog {
  warn(fields: object, message: string): void;
}

/** Starts the probes; returns a function that stops them. */
export function startHealthProbes(models: ModelRegistry, settings: ProbeSettings, log: ProbeLog): () => void {
  let running = false;
  const round = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      await Promise.all(models.configuredTargets().filter(probeable).map((target) => probe(target, settings.timeoutMs, log)));
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void round(), settings.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Chat and embedding models can be probed cheaply; others (speech, images, rerank) are left to passive statistics. */
function probeable(target: RoutingTarget): boolean {
  return target.info.capabilities.chat !== false || isEmbeddingModel(target);
}

function isEmbeddingModel(target: RoutingTarget): boolean {
  return /embed/i.test(target.model);
}

export async function probe(target: RoutingTarget, timeoutMs: number, log: ProbeLog): Promise<void> {
  const breakerHeld = target.breaker?.tryAcquire() ?? false;
  const signal = AbortSignal.timeout(timeoutMs);
  const ctx = { upstreamModel: target.model, signal, requestId: `probe-${Date.now()}`, firstByte: () => {} };
  const startedAt = performance.now();
  let error: string | undefined;
  /** Whether the failure is the target's: a 4xx says the probe's request does not suit the model, not that it is down. */
  let blame = false;
  try {
    const adapter = target.provider.adapter;
    if (isEmbeddingModel(target)) await adapter.embeddings({ model: target.model, input: 'ping' }, ctx);
    else await adapter.chat({ model: target.model, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, ctx);
  } catch (err) {
    error = signal.aborted ? `no answer within ${timeoutMs} ms` : err instanceof GatewayError ? err.message : String(err);
    blame = signal.aborted || countsAgainstTarget(err);
  }
  const ok = error === undefined;
  if (breakerHeld) {
    if (ok) target.breaker!.onSuccess();
    else if (blame) target.breaker!.onFailure();
    else target.breaker!.release();
  }
  if (!ok && target.probe?.ok !== false) log.warn({ provider: target.providerId, model: target.model, error }, 'health probe failed');
  target.probe = { at: new Date().toISOString(), ok, latency_ms: Math.round(performance.now() - startedAt), ...(error ? { error } : {}) };
}
