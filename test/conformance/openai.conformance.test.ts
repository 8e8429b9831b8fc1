/** The provider conformance suite against `type: openai` (fake: OpenAI's wire format, Bearer auth). */
import { OpenAIConformanceFake } from '../fakes/openai-conformance.js';
import { runProviderConformance } from './provider-conformance.js';

runProviderConformance({
  name: 'openai',
  start: () => OpenAIConformanceFake.start({ flavor: 'openai' }),
  capabilities: { cacheTokens: true, contentFilter: true, multipleChoices: true },
});
