/**
 * POST /admin/config/reload: what SIGHUP does, for a sidecar or a script that cannot send the
 * process a signal. 200 with what is served now; 422 when the file cannot be applied (each
 * problem listed, the configuration in force kept); 409 on the embedded default (no file).
 */
import type { FastifyInstance } from 'fastify';
import type { ReloadOutcome } from '../../../config/reload-scope.js';
import { GatewayError } from '../../../gateway/errors.js';

/** `reload` absent: the gateway runs on the embedded default. */
export function configRoutes(app: FastifyInstance, reload: (() => Promise<ReloadOutcome>) | undefined): void {
  app.post('/config/reload', { config: { bodyOptional: true } }, async () => {
    if (!reload) throw new GatewayError('conflict', 'The gateway runs on the embedded default: there is no configuration file to reload. Start it with --config FILE.');
    const outcome = await reload();
    if (!outcome.applied) {
      throw new GatewayError('config_invalid', `The configuration file was not applied; the configuration in force is kept. ${outcome.problems.join('; ')}`);
    }
    return { reloaded: true, models: outcome.models, providers: outcome.providers, restart_required: outcome.unchanged };
  });
}
