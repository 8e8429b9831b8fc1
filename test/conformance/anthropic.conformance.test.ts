/** The provider conformance suite against `type: anthropic` (fake: Anthropic's Messages wire format, x-api-key auth). */
import { FakeAnthropic } from '../fakes/anthropic-upstream.js';
import { runProviderConformance } from './provider-conformance.js';

runProviderConformance({
  name: 'anthropic',
  start: () => FakeAnthropic.start(),
  // Prepaid credit running out is Anthropic's 400 invalid_request_error; a refusal is its content filter.
  capabilities: { cacheTokens: true, cacheWriteTokens: true, reasoning: true, contentFilter: true, multipleChoices: false, quotaStatus: 400 },
});
