/** Request rows for storage and report tests: one plausible request, fields overridable. */
import type { SpendRow } from '../../governance/types.js';

/** A factory of rows at `at`, each with a request id of its own. */
export function spendRows(at: number): (over?: Partial<SpendRow>) => SpendRow {
  let count = 0;
  return (over = {}) => ({
    request_id: `req-${count++}`,
    at,
    key_id: 'k1',
    team_id: 't1',
    org_id: 'o1',
    end_user: 'alice',
    model: 'gpt',
    provider: 'openai',
    upstream_model: 'gpt-4o',
    prompt_tokens: 10,
    completion_tokens: 5,
    cost_usd: 0.25,
    latency_ms: 100,
    status: 200,
    cache: 'MISS',
    tags: ['env:prod'],
    route: 'chat',
    stream: false,
    error_code: null,
    ttft_ms: null,
    cached_tokens: 0,
    attempts: 1,
    trace_id: null,
    request_body: null,
    response_body: null,
    ...over,
  });
}
