import { startTestApp, type TestApp } from '../support/app';

describe('provider errors in production (NODE_ENV=production)', () => {
  let production: TestApp;
  let development: TestApp;
  beforeAll(async () => {
    [production, development] = await Promise.all([startTestApp({ env: { NODE_ENV: 'production', SANDBOX: 'on' } }), startTestApp()]);
  });
  afterAll(() => Promise.all([production.close(), development.close()]));

  it('answers a stable message per code instead of the provider\'s text, keeping code, provider and providerCode', async () => {
    const answers = [];
    for (const app of [production, development]) {
      const { flowId } = await app.admin<{ flowId: string }>('/etc/flows', {});
      await app.admin('/faults', { provider: 'etc', kind: 'error', code: '500', message: 'node 10.2.3.4 overloaded, see ops ticket 8812', match: 'esign.signflows.query' });
      answers.push(await app.gql(`{ signFlow(id: "ETC:${flowId}") { status } }`));
    }
    const [prod, dev] = answers;
    expect(prod!.errors?.[0]).toMatchObject({ message: 'ETC failed to process the request (PROVIDER_ERROR)', extensions: { code: 'PROVIDER_ERROR', provider: 'ETC', providerCode: '500' } });
    expect(JSON.stringify(prod)).not.toMatch(/overloaded|10\.2\.3\.4|8812/);
    // Outside production the provider's message helps whoever is developing against the sandbox.
    expect(dev!.errors?.[0]?.message).toMatch(/overloaded/);
    expect(dev!.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_ERROR', provider: 'ETC', providerCode: '500' });
  });
});
