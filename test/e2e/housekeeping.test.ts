import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { openStore } from '../../src/store';
import { startTestApp, waitFor } from '../support/app';

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

describe('housekeeping at start-up', () => {
  it('deletes callback receipts older than RECEIPT_RETENTION_DAYS and keeps the rest', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-housekeeping-'));
    const before = await openStore({ dataDir: dir });
    for (const [key, age] of [['forty-days', 40], ['ten-days', 10], ['today', 0]] as const) {
      await before.receipts.insert({ provider: 'ETC', dedupeKey: key, body: '{}' });
      await before.db.updateTable('callback_receipts').set({ received_at: daysAgo(age) }).where('dedupe_key', '=', key).execute();
    }
    await before.close();

    const app = await startTestApp({ env: { DATA_DIR: dir, RECEIPT_RETENTION_DAYS: '14' } });
    try {
      await waitFor(async () => (await app.services.store.receipts.count()) === 2, { what: 'the 40-day-old receipt to be purged' });
    } finally {
      await app.close();
    }
    const after = await openStore({ dataDir: dir });
    try {
      const left = await after.db.selectFrom('callback_receipts').select('dedupe_key').orderBy('dedupe_key').execute();
      expect(left.map((r) => r.dedupe_key)).toEqual(['ten-days', 'today']);
    } finally {
      await after.close();
    }
  });

  it('refuses a retention shorter than the providers’ retry windows, naming the variable', () => {
    expect(loadConfig({}).receiptRetentionDays).toBe(30);
    expect(() => loadConfig({ RECEIPT_RETENTION_DAYS: '1' })).toThrow(ConfigError);
    expect(() => loadConfig({ RECEIPT_RETENTION_DAYS: '1' })).toThrow(/^RECEIPT_RETENTION_DAYS: /);
  });
});
