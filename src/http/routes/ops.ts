/** Operational endpoints: liveness, readiness and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';

export interface Readiness {
  /** True once the config is loaded and the server listens; false again while shutting down. */
  ready: boolean;
}

export function opsRoutes(app: FastifyInstance, { metrics, readiness }: { metrics: Metrics; readiness: Readiness }): void {
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    if (!readiness.ready) return reply.code(503).send({ status: 'not ready' });
    return { status: 'ready' };
  });
  // Off (metrics.enabled: false): the route is absent, so /metrics is an ordinary 404.
  if (!metrics.enabled) return;
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
