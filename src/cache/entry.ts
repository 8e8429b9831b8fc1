/**
 * How a cached answer is stored: one line of metadata (JSON), a newline, then the answer's JSON
 * text exactly as it went to the client. A hit can then send the text without re-serialising it,
 * and the metadata says who served it and what it cost, for headers and the saved-spend figures.
 */
import type { Usage } from '../gateway/types.js';

/** Bumped when the layout changes; entries of another version read as misses. */
const ENTRY_VERSION = 1;

export interface EntryMeta {
  /** The provider id and upstream model that produced the answer. */
  provider?: string;
  model?: string;
  usage?: Usage;
  /** What the answer cost when it was made (USD), when the model's price is known. */
  cost_usd?: number;
}

export interface DecodedEntry {
  meta: EntryMeta;
  /** The answer's JSON text. */
  json: string;
}

export function encodeEntry(meta: EntryMeta, json: string): Buffer {
  return Buffer.from(`${JSON.stringify({ v: ENTRY_VERSION, ...meta })}\n${json}`, 'utf8');
}

/** The entry's parts, or undefined when the bytes are not an entry of this version (treated as a miss). */
export function decodeEntry(value: Buffer): DecodedEntry | undefined {
  const text = value.toString('utf8');
  const newline = text.indexOf('\n');
  if (newline < 0) return undefined;
  try {
    const { v, ...meta } = JSON.parse(text.slice(0, newline)) as EntryMeta & { v?: unknown };
    if (v !== ENTRY_VERSION) return undefined;
    return { meta, json: text.slice(newline + 1) };
  } catch {
    return undefined;
  }
}
