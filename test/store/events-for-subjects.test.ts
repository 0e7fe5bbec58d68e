import type { SqlStore } from '../../src/store';
import { reportSkippedPostgres, storeFactories } from '../support/stores';

reportSkippedPostgres('events per subject');

describe.each(storeFactories().map((f) => [f.name, f] as const))('events of many subjects in one query (%s)', (_name, factory) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await factory.open();
  });
  afterEach(async () => {
    await store.close();
  });
  afterAll(() => factory.cleanup());

  async function seed(flows: number, eventsEach: number): Promise<void> {
    await store.flows.saveMany(Array.from({ length: flows }, (_, i) => ({ id: `ETC:f${i}`, provider: 'ETC' as const, providerFlowId: `f${i}`, status: 'SIGNING' as const })));
    await store.transaction(async (tx) => {
      await tx.events.appendMany(
        Array.from({ length: eventsEach }, (_, round) =>
          Array.from({ length: flows }, (_, i) => ({
            kind: 'signflow' as const,
            subjectId: `ETC:f${i}`,
            provider: 'ETC',
            status: round === eventsEach - 1 ? 'COMPLETED' : 'SIGNING',
            providerStatus: String(round),
            source: 'CALLBACK' as const,
            occurredAt: null,
            data: null,
          })),
        ).flat(),
      );
    });
  }

  it('gives each subject its own first page, oldest first, after the cursor', async () => {
    await seed(5, 4);
    // Another kind's events with the same subject id are not the flow's.
    await store.transaction((tx) => tx.events.append({ kind: 'canceltask', subjectId: 'ETC:f0', provider: 'ETC', status: 'X', providerStatus: null, source: 'MUTATION', occurredAt: null, data: null }));
    const all = await store.events.listForSubjects('signflow', ['ETC:f0', 'ETC:f3', 'ETC:none', 'ETC:f0'], { after: 0, limit: 3 });
    expect([...all.keys()].sort()).toEqual(['ETC:f0', 'ETC:f3']);
    for (const [subject, events] of all) {
      expect(events.map((e) => e.providerStatus)).toEqual(['0', '1', '2']);
      expect(events.every((e) => e.subjectId === subject && e.kind === 'signflow')).toBe(true);
      expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
    }
    const cursor = all.get('ETC:f0')![1]!.id;
    const next = await store.events.listForSubjects('signflow', ['ETC:f0'], { after: cursor, limit: 10 });
    expect(next.get('ETC:f0')!.map((e) => e.providerStatus)).toEqual(['2', '3']);
  });

  it('answers 2,500 subjects (more than one SQLite parameter list) with every page bounded', async () => {
    await seed(2_500, 3);
    const ids = Array.from({ length: 2_500 }, (_, i) => `ETC:f${i}`);
    const pages = await store.events.listForSubjects('signflow', ids, { after: 0, limit: 2 });
    expect(pages.size).toBe(2_500);
    expect([...pages.values()].every((events) => events.length === 2)).toBe(true);
  });
});
