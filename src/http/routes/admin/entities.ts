/** /admin/orgs, /admin/teams and /admin/users: create, list, get, update, delete. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../../gateway/errors.js';
import { newId } from '../../../governance/keys.js';
import type { GovernanceStore } from '../../../storage/governance-store.js';
import { orgInput, parseInput, policyOf, policyPatch, present, teamInput, userInput } from './schemas.js';

type WithId = FastifyRequest<{ Params: { id: string } }>;

export const ACTOR = 'master';

export function entityRoutes(app: FastifyInstance, store: GovernanceStore, changed: () => Promise<void>): void {
  const list = <R extends object>(records: R[]) => ({ object: 'list', data: records.map(present) });
  const found = <R extends object>(record: R | undefined, what: string, id: string): Record<string, unknown> => {
    if (!record) throw new GatewayError('not_found', `No ${what} with id "${id}".`);
    return present(record);
  };
  const created = async <R extends object>(reply: { code(status: number): unknown }, record: Promise<R>): Promise<Record<string, unknown>> => {
    const result = await record;
    await changed();
    reply.code(201);
    return present(result);
  };
  const updated = async <R extends object>(record: Promise<R>): Promise<Record<string, unknown>> => {
    const result = await record;
    await changed();
    return present(result);
  };
  const deleted = async (id: string, done: Promise<unknown>) => {
    await done;
    await changed();
    return { id, deleted: true };
  };

  // Organizations
  app.post('/orgs', async (request, reply) => {
    const input = parseInput(orgInput, request.body);
    const now = Date.now();
    return created(reply, store.orgs.create({ id: newId('org'), name: input.name, ...policyOf(input), created_at: now, updated_at: now }, ACTOR));
  });
  app.get('/orgs', async () => list(await store.orgs.list()));
  app.get('/orgs/:id', async (request: WithId) => found(await store.orgs.get(request.params.id), 'org', request.params.id));
  app.patch('/orgs/:id', async (request: WithId) => {
    const input = parseInput(orgInput.partial(), request.body);
    return updated(store.orgs.update(request.params.id, { ...(input.name !== undefined && { name: input.name }), ...policyPatch(input) }, ACTOR));
  });
  app.delete('/orgs/:id', async (request: WithId) => deleted(request.params.id, store.orgs.delete(request.params.id, ACTOR)));

  // Teams (in an org, or on their own)
  app.post('/teams', async (request, reply) => {
    const input = parseInput(teamInput, request.body);
    const orgId = input.org_id ?? null;
    if (orgId !== null && !(await store.orgs.get(orgId))) throw new GatewayError('invalid_request', `org_id: no org with id "${orgId}".`, { param: 'org_id' });
    const now = Date.now();
    return created(reply, store.teams.create({ id: newId('team'), name: input.name, org_id: orgId, ...policyOf(input), created_at: now, updated_at: now }, ACTOR));
  });
  app.get('/teams', async (request: FastifyRequest<{ Querystring: { org_id?: string } }>) => {
    const orgId = request.query.org_id;
    const teams = await store.teams.list();
    return list(orgId === undefined ? teams : teams.filter((team) => team.org_id === orgId));
  });
  app.get('/teams/:id', async (request: WithId) => found(await store.teams.get(request.params.id), 'team', request.params.id));
  app.patch('/teams/:id', async (request: WithId) => {
    const input = parseInput(teamInput.partial(), request.body);
    if (input.org_id && !(await store.orgs.get(input.org_id))) throw new GatewayError('invalid_request', `org_id: no org with id "${input.org_id}".`, { param: 'org_id' });
    const patch = { ...(input.name !== undefined && { name: input.name }), ...(input.org_id !== undefined && { org_id: input.org_id }), ...policyPatch(input) };
    return updated(store.teams.update(request.params.id, patch, ACTOR));
  });
  app.delete('/teams/:id', async (request: WithId) => deleted(request.params.id, store.teams.delete(request.params.id, ACTOR)));

  // End users (the request's `user`; their id is the string clients send)
  app.post('/users', async (request, reply) => {
    const input = parseInput(userInput, request.body);
    const now = Date.now();
    return created(reply, store.users.create({ id: input.id, name: input.name ?? null, ...policyOf(input), created_at: now, updated_at: now }, ACTOR));
  });
  app.get('/users', async () => list(await store.users.list()));
  app.get('/users/:id', async (request: WithId) => found(await store.users.get(request.params.id), 'end user', request.params.id));
  app.patch('/users/:id', async (request: WithId) => {
    const input = parseInput(userInput.omit({ id: true }).partial(), request.body);
    return updated(store.users.update(request.params.id, { ...(input.name !== undefined && { name: input.name }), ...policyPatch(input) }, ACTOR));
  });
  app.delete('/users/:id', async (request: WithId) => deleted(request.params.id, store.users.delete(request.params.id, ACTOR)));
}
