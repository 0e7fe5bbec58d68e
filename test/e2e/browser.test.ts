import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { blockExternalRequests, describeBrowser, launchBrowser, screenshotPath } from '../support/browser';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { hs256, TEST_JWT_SECRET } from '../support/tokens';

/**
 * The IDE and a browser app on another origin, in headless Chromium with every request to a non-loopback host
 * aborted: what a frontend developer does first, offline.
 */

/** A second web server on its own port: another origin, serving one page. */
async function pageServer(html: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const FLOW = 'c64665aa4f1c45679e65b6fae33cd773';
const MOVED = '1b2c3d4e5f60718293a4b5c6d7e8f901';

describeBrowser('browser: GraphiQL and CORS', () => {
  let browser: Browser;
  let app: TestApp;
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let other: Awaited<ReturnType<typeof pageServer>>;

  beforeAll(async () => {
    const page = '<!doctype html><html><head><title>another origin</title></head><body>app</body></html>';
    allowed = await pageServer(page);
    other = await pageServer(page);
    app = await startTestApp({ env: { CORS_ORIGINS: allowed.origin } });
    app.sandbox!.etc.createFlow({ flowId: FLOW, status: 'SIGNING' });
    app.sandbox!.etc.createFlow({ flowId: MOVED, status: 'SIGNING' });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await allowed?.close();
    await other?.close();
  });

  async function offlineContext(): Promise<{ context: BrowserContext; blocked: string[]; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const blocked = await blockExternalRequests(context);
    const problems: string[] = [];
    context.on('console', (message) => {
      // The page's own CSP reports any load from elsewhere as a console error.
      if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    context.on('weberror', (error) => problems.push(String(error.error())));
    return { context, blocked, problems };
  }

  /** The text GraphiQL shows in its response pane. */
  const responseText = (page: Page) => page.locator('.graphiql-response').innerText();

  /**
   * Runs the open tab's subscription until the server's feed has a subscriber. On a loaded machine a click can land
   * before the tab's editor (or its saved headers) is ready: click again only while nothing runs, since the same
   * button stops a running subscription.
   */
  async function startSubscription(page: Page, subscribers: () => number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await page.locator('.graphiql-execute-button').click();
      try {
        await waitFor(() => subscribers() > 0, { timeoutMs: 10_000, what: "GraphiQL's subscription" });
        return;
      } catch (error) {
        if (attempt === 3) throw new Error(`${(error as Error).message}; the response pane shows: ${await responseText(page)}`);
      }
    }
  }

  test('GraphiQL loads with nothing from the internet, runs a query, and a subscription sees a sandbox transition', async () => {
    const { context, blocked, problems } = await offlineContext();
    const page = await context.newPage();
    const loaded: string[] = [];
    page.on('requestfinished', (request) => loaded.push(request.url()));

    await page.goto(app.graphqlUrl);
    await page.locator('.graphiql-container').first().waitFor({ timeout: 30_000 });
    // The default tabs: a read, a revoke and a subscription of this API.
    const tabs = page.locator('.graphiql-tab');
    await waitFor(async () => (await tabs.count()) === 3, { timeoutMs: 20_000, what: 'the three default tabs' });
    expect(await tabs.allInnerTexts()).toEqual([expect.stringContaining('ReadFlow'), expect.stringContaining('Revoke'), expect.stringContaining('Events')]);

    // The schema arrives by introspection; then the read runs over HTTP.
    await page.locator('.graphiql-execute-button').click();
    await waitFor(async () => (await responseText(page)).includes('SIGNING'), { timeoutMs: 20_000, what: 'the query result' });
    expect(await responseText(page)).toContain(`ETC:${FLOW}`);

    // The docs explorer knows the API's types.
    await page.locator('[aria-label="Show Documentation Explorer"]').click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Subscription', { exact: true }).first().click({ timeout: 20_000 });
    await docs.getByText('signFlowEvents').first().waitFor({ timeout: 20_000 });

    // The subscription tab: its WebSocket stays open and the next event arrives in the response pane.
    await tabs.nth(2).click();
    await waitFor(async () => (await page.locator('.graphiql-query-editor').innerText()).includes('signFlowEvents'), { what: 'the subscription tab' });
    // The socket is open once the feed has a subscriber; then move the flow in the emulator, which calls back.
    await startSubscription(page, () => app.services.feed.subscriberCount);
    const moved = await fetch(`${app.url}/sandbox/_admin/etc/flows/${MOVED}/transition`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'COMPLETED' }),
    });
    expect(moved.status).toBe(200);
    await waitFor(async () => (await responseText(page)).includes(`ETC:${MOVED}`), { timeoutMs: 20_000, what: 'the event in the response pane' });
    expect(await responseText(page)).toContain('COMPLETED');
    await page.screenshot({ path: screenshotPath('graphiql-subscription.png') });

    // Every request went to this server; nothing was blocked or refused by the page's policy.
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    expect(loaded.length).toBeGreaterThan(3);
    for (const url of loaded) expect(new URL(url).origin === app.url || url.startsWith('blob:') || url.startsWith('data:')).toBe(true);
    await context.close();
  }, 120_000);

  test('with authentication on, the token typed in the headers editor is sent with queries and in the WebSocket connection_init', async () => {
    const secured = await startTestApp({ env: { AUTH_JWT_SECRET: TEST_JWT_SECRET } });
    try {
      secured.sandbox!.etc.createFlow({ flowId: FLOW, status: 'SIGNING' });
      secured.sandbox!.etc.createFlow({ flowId: MOVED, status: 'SIGNING' });
      const token = await hs256({ sub: 'frontend-dev', issuer: null, audience: null });
      const { context, blocked, problems } = await offlineContext();
      const page = await context.newPage();
      await page.goto(secured.graphqlUrl);
      const tabs = page.locator('.graphiql-tab');
      await waitFor(async () => (await tabs.count()) === 3, { timeoutMs: 30_000, what: 'the IDE' });

      // Without a token: the read answers UNAUTHENTICATED.
      await page.locator('.graphiql-execute-button').click();
      await waitFor(async () => (await responseText(page)).includes('UNAUTHENTICATED'), { timeoutMs: 20_000, what: 'the refusal' });

      // The token goes into the headers editor, as a developer would paste it.
      await page.getByText('Headers', { exact: true }).click();
      const headers = page.locator('.graphiql-editor-tool .graphiql-editor').last();
      await headers.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
      await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
      await page.locator('.graphiql-execute-button').click();
      await waitFor(async () => (await responseText(page)).includes(`ETC:${FLOW}`), { timeoutMs: 20_000, what: 'the authenticated read' });

      // The subscription tab: same token, now in connection_init (a socket without one is closed with 4401).
      await tabs.nth(2).click();
      await page.getByText('Headers', { exact: true }).click();
      await page.locator('.graphiql-editor-tool .graphiql-editor').last().click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('Delete');
      await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
      await startSubscription(page, () => secured.services.feed.subscriberCount);
      await secured.admin(`/etc/flows/${MOVED}/transition`, { status: 'COMPLETED' });
      await waitFor(async () => (await responseText(page)).includes(`ETC:${MOVED}`), { timeoutMs: 20_000, what: 'the event' });
      await page.screenshot({ path: screenshotPath('graphiql-authenticated.png') });
      expect(blocked).toEqual([]);
      expect(problems).toEqual([]);
      await context.close();
    } finally {
      await secured.close();
    }
  }, 120_000);

  test('a page on an allowed origin calls the API through CORS; a page on another origin cannot read it', async () => {
    const { context, blocked } = await offlineContext();
    const page = await context.newPage();
    const call = (origin: string) =>
      page.goto(origin).then(() =>
        page.evaluate(async (graphqlUrl) => {
          try {
            // A JSON POST with a bearer header: the browser sends a preflight first.
            const res = await fetch(graphqlUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: 'Bearer not-checked-in-sandbox-mode' },
              body: JSON.stringify({ query: '{ signFlow(id: "ETC:c64665aa4f1c45679e65b6fae33cd773") { id status } }' }),
            });
            return { ok: true, status: res.status, body: await res.json() };
          } catch (error) {
            return { ok: false, error: String(error) };
          }
        }, app.graphqlUrl),
      );

    const fromAllowed = await call(allowed.origin);
    expect(fromAllowed).toEqual({ ok: true, status: 200, body: { data: { signFlow: { id: `ETC:${FLOW}`, status: 'SIGNING' } } } });

    const fromOther = await call(other.origin);
    expect(fromOther.ok).toBe(false);
    expect(fromOther.error).toMatch(/Failed to fetch/);
    expect(blocked).toEqual([]);
    await context.close();
  }, 60_000);
});
