/** Masks anything that looks like an API key (even a provider's own masked echo of one). */
export function redactSecrets(text: string): string {
  return text
    // A key's dots are part of it (masked echoes: `sk-abc...xyz`); a sentence's full stop after it is not.
    .replace(/\b(?:sk|pk|rk|key|api[-_]?key)[-_][A-Za-z0-9_*.\-…]{4,}/gi, (key) => `[redacted]${/\.+$/.exec(key)?.[0] ?? ''}`)
    .replace(/\bAIza[0-9A-Za-z_-]{20,}/g, '[redacted]') // Google API keys
    .replace(/\b(?:AKIA|ASIA)[0-9A-Z]{12,}/g, '[redacted]'); // AWS access key ids
}
