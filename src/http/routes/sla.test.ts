import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { slaSchema } from '../../config/sla-schema.js';
import { SlaMonitor } from '../../observability/sla/monitor.js';
import { slaRoutes } from './sla.js';

const logger = { info: () => {}, warn: () => {}, error: () => {} };
const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function appWith(monitor: SlaMonitor | undefined) {
  const app = Fastify();
  apps.push(app);
  slaRoutes(app, monitor);
  return app;
}

describe('GET /v1/sla', () => {
  it('lists the objectives and quality, on /v1/sla and /sla', async () => {
    const now = Date.UTC(2025, 0, 1);
    const monitor = new SlaMonitor(slaSchema.parse({ objectives: [{ name: 'smart', model: 'smart', min_requests: 1, availability: 99 }] }), { registry: new Registry(), logger, now: () => now });
    monitor.observe({ model: 'smart', provider: 'openai', status: 502, totalMs: 10, stream: false, errorCode: 'upstream_error' });
    monitor.observeAnswer({ model: 'smart', finishReasons: ['stop'], empty: true });
    await monitor.evaluate();
    const app = appWith(monitor);
    for (const url of ['/v1/sla', '/sla']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.object).toBe('list');
      expect(body.data).toHaveLength(1);
      expect(body.data[0]).toMatchObject({ name: 'smart', target: { model: 'smart' }, requests: 1, state: 'violated' });
      expect(body.data[0].indicators[0]).toEqual({ indicator: 'availability', unit: 'percent', objective: 99, value: 0, samples: 1, state: 'violated', since: new Date(now).toISOString() });
      expect(body.quality).toEqual([expect.objectContaining({ model: 'smart', answers: 1, empty: 1, empty_rate: 1 })]);
    }
    await monitor.stop();
  });

  it('without a monitor: an empty list', async () => {
    const response = await appWith(undefined).inject({ method: 'GET', url: '/v1/sla' });
    expect(response.json()).toEqual({ object: 'list', evaluated_at: null, data: [], quality: [] });
  });
});
