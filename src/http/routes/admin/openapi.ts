/**
 * The admin API's OpenAPI 3.1 document (GET /admin/openapi.json). Request bodies come from the
 * same zod schemas that validate them, so the document cannot drift from what is accepted.
 */
import { z } from 'zod';
import { keyInput, orgInput, rotateInput, teamInput, userInput } from './schemas.js';
import { SPEND_GROUPS } from './reports.js';

type Operation = Record<string, unknown>;

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) } } });
const record = { type: 'object', additionalProperties: true };
const ok = (description: string, schema: object = record) => ({ description, content: { 'application/json': { schema } } });
const listOf = { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: record } } };
const error = { description: 'Error (OpenAI shape: {"error":{"message","type","code","param"}})' };
const idPath = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });

/** The request log's filters (reports.ts), shared by /admin/logs and its export. */
const LOG_FILTERS = [
  query('from', 'ISO time or epoch ms'),
  query('to', 'ISO time or epoch ms'),
  ...['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider', 'error_code'].map((name) => query(name, `Only rows with this ${name}`)),
  query('status', 'An HTTP status (429) or a class (2xx, 4xx, 5xx)'),
  query('cache', 'HIT, SEMANTIC_HIT, MISS, BYPASS, REFRESH, or NONE'),
  query('tag', 'name:value'),
];

function crud(tag: string, what: string, input: z.ZodObject, update: z.ZodType): Record<string, Record<string, Operation>> {
  return {
    [`/admin/${tag}`]: {
      post: { tags: [tag], summary: `Create ${what}`, requestBody: { required: true, ...json(input) }, responses: { 201: ok(`The ${what}`), 400: error, 401: error } },
      get: { tags: [tag], summary: `List ${tag}`, responses: { 200: ok(`Every ${what}`, listOf), 401: error } },
    },
    [`/admin/${tag}/{id}`]: {
      get: { tags: [tag], summary: `Get ${what}`, parameters: [idPath], responses: { 200: ok(`The ${what}`), 404: error } },
      patch: { tags: [tag], summary: `Update ${what} (fields given; null clears)`, parameters: [idPath], requestBody: { required: true, ...json(update) }, responses: { 200: ok(`The updated ${what}`), 400: error, 404: error } },
      delete: { tags: [tag], summary: tag === 'keys' ? 'Revoke a key' : `Delete ${what}`, parameters: [idPath], responses: { 200: ok('Done'), 404: error, 409: error } },
    },
  };
}

let document: object | undefined;

export function openApiDocument(): object {
  document ??= {
    openapi: '3.1.0',
    info: { title: 'Switchyard admin API', version: '1', description: 'Organizations, teams, virtual keys, end users, spend and audit. Every call takes the master key as "Authorization: Bearer <key>".' },
    components: { securitySchemes: { masterKey: { type: 'http', scheme: 'bearer' } } },
    security: [{ masterKey: [] }],
    paths: {
      ...crud('orgs', 'an organization', orgInput, orgInput.partial()),
      ...crud('teams', 'a team', teamInput, teamInput.partial()),
      ...crud('keys', 'a virtual key (the response carries the secret "key", shown once)', keyInput, keyInput.partial()),
      ...crud('users', 'an end user', userInput, userInput.omit({ id: true }).partial()),
      '/admin/keys/{id}/rotate': {
        post: { tags: ['keys'], summary: 'Rotate a key: a new secret (shown once); the old one stays valid for grace_seconds', parameters: [idPath], requestBody: { required: false, ...json(rotateInput) }, responses: { 200: ok('The key with its new secret'), 404: error, 409: error } },
      },
      '/admin/config/reload': {
        post: {
          tags: ['config'],
          summary: 'Read the configuration file again and apply its providers, models and routing (what SIGHUP does); no body',
          responses: {
            200: ok('{reloaded: true, models, providers, restart_required: the changed sections that wait for a restart}'),
            401: error,
            409: error,
            422: error,
          },
        },
      },
      '/admin/spend': {
        get: {
          tags: ['reports'],
          summary: 'Spend rolled up per day, grouped',
          parameters: [
            query('group_by', 'What to group by', { type: 'string', enum: [...SPEND_GROUPS], default: 'day' }),
            query('from', 'First day, YYYY-MM-DD (UTC; default: 29 days before `to`)'),
            query('to', 'Last day, YYYY-MM-DD (UTC; default: today)'),
            ...['key_id', 'team_id', 'org_id', 'end_user', 'model', 'provider'].map((name) => query(name, `Only rows of this ${name} (not with group_by=tag)`)),
          ],
          responses: { 200: ok('Rows {group, requests, errors, prompt_tokens, completion_tokens, cost_usd, cache_hits, unpriced}, dearest first'), 400: error },
        },
      },
      '/admin/audit': {
        get: {
          tags: ['reports'],
          summary: 'Admin changes, newest first (who, what, when, before / after)',
          parameters: [query('target_type', 'org, team, key or user'), query('target_id', 'One entity'), query('from', 'ISO time or epoch ms'), query('to', 'ISO time or epoch ms'), query('limit', '1-1000, default 100'), query('before_id', 'Paging: next_before_id of the previous page')],
          responses: { 200: ok('Entries', listOf), 400: error },
        },
      },
      '/admin/logs': {
        get: {
          tags: ['reports'],
          summary: 'The request log, newest first (bodies only with request_log.bodies, redacted)',
          parameters: [...LOG_FILTERS, query('limit', '1-1000, default 100'), query('cursor', 'Paging: next_cursor of the previous page'), query('before_id', 'Paging (same as cursor)'), query('format', 'json (default) or jsonl (as /admin/logs/export)')],
          responses: { 200: ok('Rows, next_cursor', listOf), 400: error },
        },
      },
      '/admin/logs/export': {
        get: {
          tags: ['reports'],
          summary: 'The request log as JSON Lines, newest first, streamed',
          parameters: [...LOG_FILTERS, query('limit', 'At most this many rows (up to 1,000,000)')],
          responses: { 200: { description: 'One row a line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, 400: error },
        },
      },
      '/admin/logs/{request_id}': {
        get: {
          tags: ['reports'],
          summary: "One request's row (a reused request id lists the older rows under `others`)",
          parameters: [{ name: 'request_id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: ok('The row'), 404: error },
        },
      },
    },
  };
  return document;
}
