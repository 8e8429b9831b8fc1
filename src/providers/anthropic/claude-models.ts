/**
 * What a Claude model id tells about the model's API, for the translations that build its
 * requests (the Messages API's and Bedrock's Converse).
 */

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
