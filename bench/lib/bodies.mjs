/** The chat conversations the benchmarks send. */

/** The core benchmark's: a system and a user message (a request body of ~350 bytes). */
export const BENCH_MESSAGES = [
  { role: 'system', content: 'You are a concise technical assistant. Answer in one short paragraph.' },
  { role: 'user', content: 'Explain what load balancing is, and why an LLM gateway in front of several model providers benefits from it.' },
];

/** Eight messages of prose adding up to about `kb` KB: a chat with some history, as real clients send. */
export function longMessages(kb) {
  const sentence = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ';
  const content = sentence.repeat(Math.ceil((kb * 1024) / 8 / sentence.length));
  return Array.from({ length: 8 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content }));
}

/** `--body-kb=N`: long messages of about N KB; 0, the core benchmark's. */
export function benchMessages(kb) {
  return kb > 0 ? longMessages(kb) : BENCH_MESSAGES;
}
