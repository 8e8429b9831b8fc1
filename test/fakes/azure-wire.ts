/**
 * Azure OpenAI's additions to OpenAI's wire format, as Azure sends them (Azure OpenAI REST
 * reference and its content-filtering concept page): content-filter annotations on prompts and
 * choices, the 400 `content_filter` error for a filtered prompt, and Azure's own error bodies
 * (`{"error":{"code","message"}}`) for what Azure, not the model backend, rejects.
 */
import type { ErrorClass } from '../conformance/contract.js';

/** An error response: status, JSON body (Azure's bodies are not OpenAI's shape) and headers. */
export interface HttpError {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type FilterCategory = 'hate' | 'self_harm' | 'sexual' | 'violence';

type Annotation = { filtered: boolean; severity: 'safe' | 'low' | 'medium' | 'high' };

/** Per-category results; `flagged` is filtered at high severity, the rest are safe. */
export function contentFilterResults(flagged?: FilterCategory): Record<string, Annotation> {
  const result = (category: FilterCategory): Annotation => (category === flagged ? { filtered: true, severity: 'high' } : { filtered: false, severity: 'safe' });
  return { hate: result('hate'), self_harm: result('self_harm'), sexual: result('sexual'), violence: result('violence') };
}

/** The prompt's annotations: `prompt_filter_results` on a response, or on a stream's first chunk. */
export function promptFilterResults(): unknown[] {
  return [{ prompt_index: 0, content_filter_results: { ...contentFilterResults(), jailbreak: { filtered: false, detected: false } } }];
}

/**
 * A stream's first event on Azure: no choices, no id or model, only the prompt's annotations
 * (sent before any completion chunk).
 */
export function promptFilterChunk(): Record<string, unknown> {
  return { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: promptFilterResults() };
}

/** The 400 Azure sends when the prompt itself was filtered (code `content_filter`, param `prompt`). */
export function promptFilteredError(flagged: FilterCategory = 'violence'): HttpError {
  return {
    status: 400,
    body: {
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: { code: 'ResponsibleAIPolicyViolation', content_filter_result: { ...contentFilterResults(flagged), jailbreak: { filtered: false, detected: false } } },
      },
    },
  };
}

/** Azure's answer to a request without `api-version` (or an unknown one) on the deployments path. */
export const AZURE_RESOURCE_NOT_FOUND: HttpError = { status: 404, body: { error: { code: '404', message: 'Resource not found' } } };

export function azureAuthError(): HttpError {
  return azureError(
    401,
    '401',
    'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
  );
}

export function deploymentNotFound(): HttpError {
  return azureError(404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.');
}

/** An error class in Azure's words: the model backend's OpenAI-shaped body for a bad request, Azure's own otherwise. */
export function azureClassError(errorClass: ErrorClass, message: string, retryAfterSeconds = 7): HttpError {
  switch (errorClass) {
    case 'invalid_request':
      return { status: 400, body: { error: { message, type: 'invalid_request_error', param: null, code: null } } };
    case 'auth':
      return azureError(401, '401', message);
    case 'permission':
      return azureError(403, 'PermissionDenied', message);
    case 'not_found':
      return azureError(404, 'DeploymentNotFound', message);
    case 'rate_limit':
      return {
        ...azureError(429, '429', message),
        headers: {
          'retry-after': String(retryAfterSeconds),
          'retry-after-ms': String(retryAfterSeconds * 1000),
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-remaining-tokens': '0',
        },
      };
    case 'quota':
      return azureError(429, 'insufficient_quota', message);
    case 'server':
      return azureError(500, 'InternalServerError', message);
    case 'overloaded':
      return azureError(503, 'ServiceUnavailable', message);
  }
}

function azureError(status: number, code: string, message: string): HttpError {
  return { status, body: { error: { code, message } } };
}
