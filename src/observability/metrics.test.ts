import { describe, expect, it } from 'vitest';
import { Metrics, type RequestOutcome } from './metrics.js';

const served: RequestOutcome = {
  route: 'chat',
  model: 'smart',
  provider: 'openai',
  upstreamModel: 'gpt-4o',
  status: 200,
  cache: 'miss',
  totalMs: 120,
  overheadMs: 0.4,
  usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 40 } },
  costUsd: 0.0012,
};

/** The sample lines of one metric, without HELP / TYPE. */
async function lines(metrics: Metrics, name: string): Promise<string[]> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  return text.split('\n').filter((line) => line.startsWith(name));
}

describe('Metrics', () => {
  it('counts requests with their upstream model and cache status, tokens by kind, and cost', async () => {
    const metrics = new Metrics();
    metrics.record(served);
    metrics.record({ ...served, cache: 'hit', provider: 'cache', usage: undefined, costUsd: 0 });
    expect(await lines(metrics, 'switchyard_requests_total')).toEqual([
      'switchyard_requests_total{route="chat",model="smart",provider="openai",upstream_model="gpt-4o",status="200",cache="miss"} 1',
      'switchyard_requests_total{route="chat",model="smart",provider="cache",upstream_model="gpt-4o",status="200",cache="hit"} 1',
    ]);
    expect(await lines(metrics, 'switchyard_tokens_total')).toEqual([
      'switchyard_tokens_total{model="smart",provider="openai",upstream_model="gpt-4o",kind="input"} 100',
      'switchyard_tokens_total{model="smart",provider="openai",upstream_model="gpt-4o",kind="output"} 20',
      'switchyard_tokens_total{model="smart",provider="openai",upstream_model="gpt-4o",kind="cached_input"} 40',
    ]);
    expect(await lines(metrics, 'switchyard_cost_usd_total')).toEqual(['switchyard_cost_usd_total{model="smart",provider="openai",upstream_model="gpt-4o"} 0.0012']);
  });

  it('gives an unpriced model its tokens but no cost series (not a 0 one)', async () => {
    const metrics = new Metrics();
    metrics.record({ ...served, upstreamModel: 'self-hosted', costUsd: null });
    expect(await lines(metrics, 'switchyard_tokens_total')).toHaveLength(3);
    expect(await lines(metrics, 'switchyard_cost_usd_total')).toEqual([]);
    metrics.record(served);
    expect(await lines(metrics, 'switchyard_cost_usd_total')).toEqual(['switchyard_cost_usd_total{model="smart",provider="openai",upstream_model="gpt-4o"} 0.0012']);
  });

  it('labels tokens and cost by team when asked, bounded by max_teams', async () => {
    const metrics = new Metrics({ teamLabels: true, maxTeams: 2 });
    for (const team of ['t1', 't2', 't3', 't1', undefined]) metrics.record({ ...served, team });
    const teams = (await lines(metrics, 'switchyard_cost_usd_total')).map((line) => [/team="([^"]*)"/.exec(line)?.[1], Number(line.split(' ')[1])]);
    expect(teams).toEqual([
      ['t1', 0.0024],
      ['t2', 0.0012],
      ['other', 0.0012],
      ['none', 0.0012],
    ]);
  });

  it('counts refusals by code and model, and requests and streams in flight', async () => {
    const metrics = new Metrics();
    metrics.begin('chat');
    metrics.begin('chat');
    metrics.begin('messages');
    metrics.streamStarted();
    expect(await lines(metrics, 'switchyard_in_flight_requests')).toEqual(['switchyard_in_flight_requests{route="chat"} 2', 'switchyard_in_flight_requests{route="messages"} 1']);
    expect(await lines(metrics, 'switchyard_in_flight_streams')).toEqual(['switchyard_in_flight_streams 1']);
    metrics.record({ ...served, status: 429, usage: undefined, costUsd: undefined, refusal: 'rate_limit_exceeded' }, true);
    metrics.record({ ...served, route: 'messages' }, true);
    // A request that never began (refused before its route ran) leaves the gauge alone.
    metrics.record({ ...served, status: 401, refusal: 'invalid_api_key', usage: undefined, costUsd: undefined });
    metrics.streamEnded();
    expect(await lines(metrics, 'switchyard_in_flight_requests')).toEqual(['switchyard_in_flight_requests{route="chat"} 1', 'switchyard_in_flight_requests{route="messages"} 0']);
    expect(await lines(metrics, 'switchyard_in_flight_streams')).toEqual(['switchyard_in_flight_streams 0']);
    expect(await lines(metrics, 'switchyard_refusals_total')).toEqual(['switchyard_refusals_total{code="rate_limit_exceeded",model="smart"} 1', 'switchyard_refusals_total{code="invalid_api_key",model="smart"} 1']);
  });

  it('records nothing when disabled', async () => {
    const metrics = new Metrics({ enabled: false });
    metrics.begin('chat');
    metrics.record(served, true);
    expect(await lines(metrics, 'switchyard_requests_total')).toEqual([]);
    expect(await lines(metrics, 'switchyard_in_flight_requests')).toEqual([]);
  });
});
