/**
 * The stream translators alone, in-process: µs per upstream chunk for decoding each provider's
 * stream into OpenAI chunks, and for encoding OpenAI chunks into Anthropic events (/v1/messages).
 * Inputs are the bench upstream's own streams (the same 18 text pieces in every format), fed as
 * one network read per event, as the mock upstream writes them. Uses tsc's output (build/).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { anthropicAnswers, bedrockAnswers } from './native-upstream.mjs';

const ROUNDS = 3;
const STREAMS_PER_ROUND = 2000;

async function* chunksOf(buffers) {
  for (const buffer of buffers) yield buffer;
}

/** Median over rounds of the µs per chunk of `run()` (one whole stream per call). */
async function timePerChunk(run, chunks) {
  for (let i = 0; i < 200; i++) await run(); // warm up (JIT)
  const samples = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < STREAMS_PER_ROUND; i++) await run();
    samples.push(Number(process.hrtime.bigint() - start) / 1000 / STREAMS_PER_ROUND / chunks);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

export async function translatorCosts(repo) {
  const load = (path) => import(pathToFileURL(join(repo, 'build', path)).href);
  const [{ decodeChatStream }, { decodeMessagesStream }, { decodeConverseStream }, { MessageStreamEncoder }, { anthropicFrames }] = await Promise.all([
    load('providers/openai/stream.js'),
    load('providers/anthropic/stream.js'),
    load('providers/bedrock/stream.js'),
    load('formats/anthropic-messages/encode-stream.js'),
    load('http/anthropic-sse.js'),
  ]);
  const { STREAM_EVENTS_WITH_USAGE, TEXT, USAGE, PIECES } = await import(pathToFileURL(join(repo, 'bench', 'upstream.mjs')).href);
  const anthropic = anthropicAnswers(TEXT, USAGE, PIECES).events;
  const bedrock = bedrockAnswers(TEXT, USAGE, PIECES).events;

  const drain = async (iterable) => {
    const out = [];
    for await (const chunk of iterable) out.push(chunk);
    return out;
  };
  const openaiChunks = await drain(decodeChatStream(chunksOf(STREAM_EVENTS_WITH_USAGE), 'bench'));

  const results = [];
  const add = async (name, chunks, run) => results.push({ name, chunks, usPerChunk: await timePerChunk(run, chunks) });
  await add('OpenAI SSE → OpenAI chunks (passthrough)', STREAM_EVENTS_WITH_USAGE.length, () => drain(decodeChatStream(chunksOf(STREAM_EVENTS_WITH_USAGE), 'bench')));
  await add('Anthropic SSE → OpenAI chunks', anthropic.length, () => drain(decodeMessagesStream(chunksOf(anthropic), 'bench', false)));
  await add('Bedrock event stream → OpenAI chunks', bedrock.length, () =>
    drain(decodeConverseStream(chunksOf(bedrock), { provider: 'bench', id: 'chatcmpl-bench', model: 'us.amazon.nova-lite-v1:0', jsonTool: undefined })),
  );
  await add('OpenAI chunks → Anthropic events (/v1/messages)', openaiChunks.length, async () => {
    const encoder = new MessageStreamEncoder({ model: 'gpt' });
    const events = [];
    let text = '';
    for (const chunk of openaiChunks) {
      events.length = 0;
      encoder.push(chunk, events);
      text += anthropicFrames(events);
    }
    events.length = 0;
    encoder.end(events);
    return text + anthropicFrames(events);
  });
  return results;
}
