/**
 * The admin API under /admin (master key only; JSON in and out, OpenAI's error shape; storage's not-found and conflict errors become 404 and 409 in the app's error handler): orgs,
 * teams, keys and end users, spend reports, the audit log and request logs, configuration reloads, and its OpenAPI
 * document. Every change reloads this instance's directory at once (others pick it up on their
 * next poll).
 */
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../../gateway/errors.js';
import type { Directory } from '../../../governance/directory.js';
import type { Authenticator } from '../../../governance/principal.js';
import type { GovernanceStore } from '../../../storage/governance-store.js';
import type { ReloadOutcome } from '../../../config/reload-scope.js';
import { configRoutes } from './config.js';
import { entityRoutes } from './entities.js';
import { keyRoutes } from './keys.js';
import { openApiDocument } from './openapi.js';
import { reportRoutes } from './reports.js';

export interface AdminRoutesOptions {
  store: GovernanceStore;
  directory: Directory;
  authenticator: Authenticator;
  /** governance.rotation_grace, in seconds. */
  rotationGraceSeconds: number;
  /** Reloads the configuration file (POST /admin/config/reload); absent: no file to reload. */
  reload?: () => Promise<ReloadOutcome>;
}

export async function adminRoutes(app: FastifyInstance, options: AdminRoutesOptions): Promise<void> {
  const { authenticator } = options;
  app.addHook('onRequest', (request, _reply, done) => {
    if (!authenticator.hasMasterKey) {
      done(new GatewayError('invalid_api_key', 'The admin API needs a master key: set auth.master_key in the config, then send it as "Authorization: Bearer <master key>".'));
    } else if (!authenticator.isMaster(request.headers)) {
      done(new GatewayError('invalid_api_key', 'The admin API takes the master key only. Send it as "Authorization: Bearer <master key>".'));
    } else {
      done();
    }
  });

  const changed = (): Promise<void> => options.directory.refresh();
  entityRoutes(app, options.store, changed);
  keyRoutes(app, options, changed);
  reportRoutes(app, options.store);
  configRoutes(app, options.reload);
  app.get('/openapi.json', async () => openApiDocument());
}
