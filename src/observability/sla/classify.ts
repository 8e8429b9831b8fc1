/**
 * What a finished request means for service-level indicators. Decided by its error code when it
 * has one (a stream that failed after its 200 still carries it), else by its HTTP status:
 *
 * - success: status below 400 and no failure code;
 * - server failure: the gateway or the upstream failed it (5xx; upstream errors, timeouts and
 *   rate limiting, even as a 429; the gateway shedding load or unable to check limits);
 * - client error: the request was at fault (4xx: invalid, too large, unknown model, the upstream
 *   rejecting it; `only-if-cached` with nothing cached);
 * - excluded: it says nothing about the service: the client left (499), or a policy refused it as
 *   configured (authentication, permissions, the gateway's own rate limits and budgets).
 */

export const SUCCESS = 0;
export const CLIENT_ERROR = 1;
export const SERVER_FAILURE = 2;
export const EXCLUDED = 3;
export type SampleClass = typeof SUCCESS | typeof CLIENT_ERROR | typeof SERVER_FAILURE | typeof EXCLUDED;

const BY_CODE = new Map<string, SampleClass>([
  ['upstream_error', SERVER_FAILURE],
  ['upstream_timeout', SERVER_FAILURE],
  ['upstream_rate_limited', SERVER_FAILURE],
  ['service_unavailable', SERVER_FAILURE],
  ['limits_unavailable', SERVER_FAILURE],
  ['internal_error', SERVER_FAILURE],
  ['client_closed_request', EXCLUDED],
  ['invalid_api_key', EXCLUDED],
  ['access_denied', EXCLUDED],
  ['model_not_allowed', EXCLUDED],
  ['model_not_priced', EXCLUDED],
  ['routing_override_not_allowed', EXCLUDED],
  ['rate_limit_exceeded', EXCLUDED],
  ['budget_exceeded', EXCLUDED],
  ['not_cached', CLIENT_ERROR],
]);

export function classify(status: number, errorCode: string | undefined): SampleClass {
  if (errorCode !== undefined) {
    const decided = BY_CODE.get(errorCode);
    if (decided !== undefined) return decided;
  }
  if (status === 499) return EXCLUDED;
  if (status >= 500) return SERVER_FAILURE;
  if (status >= 400) return CLIENT_ERROR;
  return SUCCESS;
}
