/**
 * The provider conformance suite against `type: bedrock` (fake: Bedrock Runtime's Converse /
 * ConverseStream wire format with SigV4 verified on every request).
 */
import { FakeBedrock } from '../fakes/bedrock-upstream.js';
import { runProviderConformance } from './provider-conformance.js';

runProviderConformance({
  name: 'bedrock',
  start: () => FakeBedrock.start(),
  // cacheRead/WriteInputTokens → cached_tokens / cache_creation_input_tokens; content_filtered and
  // guardrail_intervened → content_filter; one choice per Converse call; reasoningContent →
  // reasoning_content; out of quota is ServiceQuotaExceededException, HTTP 400 ("resubmit later":
  // answered as a rate limit); bad credentials
  // are 403 UnrecognizedClientException; a ThrottlingException carries no Retry-After.
  capabilities: { cacheTokens: true, cacheWriteTokens: true, contentFilter: true, multipleChoices: false, reasoning: true, quotaStatus: 400, quotaIsRateLimit: true, authStatus: 403, retryAfter: false },
});
