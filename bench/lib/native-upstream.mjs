/**
 * Precomputed answers of the bench upstream in Anthropic's and Bedrock's wire formats: the same
 * text and usage as the OpenAI answers of bench/upstream.mjs, streamed in the same number of
 * content pieces, so the three provider paths through the gateway do comparable work.
 *
 * - Anthropic Messages: POST /v1/messages → a `message` JSON, or SSE `event:`/`data:` pairs
 *   (message_start, content_block_start, text_delta × N, content_block_stop, message_delta,
 *   message_stop).
 * - Bedrock Converse: POST /model/{id}/converse → Converse JSON; /converse-stream → the binary AWS
 *   event stream (messageStart, contentBlockDelta × N, contentBlockStop, messageStop, metadata),
 *   framed with CRCs by @smithy/eventstream-codec. Signatures are not checked here.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

const MODEL = 'claude-3-5-haiku-20241022';
const ID = 'msg_01XFDUDYJgAACzvnptvVoYEL';

/** The text split into `pieces` content deltas (word boundaries kept). */
export function splitText(text, pieces) {
  const words = text.split(/(?<= )/);
  const per = Math.ceil(words.length / pieces);
  const out = [];
  for (let i = 0; i < pieces; i++) out.push(words.slice(i * per, (i + 1) * per).join(''));
  return out.filter((piece) => piece !== '');
}

export function anthropicAnswers(text, usage, pieces) {
  const message = {
    id: ID,
    type: 'message',
    role: 'assistant',
    model: MODEL,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: usage.prompt_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: usage.completion_tokens, service_tier: 'standard' },
  };
  const sse = (type, data) => Buffer.from(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const events = [
    sse('message_start', { message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } } }),
    sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    sse('ping', {}),
    ...splitText(text, pieces).map((piece) => sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } })),
    sse('content_block_stop', { index: 0 }),
    sse('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.completion_tokens } }),
    sse('message_stop', {}),
  ];
  return { json: Buffer.from(JSON.stringify(message)), events };
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function bedrockEvent(type, payload) {
  return Buffer.from(
    codec.encode({
      headers: {
        ':event-type': { type: 'string', value: type },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: fromUtf8(JSON.stringify(payload)),
    }),
  );
}

export function bedrockAnswers(text, usage, pieces) {
  const tokens = { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, totalTokens: usage.total_tokens };
  const json = {
    output: { message: { role: 'assistant', content: [{ text }] } },
    stopReason: 'end_turn',
    usage: tokens,
    metrics: { latencyMs: 212 },
  };
  // Bedrock pads event payloads with a "p" field of varying length.
  const events = [
    bedrockEvent('messageStart', { p: 'abcdefghijklmnopqrstu', role: 'assistant' }),
    ...splitText(text, pieces).map((piece) => bedrockEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: piece }, p: 'abcdefghij' })),
    bedrockEvent('contentBlockStop', { contentBlockIndex: 0, p: 'abcdefghijklmnopq' }),
    bedrockEvent('messageStop', { p: 'abcdefghijklmnopqrstuvwxyzABCDEF', stopReason: 'end_turn' }),
    bedrockEvent('metadata', { metrics: { latencyMs: 212 }, p: 'abcdefghijklmn', usage: tokens }),
  ];
  return { json: Buffer.from(JSON.stringify(json)), events };
}
