import DataLoader from 'dataloader';
import type { StoredEvent, Store } from '../../store/types';

/** One page of one flow's events: `first + 1` rows are read so the page knows whether another follows. */
export interface FlowEventsKey {
  flowId: string;
  after: number;
  /** Rows to read (page size + 1). */
  limit: number;
}

export type FlowEventsLoader = DataLoader<FlowEventsKey, StoredEvent[], string>;

/**
 * `SignFlow.events` for every flow of an operation (`signFlows { edges { node { events } } }`, a cancel task's
 * items, `_entities`) in one store query per distinct page (`after`, `first`), not one per flow.
 */
export function createFlowEventsLoader(store: Pick<Store, 'events'>): FlowEventsLoader {
  return new DataLoader<FlowEventsKey, StoredEvent[], string>(
    async (keys) => {
      const pages = new Map<string, { after: number; limit: number; flowIds: string[] }>();
      for (const key of keys) {
        const id = `${key.after}:${key.limit}`;
        const page = pages.get(id) ?? { after: key.after, limit: key.limit, flowIds: [] };
        page.flowIds.push(key.flowId);
        pages.set(id, page);
      }
      const results = new Map<string, Map<string, StoredEvent[]>>();
      await Promise.all(
        [...pages].map(async ([id, page]) => results.set(id, await store.events.listForSubjects('signflow', page.flowIds, { after: page.after, limit: page.limit }))),
      );
      return keys.map((key) => results.get(`${key.after}:${key.limit}`)?.get(key.flowId) ?? []);
    },
    { cacheKeyFn: (key) => `${key.after}:${key.limit}:${key.flowId}`, maxBatchSize: 20_000 },
  );
}
