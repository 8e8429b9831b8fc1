/**
 * How much answer text a stream item carries (characters): OpenAI-format chunks' content, tool
 * call arguments and reasoning; Anthropic events' text, JSON and thinking deltas. A stream cut off
 * before the provider reported its usage is billed from this (about 4 characters a token).
 */

interface ChunkLike {
  choices?: { delta?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown; tool_calls?: { function?: { arguments?: unknown } }[] } }[];
}

interface EventLike {
  value?: { delta?: { text?: unknown; partial_json?: unknown; thinking?: unknown } };
}

export function streamedChars(item: unknown): number {
  const chunk = item as ChunkLike & EventLike;
  let chars = 0;
  if (Array.isArray(chunk.choices)) {
    for (const choice of chunk.choices) {
      const delta = choice.delta;
      if (!delta) continue;
      chars += length(delta.content) + length(delta.reasoning_content ?? delta.reasoning);
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) chars += length(call.function?.arguments);
    }
    return chars;
  }
  const delta = chunk.value?.delta;
  return delta ? length(delta.text) + length(delta.partial_json) + length(delta.thinking) : 0;
}

function length(value: unknown): number {
  return typeof value === 'string' ? value.length : 0;
}

/** Tokens for streamed characters: about 4 characters a token, as the prompt estimate. */
export function streamedTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

interface AnswerLike {
  choices?: { message?: { content?: unknown; reasoning_content?: unknown; tool_calls?: { function?: { arguments?: unknown } }[] } }[];
  content?: { text?: unknown; thinking?: unknown; input?: unknown }[];
}

/**
 * How much text a whole answer carries (characters), as streamedChars counts a stream's: a chat
 * completion's content, reasoning and tool call arguments, or an Anthropic message's text,
 * thinking and tool inputs. For an estimate when the provider's own counts are broken.
 */
export function answerChars(answer: unknown): number {
  const value = answer as AnswerLike | null;
  let chars = 0;
  if (Array.isArray(value?.choices)) {
    for (const choice of value.choices) {
      const message = choice?.message;
      if (!message) continue;
      chars += length(message.content) + length(message.reasoning_content);
      if (Array.isArray(message.tool_calls)) for (const call of message.tool_calls) chars += length(call?.function?.arguments);
    }
  } else if (Array.isArray(value?.content)) {
    for (const block of value.content) chars += length(block?.text) + length(block?.thinking) + (block?.input === undefined ? 0 : length(JSON.stringify(block.input)));
  }
  return chars;
}
