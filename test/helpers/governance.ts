/** Helpers for the governance e2e tests: the admin API, spend reports, concurrent budget runs. */
import { RateLimitError } from 'openai';
import { expect } from 'vitest';
import { raw, type RawResponse } from './client.js';
import type { Gateway } from './gateway.js';

export interface SpendRow {
  group: string | null;
  requests: number;
  errors: number;
  cost_usd: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** A call to the admin API with the master key. */
export function admin(gateway: Gateway, masterKey: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  return raw(gateway, `/admin${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { authorization: `Bearer ${masterKey}` } });
}

/** A key's spend report row, once it counts `requests` requests (spend rows are written in the background). */
export async function spendOf(gateway: Gateway, masterKey: string, keyId: string, requests: number): Promise<SpendRow> {
  for (let i = 0; i < 100; i++) {
    const report = await admin(gateway, masterKey, 'GET', `/spend?group_by=key&key_id=${keyId}`);
    const row = (report.json as { data: SpendRow[] }).data.find((r) => r.group === keyId);
    if (row && row.requests >= requests) return row;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`spend of ${keyId} never reached ${requests} requests`);
}

/**
 * Tallies concurrent requests against a budget: answered ones and the cost their headers say;
 * every refusal must be the SDK's RateLimitError with `refusal` in its message.
 */
export function tallyBudgetRun(results: PromiseSettledResult<{ response: Response }>[], refusal: RegExp): { ok: number; spent: number } {
  let ok = 0;
  let spent = 0;
  for (const result of results) {
    if (result.status === 'fulfilled') {
      ok++;
      spent += Number(result.value.response.headers.get('x-switchyard-cost-usd'));
    } else {
      expect(result.reason).toBeInstanceOf(RateLimitError);
      expect((result.reason as RateLimitError).message).toMatch(refusal);
    }
  }
  return { ok, spent };
}
