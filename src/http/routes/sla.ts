/**
 * `GET /v1/sla`: every service-level objective with its indicators' current values and states (as
 * of the last evaluation), and the answer-quality signals per model group.
 */
import type { FastifyInstance } from 'fastify';
import type { SlaMonitor, SlaSnapshot } from '../../observability/sla/monitor.js';

const EMPTY: SlaSnapshot = { object: 'list', evaluated_at: null, data: [], quality: [] };

export function slaRoutes(app: FastifyInstance, monitor: SlaMonitor | undefined): void {
  const list = async (): Promise<SlaSnapshot> => monitor?.snapshot() ?? EMPTY;
  for (const prefix of ['/v1', '']) app.get(`${prefix}/sla`, list);
}
