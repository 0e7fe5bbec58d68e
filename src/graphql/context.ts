import type { Caller } from '../auth/caller';
import type { PartyClaimNames } from '../auth/config';
import type { EventFeed } from '../events/feed';
import type { AutoDebitLoader, AutoDebitService } from '../lifecycle/autodebit';
import type { CancelItemsLoader, CancelService, CancelTaskLoader } from '../lifecycle/cancel';
import type { FlowLoader, FlowService, StoredFlowLoader } from '../lifecycle/flows';
import type { RescissionLoader, RescissionsByFlowLoader, RescissionService } from '../lifecycle/rescission';
import type { LimitsConfig } from '../config';
import type { Logger } from '../logger';
import type { Store } from '../store/types';
import { createFlowEventsLoader, type FlowEventsLoader } from './signflow/events-loader';

/** Parties the deployment itself acts as when a token names none (from the provider configuration). */
export interface DefaultParties {
  tencentAgent?: { proxyOrganizationOpenId: string; proxyOperatorOpenId: string };
  yuansfer?: { merchantNo: string; storeNo: string };
}

/** Long-lived services, created once per process and shared by every request. */
export interface Services {
  store: Store;
  feed: EventFeed;
  flows: FlowService;
  autoDebits: AutoDebitService;
  cancels: CancelService;
  rescissions: RescissionService;
  logger: Logger;
  /** Claim names of the acting parties (docs/security.md). */
  partyClaims: PartyClaimNames;
  defaultParties: DefaultParties;
  /** Per-operation bounds (docs/security.md, "Cost limits and rate limits"). */
  limits: Pick<LimitsConfig, 'providerReadsPerOperation'>;
}

/** Per-operation state: the caller and the loaders, never in module scope, so nothing is shared across callers. */
export interface Context {
  services: Services;
  /** Who is calling, verified at the edge of the transport (src/auth/authenticator.ts). */
  caller: Caller;
  loaders: {
    flows: FlowLoader;
    storedFlows: StoredFlowLoader;
    autoDebits: AutoDebitLoader;
    cancelTasks: CancelTaskLoader;
    cancelItems: CancelItemsLoader;
    rescissions: RescissionLoader;
    rescissionsByFlow: RescissionsByFlowLoader;
    flowEvents: FlowEventsLoader;
  };
}

/** Every loader sees only what the caller may see: another tenant's record loads as null (absent). */
export function createContext(services: Services, caller: Caller): Context {
  return {
    services,
    caller,
    loaders: {
      flows: services.flows.createLoader(caller, services.limits.providerReadsPerOperation),
      storedFlows: services.flows.createStoredLoader(caller),
      autoDebits: services.autoDebits.createLoader(caller),
      cancelTasks: services.cancels.createLoader(caller),
      cancelItems: services.cancels.createItemsLoader(),
      rescissions: services.rescissions.createLoader(caller),
      rescissionsByFlow: services.rescissions.createByFlowLoader(caller),
      flowEvents: createFlowEventsLoader(services.store),
    },
  };
}
