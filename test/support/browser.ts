/**
 * Headless Chromium for the browser suites, through playwright-core driving the system's browser (Debian's
 * `chromium` package; `.ci/run` installs it). Browser builds cannot be downloaded here, so nothing falls back to
 * Playwright's own download: without a browser the suites say so plainly and are skipped.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

const candidates = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
];

/** The browser executable, or undefined when this machine has none. */
export const chromiumPath: string | undefined = candidates.find((p): p is string => !!p && existsSync(p));

/**
 * `describe` when a browser is present; otherwise a skipped block whose name says why, and one line on stderr so
 * the run's output says it plainly.
 */
export function describeBrowser(name: string, body: () => void): void {
  if (chromiumPath) {
    describe(name, body);
    return;
  }
  process.stderr.write(
    `${name}: skipped, no Chromium found (looked for ${candidates.filter(Boolean).join(', ')}; ` +
      'install it with `apt-get install chromium` or set CHROMIUM_PATH)\n',
  );
  describe.skip(`${name} (skipped: no Chromium on this machine)`, body);
}

export async function launchBrowser(): Promise<Browser> {
  if (!chromiumPath) throw new Error('no Chromium on this machine');
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in a container cannot use Chromium's sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Aborts every request to a host that is not loopback, so a page that reaches for a CDN fails visibly in the test.
 * Returns the list of blocked URLs for assertions.
 */
export async function blockExternalRequests(context: BrowserContext): Promise<string[]> {
  const blocked: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || loopback.has(url.hostname)) {
      await route.continue();
      return;
    }
    blocked.push(url.href);
    await route.abort('blockedbyclient');
  });
  return blocked;
}

/** Where screenshots go: test-output/ at the repo root (ignored by git, kept by CI as an artifact if it wants). */
export function screenshotPath(name: string): string {
  const dir = path.resolve(__dirname, '..', '..', 'test-output');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
