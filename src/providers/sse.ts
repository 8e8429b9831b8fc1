/** Server-sent events from an upstream body, parsed with eventsource-parser. */
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** Yields each SSE event of a byte stream as it completes. */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  // Keeps a UTF-8 sequence split across reads whole; ~4x cheaper per read than TextDecoder's stream mode.
  const decoder = new StringDecoder('utf8');
  let atStart = true;
  for await (const bytes of body) {
    let text = decoder.write(bytes);
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte order mark is not content (TextDecoder's rule)
    }
    parser.feed(text);
    while (pending.length > 0) yield pending.shift()!;
  }
  parser.feed(decoder.end());
  parser.reset({ consume: true });
  while (pending.length > 0) yield pending.shift()!;
}
