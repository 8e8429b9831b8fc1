/**
 * What an admitted request holds (governance/admission.ts makes it): its lease on the limiter,
 * what each of its rules stands for and their states after the reservation. `settle` gives back
 * what the request did not use, exactly once; `headers` writes OpenAI's x-ratelimit-* headers.
 */
import { toMicros } from './cost.js';
import { ruleStates, type Lease, type Limiter, type Rule, type RuleState, type RuleStates } from './limits/limiter.js';

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
    /** meta[i] says what rules[i] counts; the limiter's states describe them after the reservation. */
    private readonly rules: readonly Rule[],
    private readonly ruleStates: RuleStates,
  ) {}

  /** Each rule's state after the reservation, as objects (for tests and diagnostics). */
  get states(): RuleState[] {
    return ruleStates(this.ruleStates, this.rules);
  }

  /** Reconciles the reservation: `tokens` used (prompt + completion) and what the answer cost. Never rejects. */
  settle(tokens: number, costUsd: number): Promise<void> | void {
    if (this.#settled) return;
    this.#settled = true;
    const meta = this.meta;
    const actual = new Array<number | undefined>(meta.length);
    for (let i = 0; i < meta.length; i++) {
      const what = meta[i]!.what;
      actual[i] = what === 'tpm' || what === 'tpd' ? tokens : what === 'budget' ? toMicros(costUsd) : undefined;
    }
    const limiter = this.limiter;
    if (limiter.settleNow) limiter.settleNow(this.lease, actual);
    else return limiter.settle(this.lease, actual);
  }

  /** OpenAI's x-ratelimit-* headers from the tightest request and token limits. */
  headers(into: Record<string, string>): void {
    const { remaining, resetMs } = this.ruleStates;
    // The rules with the least left: rpm among the request rates, tpm among the token rates.
    let requests = -1;
    let tokens = -1;
    for (let i = 0; i < this.meta.length; i++) {
      const what = this.meta[i]!.what;
      if (what === 'rpm') {
        if (requests < 0 || remaining[i]! < remaining[requests]!) requests = i;
      } else if (what === 'tpm') {
        if (tokens < 0 || remaining[i]! < remaining[tokens]!) tokens = i;
      }
    }
    if (requests >= 0) {
      into['x-ratelimit-limit-requests'] = String(this.rules[requests]!.limit);
      into['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(remaining[requests]!)));
      into['x-ratelimit-reset-requests'] = resetText(resetMs[requests]!);
    }
    if (tokens >= 0) {
      into['x-ratelimit-limit-tokens'] = String(this.rules[tokens]!.limit);
      into['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(remaining[tokens]!)));
      into['x-ratelimit-reset-tokens'] = resetText(resetMs[tokens]!);
    }
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
