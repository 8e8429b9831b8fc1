/**
 * Token counting with a real BPE tokenizer (gpt-tokenizer, o200k_base). Its tables cost ~70 MB,
 * so the module is loaded on first use: a gateway that never counts tokens never pays for it.
 *
 * BPE merges within one pre-tokenized piece take time quadratic in its length, and a run without
 * spaces (200,000 `r`s, emoji, a blob) is one piece: 200 KB took 17 s on the event loop. So text
 * is counted in pieces of at most PIECE_CHARS, cut before a space where there is one (where the
 * tokenizer would split anyway, so ordinary text counts the same) and elsewhere between code
 * points: linear time, at most one token more per cut in a run without spaces.
 */
import { createRequire } from 'node:module';

type Tokenizer = { countTokens(text: string): number };

const require = createRequire(import.meta.url);
let tokenizer: Tokenizer | undefined;

/** ~25-60 MB/s whatever the text (measured with 64-512; 512 cuts ordinary text least often). */
const PIECE_CHARS = 512;

export function countTokens(text: string): number {
  return countTokensUpTo(text, Infinity);
}

/**
 * The text's tokens, counting no further once past `limit`: the result is exact when at most
 * `limit`, and some number above it otherwise (a context-window check needs no more).
 */
export function countTokensUpTo(text: string, limit: number): number {
  if (text === '') return 0;
  tokenizer ??= require('gpt-tokenizer') as Tokenizer;
  if (text.length <= PIECE_CHARS) return tokenizer.countTokens(text);
  let total = 0;
  for (let start = 0; start < text.length && total <= limit; ) {
    const end = pieceEnd(text, start);
    total += tokenizer.countTokens(text.slice(start, end));
    start = end;
  }
  return total;
}

function pieceEnd(text: string, start: number): number {
  const end = start + PIECE_CHARS;
  if (end >= text.length) return text.length;
  // Before a space in the piece's second half: a word keeps its leading space, as the tokenizer splits.
  for (let i = end; i > start + PIECE_CHARS / 2; i--) if (isSpace(text.charCodeAt(i))) return i;
  // A run without spaces: anywhere but between the halves of a surrogate pair.
  const last = text.charCodeAt(end - 1);
  return last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d;
}

/** Loads the tables now (at start-up) rather than on the first request that needs them. */
export function preloadTokenizer(): void {
  countTokens('warm up');
}
