import { Writable } from 'node:stream';
import { ETC_SANDBOX_PRIVATE_KEY } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startTestApp, waitFor, type TestApp } from '../support/app';

const SECRET = 'cb-secret-7f3a9d';

describe('secrets never reach logs or responses', () => {
  let app: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    app = await startTestApp({ env: { ETC_CALLBACK_SECRET: SECRET }, logger: createLogger({ level: 'trace', destination }) });
  });
  afterAll(() => app.close());

  it('logs requests, callbacks and failures without the callback secret, the private key or signatures', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.gql(`mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "m1" }) { userErrors { code } } }`);
    await waitFor(async () => (await app.services.store.receipts.count('ETC')) === 1, { what: 'the revoke callback' });
    await fetch(`${app.url}/callbacks/etc?token=wrong-${SECRET}`, { method: 'POST', body: '{}' });
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '401001' });
    const failed = await app.gql(`{ signFlow(id: "ETC:abcdefabcdefabcdefabcdefabcdef12") { status } }`);
    expect(JSON.stringify(failed)).not.toContain(SECRET);

    const log = lines.join('');
    expect(log.length).toBeGreaterThan(0);
    expect(log).toContain('ETC callback stored');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(ETC_SANDBOX_PRIVATE_KEY.slice(40, 80));
    expect(log).not.toMatch(/"sign":"[A-Za-z0-9+/=]{100,}"/);
  });
});
