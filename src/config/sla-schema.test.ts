import { describe, expect, it } from 'vitest';
import { checkSlaReferences, slaSchema } from './sla-schema.js';

const problems = (value: unknown): string[] => {
  const result = slaSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('sla schema', () => {
  it('defaults: nothing configured, nothing monitored', () => {
    expect(slaSchema.parse(undefined)).toEqual({ evaluation_interval_ms: 10_000, objectives: [], alerts: { cooldown_ms: 600_000, retries: 2, webhooks: [] } });
  });

  it('an objective and webhooks, with defaults and string numbers (env interpolation)', () => {
    const sla = slaSchema.parse({
      evaluation_interval_ms: '5000',
      objectives: [{ name: 'smart-availability', model: 'smart', availability: '99.5', p95_ttft_ms: 1500 }],
      alerts: { webhooks: [{ url: 'https://hooks.slack.com/services/T/B/x', format: 'slack' }, { url: 'http://ops.internal/alerts', headers: { authorization: 'Bearer x' } }] },
    });
    expect(sla.evaluation_interval_ms).toBe(5_000);
    expect(sla.objectives[0]).toEqual({ name: 'smart-availability', model: 'smart', window_ms: 300_000, min_requests: 10, availability: 99.5, p95_ttft_ms: 1500 });
    expect(sla.alerts.webhooks).toEqual([
      { url: 'https://hooks.slack.com/services/T/B/x', format: 'slack', timeout_ms: 5_000 },
      { url: 'http://ops.internal/alerts', format: 'json', headers: { authorization: 'Bearer x' }, timeout_ms: 5_000 },
    ]);
  });

  it('rejects what cannot work, naming the path', () => {
    expect(problems({ objectives: [{ name: 'x', availability: 99 }] })).toEqual(['objectives.0.model: an objective names exactly one of model (a model group) or provider (a provider id)']);
    expect(problems({ objectives: [{ name: 'x', model: 'a', provider: 'b', availability: 99 }] })).toHaveLength(1);
    expect(problems({ objectives: [{ name: 'x', model: 'a' }] })[0]).toMatch(/at least one of availability, error_rate, p95_latency_ms, p95_ttft_ms/);
    expect(problems({ objectives: [{ name: 'has space', model: 'a', availability: 99 }] })[0]).toMatch(/^objectives\.0\.name: /);
    expect(problems({ objectives: [{ name: 'x', model: 'a', availability: 101 }] })[0]).toMatch(/^objectives\.0\.availability: /);
    expect(problems({ objectives: [{ name: 'x', model: 'a', error_rate: -1 }] })[0]).toMatch(/^objectives\.0\.error_rate: /);
    expect(problems({ objectives: [{ name: 'x', model: 'a', availability: 99, window_ms: 10 }] })[0]).toMatch(/^objectives\.0\.window_ms: /);
    expect(problems({ objectives: [{ name: 'x', model: 'a', availability: 99, typo: 1 }] })).toHaveLength(1);
    expect(problems({ objectives: [{ name: 'x', model: 'a', availability: 99 }, { name: 'x', provider: 'b', error_rate: 1 }] })).toEqual(['objectives.1.name: duplicate objective name "x"']);
    expect(problems({ alerts: { webhooks: [{ url: 'ftp://example.com/x' }] } })).toEqual(['alerts.webhooks.0.url: expected an http:// or https:// URL']);
    expect(problems({ alerts: { webhooks: [{ url: 'https://example.com', format: 'teams' }] } })[0]).toMatch(/^alerts\.webhooks\.0\.format: /);
  });

  it('checkSlaReferences: unknown model groups and providers', () => {
    const sla = slaSchema.parse({
      objectives: [
        { name: 'a', model: 'smart', availability: 99 },
        { name: 'b', model: 'openai/*', availability: 99 },
        { name: 'c', model: 'smrt', availability: 99 },
        { name: 'd', provider: 'openai', availability: 99 },
        { name: 'e', provider: 'azure', availability: 99 },
      ],
    });
    expect(checkSlaReferences(sla, ['smart'], ['openai'])).toEqual([
      { path: ['sla', 'objectives', 2, 'model'], message: 'unknown model group "smrt" (known: smart)' },
      { path: ['sla', 'objectives', 4, 'provider'], message: 'unknown provider "azure" (known: openai)' },
    ]);
  });
});
