/**
 * Token counting with a real BPE tokenizer (gpt-tokenizer, o200k_base). Its tables cost ~70 MB,
 * so the module is loaded on first use: a gateway that never counts tokens never pays for it.
 */
import { createRequire } from 'node:module';

type Tokenizer = { countTokens(text: string): number };

const require = createRequire(import.meta.url);
let tokenizer: Tokenizer | undefined;

export function countTokens(text: string): number {
  if (text === '') return 0;
  tokenizer ??= require('gpt-tokenizer') as Tokenizer;
  return tokenizer.countTokens(text);
}

/** Loads the tables now (at start-up) rather than on the first request that needs them. */
export function preloadTokenizer(): void {
  countTokens('warm up');
}
