/**
 * OpenAI's `reasoning_effort` (and the `thinking` extension) → Gemini `thinkingConfig`.
 *
 * Gemini 2.5 models take a token budget, Gemini 3 models a level (they still accept a budget for
 * backwards compatibility, but Google recommends levels and rejects both at once). So:
 * - model name starting with `gemini-3`: `thinkingLevel` = the effort (`none` → `minimal`, `xhigh`
 *   → `high`); Gemini 3 cannot switch thinking off;
 * - any other model: `thinkingBudget` none 0 · minimal 512 · low 1024 · medium 8192 · high 24576 ·
 *   xhigh 32768 (models clamp or reject out-of-range budgets themselves).
 * `includeThoughts` is turned on whenever thinking is asked for, so thought summaries come back as
 * `reasoning_content`. `thinking: {type: "enabled", budget_tokens}` sets the budget directly and
 * `{type: "disabled"}` sets it to 0. Without either field the model's default applies.
 */
import { GatewayError } from '../../gateway/errors.js';
import type { ChatRequest } from '../../gateway/types.js';
import type { GeminiThinkingConfig } from './api.js';

const BUDGETS: Record<string, number> = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576, xhigh: 32768 };
const LEVELS: Record<string, string> = { none: 'minimal', minimal: 'minimal', low: 'low', medium: 'medium', high: 'high', xhigh: 'high' };
const LEVEL_MODEL = /^(?:models\/)?gemini-3/;

export function toGeminiThinking(request: ChatRequest, upstreamModel: string): GeminiThinkingConfig | undefined {
  const thinking = request.thinking as { type?: unknown; budget_tokens?: unknown } | null | undefined;
  if (thinking && typeof thinking === 'object') {
    if (thinking.type === 'disabled') return { thinkingBudget: 0 };
    if (thinking.type === 'enabled' && typeof thinking.budget_tokens === 'number') return { thinkingBudget: thinking.budget_tokens, includeThoughts: true };
  }
  const effort = request.reasoning_effort;
  if (effort == null) return undefined;
  if (typeof effort !== 'string' || !(effort in BUDGETS)) {
    throw new GatewayError('invalid_request', `Invalid request: 'reasoning_effort' must be one of ${Object.keys(BUDGETS).join(', ')}.`, { param: 'reasoning_effort' });
  }
  if (LEVEL_MODEL.test(upstreamModel)) {
    return effort === 'none' ? { thinkingLevel: LEVELS[effort] } : { thinkingLevel: LEVELS[effort], includeThoughts: true };
  }
  const budget = BUDGETS[effort]!;
  return budget === 0 ? { thinkingBudget: 0 } : { thinkingBudget: budget, includeThoughts: true };
}
