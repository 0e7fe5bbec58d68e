import type { Browser, BrowserContext, Page } from 'playwright-core';
import { blockExternalRequests, describeBrowser, launchBrowser, screenshotPath } from '../support/browser';
import { collect, startTestApp, waitFor, type TestApp } from '../support/app';

/**
 * The sandbox console in a real headless Chromium, with every request to another host blocked: a frontend
 * developer creates flows and moves them with buttons, sees the callbacks and the API's answers, and a graphql-ws
 * subscription sees the events.
 */

const EVENTS = `subscription ($provider: SignProvider) { signFlowEvents(provider: $provider) { status providerStatus source flow { id status } } }`;
type EventMsg = { signFlowEvents: { status: string; providerStatus: string; source: string; flow: { id: string; status: string } } };
const AUTO_DEBIT_EVENTS = `subscription { autoDebitEvents { status source autoDebit { id status } } }`;
type AutoDebitMsg = { autoDebitEvents: { status: string; source: string; autoDebit: { id: string; status: string } } };

describeBrowser('sandbox console (headless Chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let blocked: string[];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    app = await startTestApp();
    browser = await launchBrowser();
    context = await browser.newContext();
    blocked = await blockExternalRequests(context);
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await app?.close();
  });

  it('loads with every asset from this server and lists the providers', async () => {
    const loaded: string[] = [];
    page.on('request', (request) => loaded.push(request.url()));
    const response = await page.goto(`${app.url}/sandbox`);
    expect(response!.status()).toBe(200);
    await page.waitForSelector('#status.ok');
    for (const id of ['etc', 'tencent', 'esign', 'yuansfer']) expect(await page.locator(`#${id} h2`).count()).toBe(1);
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.every((url) => url.startsWith(app.url))).toBe(true);
    expect(blocked).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('creates an ETC flow and moves it with buttons; the callback, the API\'s answer and the event appear', async () => {
    const sub = collect<EventMsg>(app.ws(), EVENTS, { provider: 'ETC' });
    await page.click('button[data-create="etc"]');
    const row = page.locator('#etc tbody tr[data-flow]').first();
    await row.waitFor();
    const flowId = (await row.getAttribute('data-flow'))!;
    expect(await row.locator('td.state').getAttribute('data-state')).toBe('SIGNING');

    await row.locator('button[data-to="COMPLETED"]').click();
    // The console shows the flow's new state and the callback the emulator sent, with the API's answer.
    await page.waitForSelector(`#etc tr[data-flow="${flowId}"] td.state[data-state="COMPLETED"]`);
    const callback = page.locator(`#callbacks tr[data-subject="${flowId}"]`);
    await callback.locator('td.state[data-state="acknowledged"]').waitFor({ timeout: 10_000 });
    expect(await callback.locator('td.answer').textContent()).toBe('HTTP 200 {"response_code":"000"}');
    expect(await page.locator('#answer').getAttribute('data-status')).toBe('200');

    // The subscription opened by the test sees the event the callback caused, and so does the store.
    await waitFor(() => sub.items.some((i) => i.signFlowEvents.flow.id === `ETC:${flowId}`), { what: 'the COMPLETED event on the subscription' });
    expect(sub.items.find((i) => i.signFlowEvents.flow.id === `ETC:${flowId}`)!.signFlowEvents).toEqual({
      status: 'COMPLETED',
      providerStatus: '2',
      source: 'CALLBACK',
      flow: { id: `ETC:${flowId}`, status: 'COMPLETED' },
    });
    sub.stop();
    await page.screenshot({ path: screenshotPath('sandbox-console-etc.png'), fullPage: true });
  });

  it('moves Tencent and e签宝 flows and a Yuansfer authorization through their lifecycles', async () => {
    const autoDebits = collect<AutoDebitMsg>(app.ws(), AUTO_DEBIT_EVENTS);
    for (const provider of ['tencent', 'esign'] as const) {
      await page.click(`button[data-create="${provider}"]`);
      const row = page.locator(`#${provider} tbody tr[data-flow]`).first();
      await row.waitFor();
      const flowId = (await row.getAttribute('data-flow'))!;
      await row.locator('button[data-to="REJECTED"]').click();
      await page.locator(`#callbacks tr[data-subject="${flowId}"] td.state[data-state="acknowledged"]`).waitFor({ timeout: 10_000 });
      const stored = `${provider === 'tencent' ? 'TENCENT_ESS' : 'ESIGN'}:${flowId}`;
      await waitFor(async () => (await app.services.store.flows.get(stored))?.status === 'REJECTED', { what: `${provider}'s REJECTED stored` });
    }

    await page.click('button[data-create="yuansfer"]');
    const authorization = page.locator('#yuansfer tbody tr[data-flow]').first();
    await authorization.waitFor();
    const autoDebitNo = (await authorization.getAttribute('data-flow'))!;
    await authorization.locator('button[data-action="revoke"]').click();
    await page.waitForSelector(`#yuansfer tr[data-flow="${autoDebitNo}"] td.state[data-state="REVOKED"]`);
    await waitFor(() => autoDebits.items.some((i) => i.autoDebitEvents.autoDebit.id === `YUANSFER:${autoDebitNo}` && i.autoDebitEvents.status === 'REVOKED'), {
      what: 'the REVOKED auto-debit event',
    });
    autoDebits.stop();
    await page.screenshot({ path: screenshotPath('sandbox-console-all.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(blocked).toEqual([]);
  });
});

describeBrowser('sandbox console with SANDBOX_ADMIN_TOKEN (headless Chromium)', () => {
  const token = 'console-browser-token-5b7e';
  let app: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    app = await startTestApp({ env: { SANDBOX_ADMIN_TOKEN: token } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('says the admin API refused until the token is typed in, then works', async () => {
    const context = await browser.newContext();
    await blockExternalRequests(context);
    const page = await context.newPage();
    await page.goto(`${app.url}/sandbox`);
    await page.waitForSelector('#status.bad');
    expect(await page.locator('#status').textContent()).toContain('HTTP 401');
    await page.fill('#token', token);
    await page.dispatchEvent('#token', 'change');
    await page.waitForSelector('#status.ok');
    await page.click('button[data-create="etc"]');
    await page.locator('#etc tbody tr[data-flow]').first().waitFor();
    await context.close();
  });
});
