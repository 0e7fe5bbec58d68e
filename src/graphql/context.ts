import type { EventFeed } from '../events/feed';
import type { AutoDebitLoader, AutoDebitService } from '../lifecycle/autodebit';
import type { CancelItemsLoader, CancelService, CancelTaskLoader } from '../lifecycle/cancel';
import type { FlowLoader, FlowService, StoredFlowLoader } from '../lifecycle/flows';
import type { RescissionLoader, RescissionsByFlowLoader, RescissionService } from '../lifecycle/rescission';
import type { Logger } from '../logger';
import type { Store } from '../store/types';

/** Long-lived services, created once per process and shared by every request. */
export interface Services {
  store: Store;
  feed: EventFeed;
  flows: FlowService;
  autoDebits: AutoDebitService;
  cancels: CancelService;
  rescissions: RescissionService;
  logger: Logger;
}

/** Per-operation state: loaders live here, never in module scope, so nothing is cached across requests. */
export interface Context {
  services: Services;
  loaders: {
    flows: FlowLoader;
    storedFlows: StoredFlowLoader;
    autoDebits: AutoDebitLoader;
    cancelTasks: CancelTaskLoader;
    cancelItems: CancelItemsLoader;
    rescissions: RescissionLoader;
    rescissionsByFlow: RescissionsByFlowLoader;
  };
}

export function createContext(services: Services): Context {
  return {
    services,
    loaders: {
      flows: services.flows.createLoader(),
      storedFlows: services.flows.createStoredLoader(),
      autoDebits: services.autoDebits.createLoader(),
      cancelTasks: services.cancels.createLoader(),
      cancelItems: services.cancels.createItemsLoader(),
      rescissions: services.rescissions.createLoader(),
      rescissionsByFlow: services.rescissions.createByFlowLoader(),
    },
  };
}
