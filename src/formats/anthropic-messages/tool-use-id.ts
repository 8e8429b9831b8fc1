/**
 * Gemini's thought signatures through the Messages API. Gemini 3 signs each function call it
 * makes and refuses a later turn that sends the call back without its signature; the chat format
 * carries it in `tool_calls[].extra_content.google.thought_signature`, but a `tool_use` block has
 * no place for it. So it rides in the block's id, which Messages clients send back unchanged (on
 * the assistant's `tool_use` and the `tool_result`): `<id>__thought__<signature as base64url>`.
 * base64url keeps the id within what Anthropic accepts (letters, digits, `_` and `-`).
 */
import type { ToolCall } from '../../gateway/types.js';

const MARK = '__thought__';

/** The `tool_use` id of a chat-format tool call: its own id, with its thought signature when it has one. */
export function toolUseId(call: Pick<ToolCall, 'id'> & { extra_content?: unknown }): string {
  const signature = (call.extra_content as { google?: { thought_signature?: unknown } } | undefined)?.google?.thought_signature;
  if (typeof signature !== 'string' || signature === '') return call.id;
  return `${call.id}${MARK}${Buffer.from(signature, 'utf8').toString('base64url')}`;
}

/**
 * The `tool_use` id of the `index`th tool call of message `messageId`: a block must have one (the
 * client sends it back with its `tool_result`), and some servers (llama.cpp, LocalAI, TGI builds)
 * leave the call's id out or empty.
 */
export function toolUseIdIn(messageId: string, index: number, call: { id?: unknown; extra_content?: unknown }): string {
  return typeof call.id === 'string' && call.id !== '' ? toolUseId({ id: call.id, extra_content: call.extra_content }) : `toolu_${messageId.slice(4)}_${index}`;
}

/** A `tool_use` id taken apart again: the tool call's own id, and the signature it carried. */
export function splitToolUseId(id: string): { id: string; thoughtSignature: string | undefined } {
  const at = id.lastIndexOf(MARK);
  if (at < 0) return { id, thoughtSignature: undefined };
  const encoded = id.slice(at + MARK.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return { id, thoughtSignature: undefined };
  return { id: id.slice(0, at), thoughtSignature: Buffer.from(encoded, 'base64url').toString('utf8') };
}
