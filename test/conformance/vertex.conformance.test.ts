/**
 * The provider conformance suite against `type: vertex` (fake: Vertex AI's paths with the Gemini
 * wire format, a bearer token from its OAuth token endpoint checked on every call).
 */
import { FakeVertex } from '../fakes/vertex-upstream.js';
import { runProviderConformance } from './provider-conformance.js';

runProviderConformance({
  name: 'vertex',
  start: () => FakeVertex.start(),
  // As Gemini: cachedContentTokenCount → cached_tokens; SAFETY → content_filter; candidateCount = n;
  // thought parts → reasoning_content. Vertex refuses credentials with 401 UNAUTHENTICATED (the
  // default), and its 429 RESOURCE_EXHAUSTED carries no RetryInfo and no Retry-After.
  capabilities: { cacheTokens: true, contentFilter: true, multipleChoices: true, reasoning: true, retryAfter: false },
});
