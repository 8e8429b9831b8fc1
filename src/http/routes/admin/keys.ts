/**
 * /admin/keys: virtual keys. The secret is returned once, at creation or rotation; only its hash
 * is stored. DELETE revokes (the record stays, for spend attribution and the audit log); a
 * rotation keeps the old secret valid for a grace period.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../../gateway/errors.js';
import { newId, newSecret } from '../../../governance/keys.js';
import { ACTOR } from './entities.js';
import type { AdminRoutesOptions } from './index.js';
import { keyInput, parseInput, policyOf, policyPatch, present, rotateInput } from './schemas.js';

type WithId = FastifyRequest<{ Params: { id: string } }>;

export function keyRoutes(app: FastifyInstance, { store, rotationGraceSeconds }: AdminRoutesOptions, changed: () => Promise<void>): void {
  const checkTeam = async (teamId: string | null | undefined): Promise<void> => {
    if (teamId && !(await store.teams.get(teamId))) throw new GatewayError('invalid_request', `team_id: no team with id "${teamId}".`, { param: 'team_id' });
  };
  const existing = async (id: string) => {
    const key = await store.keys.get(id);
    if (!key) throw new GatewayError('not_found', `No key with id "${id}".`);
    return key;
  };

  app.post('/keys', async (request, reply) => {
    const input = parseInput(keyInput, request.body);
    await checkTeam(input.team_id);
    const secret = newSecret();
    const now = Date.now();
    const key = await store.keys.create(
      {
        id: newId('key'),
        name: input.name,
        team_id: input.team_id ?? null,
        key_hash: secret.hash,
        key_hint: secret.hint,
        previous_hash: null,
        previous_expires_at: null,
        revoked_at: null,
        ...policyOf(input),
        created_at: now,
        updated_at: now,
      },
      ACTOR,
    );
    await changed();
    reply.code(201);
    return { ...present(key), key: secret.secret };
  });

  app.get('/keys', async (request: FastifyRequest<{ Querystring: { team_id?: string; include_revoked?: string } }>) => {
    const { team_id: teamId, include_revoked: includeRevoked } = request.query;
    if (includeRevoked !== undefined && includeRevoked !== 'true' && includeRevoked !== 'false') {
      throw new GatewayError('invalid_request', `include_revoked: expected true or false, got ${JSON.stringify(includeRevoked)}.`, { param: 'include_revoked' });
    }
    const keys = (await store.keys.list()).filter((key) => (teamId === undefined || key.team_id === teamId) && (includeRevoked === 'true' || key.revoked_at === null));
    return { object: 'list', data: keys.map(present) };
  });

  app.get('/keys/:id', async (request: WithId) => present(await existing(request.params.id)));

  app.patch('/keys/:id', async (request: WithId) => {
    const input = parseInput(keyInput.partial(), request.body);
    await checkTeam(input.team_id);
    const patch = { ...(input.name !== undefined && { name: input.name }), ...(input.team_id !== undefined && { team_id: input.team_id }), ...policyPatch(input) };
    const key = await store.keys.update(request.params.id, patch, ACTOR);
    await changed();
    return present(key);
  });

  app.delete('/keys/:id', async (request: WithId) => {
    const key = await existing(request.params.id);
    if (key.revoked_at === null) await store.keys.update(key.id, { revoked_at: Date.now(), previous_hash: null, previous_expires_at: null }, ACTOR, 'key.revoke');
    await changed();
    return { id: key.id, revoked: true };
  });

  app.post('/keys/:id/rotate', { config: { bodyOptional: true } }, async (request: WithId) => {
    const input = parseInput(rotateInput, request.body);
    const key = await existing(request.params.id);
    if (key.revoked_at !== null) throw new GatewayError('conflict', `The key "${key.name}" is revoked; create a new one instead.`);
    const grace = input.grace_seconds ?? rotationGraceSeconds;
    const secret = newSecret();
    const rotated = await store.keys.update(
      key.id,
      { key_hash: secret.hash, key_hint: secret.hint, previous_hash: grace > 0 ? key.key_hash : null, previous_expires_at: grace > 0 ? Date.now() + grace * 1000 : null },
      ACTOR,
      'key.rotate',
      // Two rotations at once: the first wins; the other would hand out a secret the first one's
      // write had already replaced, so it is refused instead.
      (current) => {
        if (current.key_hash !== key.key_hash) throw new GatewayError('conflict', `The key "${key.name}" was rotated by another request at the same time; that request got its new secret. Rotate again if you need another.`);
      },
    );
    await changed();
    return { ...present(rotated), key: secret.secret };
  });
}
