/**
 * The model registry: a request's `model` → the group of targets that can serve it. A name is a
 * configured group, or `<provider-id>/<upstream-model>` to address one provider directly.
 */
import type { Config } from '../config/schema.js';
import type { Provider } from '../providers/registry.js';

export interface Target {
  providerId: string;
  provider: Provider;
  /** The model name sent upstream. */
  model: string;
}

export interface ModelGroup {
  name: string;
  targets: Target[];
  /** Whether this group was configured (false: direct `<provider>/<model>` addressing). */
  configured: boolean;
}

export class ModelRegistry {
  readonly #groups = new Map<string, ModelGroup>();
  readonly #providers: Map<string, Provider>;
  /** Direct-addressing groups are built on first use and kept (bounded: see `resolve`). */
  readonly #direct = new Map<string, ModelGroup>();

  constructor(config: Config, providers: Map<string, Provider>) {
    this.#providers = providers;
    for (const [name, group] of Object.entries(config.models)) {
      const targets = group.targets.map((t) => ({ providerId: t.provider, provider: providers.get(t.provider)!, model: t.model }));
      this.#groups.set(name, { name, targets, configured: true });
    }
  }

  /** The group for a model name, or undefined if nothing serves it. */
  resolve(model: string): ModelGroup | undefined {
    const group = this.#groups.get(model) ?? this.#direct.get(model);
    if (group) return group;
    const slash = model.indexOf('/');
    if (slash <= 0 || slash === model.length - 1) return undefined;
    const providerId = model.slice(0, slash);
    const provider = this.#providers.get(providerId);
    if (!provider) return undefined;
    const direct: ModelGroup = { name: model, targets: [{ providerId, provider, model: model.slice(slash + 1) }], configured: false };
    // Client-chosen names: keep the memo bounded so arbitrary names cannot grow memory.
    if (this.#direct.size >= 1000) this.#direct.clear();
    this.#direct.set(model, direct);
    return direct;
  }

  /** Configured group names, in config order (what `GET /v1/models` lists). */
  groupNames(): string[] {
    return [...this.#groups.keys()];
  }

  providerIds(): string[] {
    return [...this.#providers.keys()];
  }
}
