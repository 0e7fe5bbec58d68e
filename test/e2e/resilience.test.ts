import { startTestApp, type TestApp } from '../support/app';

const MEMBER = '40eb61714d9e49088bac7a3c56d69d66';

async function requests(app: TestApp, apiCode: string): Promise<number> {
  const log = await app.admin<{ requests: Array<{ operation?: string }> }>('/etc/requests');
  return log.requests.filter((r) => r.operation === apiCode).length;
}
const clearFaults = (app: TestApp) => fetch(`${app.url}/sandbox/_admin/faults`, { method: 'DELETE' });

describe('outbound resilience against the emulator fault injection', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { ETC_MAX_RETRIES: '2', ETC_BREAKER_THRESHOLD: '3', ETC_BREAKER_RESET_MS: '60000', ETC_TIMEOUT_MS: '3000' } });
  });
  afterAll(() => app.close());
  afterEach(() => clearFaults(app));

  it('retries a failed read (safe to repeat) and succeeds', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '500', count: 2, match: 'esign.signflows.query' });
    const r = await app.gql<{ signFlow: { status: string } }>(`{ signFlow(id: "ETC:${flowId}") { status } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data!.signFlow.status).toBe('SIGNING');
    expect(await requests(app, 'esign.signflows.query')).toBe(3);
  });

  it('does not repeat a revoke that may have happened (a 500 answer), and says so with a typed error', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.gql(`{ signFlow(id: "ETC:${flowId}") { status } }`);
    const before = await requests(app, 'esign.signflows.revoke');
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '500', count: 1, match: 'esign.signflows.revoke' });
    const r = await app.gql(`mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}" }) { userErrors { code } } }`);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_ERROR', provider: 'ETC', providerCode: '500' });
    expect(await requests(app, 'esign.signflows.revoke')).toBe(before + 1);
  });

  it('repeats a revoke refused for a reused nonce: the gateway certainly did not act', async () => {
    const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
    await app.gql(`{ signFlow(id: "ETC:${flowId}") { status } }`);
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '403002', count: 1, match: 'esign.signflows.revoke' });
    const r = await app.gql<{ revokeSignFlow: { signFlow: { status: string } } }>(
      `mutation { revokeSignFlow(input: { id: "ETC:${flowId}", etcMemberNo: "${MEMBER}" }) { signFlow { status } userErrors { code } } }`,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.revokeSignFlow.signFlow.status).toBe('REVOKED');
  });

  it('opens the circuit after repeated failures and then answers PROVIDER_UNAVAILABLE without calling', async () => {
    await app.admin('/faults', { provider: 'etc', kind: 'error', code: '500' });
    for (let i = 0; i < 3; i++) {
      const r = await app.gql(`{ signFlow(id: "ETC:ffffffffffffffffffffffffffff000${i}") { status } }`);
      expect(r.errors?.[0].extensions?.code).toBe('PROVIDER_ERROR');
    }
    const calls = await requests(app, 'esign.signflows.query');
    const started = Date.now();
    const r = await app.gql(`{ signFlow(id: "ETC:ffffffffffffffffffffffffffff0009") { status } }`);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'ETC' });
    expect(r.errors?.[0].message).toMatch(/last 3 calls failed/);
    expect(Date.now() - started).toBeLessThan(500);
    expect(await requests(app, 'esign.signflows.query')).toBe(calls);
  });
});
