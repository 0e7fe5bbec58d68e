import type { SignProvider } from '../domain/model';
import { ProviderNotConfiguredError } from './errors';
import type { SignFlowProvider } from './types';

/** The configured sign-flow providers. A provider missing here answers PROVIDER_NOT_CONFIGURED. */
export class ProviderRegistry {
  private readonly providers = new Map<SignProvider, SignFlowProvider>();

  register(provider: SignFlowProvider): this {
    this.providers.set(provider.provider, provider);
    return this;
  }

  /** Throws ProviderNotConfiguredError when the provider has no configuration on this server. */
  get(provider: SignProvider): SignFlowProvider {
    const found = this.providers.get(provider);
    if (!found) throw new ProviderNotConfiguredError(provider);
    return found;
  }

  has(provider: SignProvider): boolean {
    return this.providers.has(provider);
  }

  close(): void {
    for (const p of this.providers.values()) p.close?.();
  }
}
