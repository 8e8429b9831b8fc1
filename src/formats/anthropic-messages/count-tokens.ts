/**
 * `POST /v1/messages/count_tokens`: an estimate of a request's input tokens, counted on the
 * canonical request with the gateway's tokenizer (o200k_base, as OpenAI's recent models use).
 * Every model tokenizes differently, so for any target this is an estimate, not the upstream's own
 * count: close for OpenAI models, rougher for Claude, Gemini and others. The framing follows
 * OpenAI's accounting (a few tokens per message, 3 to prime the reply), which is also what the
 * `mock` provider reports as `prompt_tokens`.
 */
import { countTokens } from '../../governance/tokens.js';
import type { ChatMessage, ChatRequest } from '../../gateway/types.js';

/** Images are not decoded to learn their size: each counts as Anthropic's cost of a ~1.15 MP image. */
export const IMAGE_TOKENS_ESTIMATE = 1600;

export function estimateInputTokens(request: ChatRequest): number {
  let total = 3;
  for (const message of request.messages) total += 3 + messageTokens(message);
  if (request.tools && request.tools.length > 0) total += countTokens(JSON.stringify(request.tools));
  return total;
}

function messageTokens(message: ChatMessage): number {
  let total = 0;
  const { content } = message;
  if (typeof content === 'string') {
    total += countTokens(content);
  } else if (Array.isArray(content)) {
    const texts: string[] = [];
    for (const part of content) {
      if (typeof part.text === 'string') texts.push(part.text);
      else if (part.type === 'image_url' || part.type === 'image') total += IMAGE_TOKENS_ESTIMATE;
      else total += countTokens(JSON.stringify(part));
    }
    total += countTokens(texts.join(' '));
  }
  if (message.tool_calls) total += countTokens(JSON.stringify(message.tool_calls));
  if (message.thinking_blocks) {
    for (const block of message.thinking_blocks) total += countTokens(block.thinking ?? block.data ?? '');
  }
  return total;
}
