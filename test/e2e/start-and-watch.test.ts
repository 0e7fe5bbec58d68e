import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { freePort } from '../support/process';

/**
 * The first commands a new user runs, as real processes (compiled by the global setup): `npm start` on a port
 * that is taken, and `npm run watch` against the right server, a wrong one, and after a lost connection.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'src', 'main.js');
const WATCH = path.join(ROOT, 'dist', 'scripts', 'watch.js');

interface Run {
  output: () => string;
  stdout: () => string;
  exited: Promise<number | string>;
  kill(): void;
}

function run(script: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    output: () => out,
    stdout: () => stdout,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

describe('npm start on a busy port', () => {
  it('says which port is taken and how to pick another, and exits 1', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const server = run(MAIN, [], { PORT: String(port), HOST: '127.0.0.1', SANDBOX: 'on', DATA_DIR: path.join(os.tmpdir(), `esign-busy-${port}`) });
    try {
      expect(await server.exited).toBe(1);
      const output = server.output();
      expect(output).toContain(`port ${port} is already in use`);
      expect(output).toContain(`PORT=${port + 1} npm start`);
      expect(output).not.toMatch(/at .*\.js:\d+/);
    } finally {
      server.kill();
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  }, 60_000);
});

describe('npm run watch', () => {
  let app: TestApp;
  const runs: Run[] = [];
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    for (const r of runs) r.kill();
    await app?.close();
  });
  const watch = (args: string[], env: Record<string, string> = {}) => {
    const r = run(WATCH, args, env);
    runs.push(r);
    return r;
  };

  it('follows PORT and prints the events a sandbox transition causes', async () => {
    const flowId = (await app.admin<{ flowId: string }>('/etc/flows', { status: 'SIGNING' })).flowId;
    const watcher = watch([], { PORT: String(app.port) });
    await waitFor(() => watcher.stdout().includes(`listening on ws://127.0.0.1:${app.port}/graphql`), { timeoutMs: 20_000, what: 'the watcher to connect' });
    await waitFor(() => app.services.feed.subscriberCount > 0, { what: 'the subscription' });
    await app.admin(`/etc/flows/${flowId}/transition`, { status: 'COMPLETED' });
    await waitFor(() => watcher.stdout().includes(`ETC:${flowId}`), { timeoutMs: 20_000, what: 'the event printed' });
    expect(watcher.stdout()).toContain('"status":"COMPLETED"');
    watcher.kill();
  }, 60_000);

  it('takes --url as an http:// address and resumes after an event id', async () => {
    const watcher = watch(['--url', app.url, '0']);
    await waitFor(() => watcher.stdout().includes('"status":"COMPLETED"'), { timeoutMs: 20_000, what: 'the replayed events' });
    expect(watcher.stdout()).toContain(`listening on ws://127.0.0.1:${app.port}/graphql for signFlowEvents after 0`);
    watcher.kill();
  }, 60_000);

  it('says it cannot connect, retries a bounded number of times, then gives up with exit code 1', async () => {
    const port = await freePort();
    const watcher = watch(['--url', `http://127.0.0.1:${port}`, '--retries', '1']);
    expect(await watcher.exited).toBe(1);
    const output = watcher.output();
    expect(output).toContain(`cannot connect to ws://127.0.0.1:${port}/graphql`);
    expect(output).toContain('attempt 1 of 1');
    expect(output).toContain('is it running (npm start)');
    expect(output).toContain('giving up');
  }, 60_000);

  it('refuses a malformed --url plainly', async () => {
    const watcher = watch(['--url', 'ftp://example']);
    expect(await watcher.exited).toBe(2);
    expect(watcher.output()).toContain('--url: "ftp://example" must be http(s):// or ws(s)://');
  });
});
