/**
 * What an admitted request holds (governance/admission.ts makes it): its lease on the limiter,
 * what each of its rules stands for and their states after the reservation. `settle` gives back
 * what the request did not use, exactly once; `headers` writes OpenAI's x-ratelimit-* headers.
 */
import { spendMicros } from './cost.js';
import type { Lease, Limiter, RuleState } from './limits/limiter.js';

/** What a rule of the reservation counts. */
export interface RuleRole {
  what: 'rpm' | 'tpm' | 'tpd' | 'parallel' | 'budget';
}

/** What an admitted request holds; `settle` gives back what it did not use, exactly once. */
export class Ticket {
  #settled = false;

  constructor(
    private readonly limiter: Limiter,
    private readonly lease: Lease,
    private readonly meta: readonly RuleRole[],
    readonly states: RuleState[],
  ) {}

  /** Reconciles the reservation: `tokens` used (prompt + completion) and what the answer cost. */
  settle(tokens: number, costUsd: number): Promise<void> {
    if (this.#settled) return Promise.resolve();
    this.#settled = true;
    const meta = this.meta;
    const actual = new Array<number | undefined>(meta.length);
    for (let i = 0; i < meta.length; i++) {
      const what = meta[i]!.what;
      actual[i] = what === 'tpm' || what === 'tpd' ? tokens : what === 'budget' ? spendMicros(costUsd) : undefined;
    }
    return this.limiter.settle(this.lease, actual);
  }

  /** OpenAI's x-ratelimit-* headers from the tightest request and token limits. */
  headers(into: Record<string, string>): void {
    rateLimitHeaders(this.meta, this.states, into);
  }
}

/**
 * OpenAI's x-ratelimit-* headers from the tightest requests-per-minute and tokens-per-minute rules
 * among `states` (an admitted request's, or a refused one's: a refusal carries them too).
 */
export function rateLimitHeaders(meta: readonly RuleRole[], states: readonly (RuleState | undefined)[], into: Record<string, string>): void {
  let requests: RuleState | undefined;
  let tokens: RuleState | undefined;
  for (let i = 0; i < meta.length; i++) {
    const what = meta[i]!.what;
    const state = states[i];
    if (state === undefined) continue;
    if (what === 'rpm') {
      if (requests === undefined || state.remaining < requests.remaining) requests = state;
    } else if (what === 'tpm') {
      if (tokens === undefined || state.remaining < tokens.remaining) tokens = state;
    }
  }
  if (requests) {
    into['x-ratelimit-limit-requests'] = String(requests.limit);
    into['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(requests.remaining)));
    into['x-ratelimit-reset-requests'] = resetText(requests.resetMs);
  }
  if (tokens) {
    into['x-ratelimit-limit-tokens'] = String(tokens.limit);
    into['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(tokens.remaining)));
    into['x-ratelimit-reset-tokens'] = resetText(tokens.resetMs);
  }
}

/** OpenAI's reset format: `1s`, `6m0s`, `20ms`. */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m${seconds % 60}s`;
}
