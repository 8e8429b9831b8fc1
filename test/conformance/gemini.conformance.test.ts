/** The provider conformance suite against `type: gemini` (fake: Gemini's v1beta wire format, `x-goog-api-key`). */
import { FakeGemini } from '../fakes/gemini-upstream.js';
import { runProviderConformance } from './provider-conformance.js';

runProviderConformance({
  name: 'gemini',
  start: () => FakeGemini.start(),
  // cachedContentTokenCount → cached_tokens; SAFETY → content_filter; candidateCount = n; thought parts → reasoning_content; a refused key is 400 API_KEY_INVALID.
  capabilities: { cacheTokens: true, contentFilter: true, multipleChoices: true, reasoning: true, authStatus: 400 },
});
