/**
 * The provider conformance suite against `type: azure`, in both API styles: deployment URLs with
 * `api-version` (`api_style: deployments`) and the v1 API (`api_style: v1`); `api-key` auth.
 */
import { OpenAIConformanceFake } from '../fakes/openai-conformance.js';
import { runProviderConformance } from './provider-conformance.js';

const capabilities = { cacheTokens: true, contentFilter: true, multipleChoices: true };

runProviderConformance({ name: 'azure (deployments)', start: () => OpenAIConformanceFake.start({ flavor: 'azure-deployments' }), capabilities });
runProviderConformance({ name: 'azure (v1)', start: () => OpenAIConformanceFake.start({ flavor: 'azure-v1' }), capabilities });
