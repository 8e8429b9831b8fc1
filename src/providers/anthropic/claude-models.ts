/**
 * What a Claude model id tells about the model's API, for the translations that build its
 * requests (the Messages API's and Bedrock's Converse).
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ThinkingParam } from './api.js';

/**
 * Claude models that only think adaptively, deciding their own budget: `thinking: {type:
 * "enabled", budget_tokens}` is a 400 there ("Use thinking.type.adaptive and output_config.effort"),
 * and so is `temperature`, `top_p` or `top_k` ("deprecated for this model").
 * That is Opus 4.7 and later, and the 5 generation on; Sonnet 4.5, Haiku 4.5, Opus 4.5 and earlier
 * refuse adaptive thinking instead, and 4.6 takes both. Read from the upstream model id,
 * Anthropic's or Bedrock's (`claude-opus-4-7`, `claude-opus-4-7-20260416`, `claude-sonnet-5`,
 * `us.anthropic.claude-opus-4-7-v1:0`); `claude-opus-4-20250514` is 4.0 (a date is not a minor
 * version), and the old `claude-3-7-sonnet` order is an older model.
 */
export function thinksAdaptively(model: string): boolean {
  const match = /claude-([a-z]+)-(\d+)(?:[-.](\d{1,2})(?!\d))?/.exec(model.toLowerCase());
  if (!match) return false;
  const major = Number(match[2]);
  const minor = Number(match[3] ?? 0);
  return major >= 5 || (match[1] === 'opus' && major === 4 && minor >= 7);
}

/**
 * `reasoning_effort` → thinking budget_tokens. 1024 is Anthropic's minimum budget; each step up
 * quadruples it, so "high" leaves room for long multi-step reasoning within common output limits.
 */
export const REASONING_BUDGETS: Readonly<Record<string, number>> = { minimal: 1024, low: 1024, medium: 4096, high: 16384, xhigh: 32768 };

/** Anthropic's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;

/** `reasoning_effort` → `output_config.effort` for adaptive thinking (Anthropic has no "minimal"). */
const ADAPTIVE_EFFORTS: Readonly<Record<string, string>> = { minimal: 'low', low: 'low', medium: 'medium', high: 'high', xhigh: 'xhigh' };

export interface EffortThinking {
  thinking: ThinkingParam;
  /** Adaptive thinking's effort (`output_config.effort`). */
  effort?: string;
  /** What the effort's budget would be: room given on top of the default max_tokens when the client set none. */
  room: number;
}

/**
 * `reasoning_effort` as Claude thinking, fitted to what Anthropic accepts where OpenAI's request
 * was valid (an unknown effort is a 400). Models that think adaptively get `{type: "adaptive"}`
 * and the effort itself. Others get a budget, which must stay below `max_tokens` (OpenAI's limit
 * includes reasoning), so a smaller limit gets half of it as budget, or no thinking when that is
 * under Anthropic's minimum. Thinking forbids a forced tool, so a forced tool call (`required`, a
 * named function) runs without thinking, keeping the call the client asked for.
 */
export function effortThinking(effort: unknown, maxTokens: number | undefined, forcedTool: boolean, adaptive: boolean): EffortThinking | undefined {
  if (effort == null || effort === 'none') return undefined;
  let budget = typeof effort === 'string' ? REASONING_BUDGETS[effort] : undefined;
  if (budget === undefined) {
    throw new GatewayError('invalid_request', `reasoning_effort must be one of none, ${Object.keys(REASONING_BUDGETS).join(', ')}.`, { param: 'reasoning_effort' });
  }
  if (forcedTool) return undefined;
  // These models leave the thinking text out unless asked ("omitted" by default): summaries are
  // what reasoning_content carries, as it does for older models.
  if (adaptive) return { thinking: { type: 'adaptive', display: 'summarized' }, effort: ADAPTIVE_EFFORTS[effort as string], room: budget };
  if (maxTokens !== undefined && maxTokens <= budget) budget = Math.floor(maxTokens / 2);
  return budget < MIN_THINKING_BUDGET ? undefined : { thinking: { type: 'enabled', budget_tokens: budget }, room: budget };
}
