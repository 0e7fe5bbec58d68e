import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import WebSocket, { WebSocketServer } from 'ws';
import { startTestApp, waitFor, type TestApp } from '../support/app';
import { freePort } from '../support/process';

/** The package's `bin` (a launcher requiring dist/src/cli/main.js, which jest's global setup compiles). */
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'esign-lifecycle.js');

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | string>;
}

const children: ChildProcess[] = [];

/** Spawns the real CLI; only PATH (and what `env` adds) is inherited, so no token leaks in from the shell. */
function startCli(args: string[], env: Record<string, string> = {}, cwd?: string): Cli {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const tencentFlow = async (app: TestApp, status = 'SIGNING') => `TENCENT_ESS:${(await app.admin<{ flowId: string }>('/tencent/flows', { status })).flowId}`;
const providerId = (id: string) => id.slice(id.indexOf(':') + 1);

async function batchCalls(app: TestApp): Promise<string[][]> {
  const log = await app.admin<{ requests: Array<{ operation?: string; body: { FlowIds?: string[] } }> }>('/tencent/requests');
  return log.requests.filter((r) => r.operation === 'ChannelBatchCancelFlows').map((r) => r.body.FlowIds ?? []);
}

async function status(app: TestApp, id: string): Promise<string | undefined> {
  const r = await app.gql<{ signFlow: { status: string } | null }>('query ($id: ID!) { signFlow(id: $id) { status } }', { id });
  return r.data?.signFlow?.status;
}

const readCsv = (file: string) => parse(fs.readFileSync(file, 'utf8'), { bom: true, columns: true }) as Array<Record<string, string>>;

describe('esign-lifecycle CLI against the real server', () => {
  let app: TestApp;
  let dir: string;
  beforeAll(async () => {
    app = await startTestApp({ cancel: { pollIntervalMs: 100 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-cli-'));
  });
  afterAll(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('cancel: a file of open flows and one completed flow → exit 2, the completed one alone in the failed CSV', async () => {
    const open = [await tencentFlow(app), await tencentFlow(app), await tencentFlow(app)];
    const completed = await tencentFlow(app, 'COMPLETED');
    const file = path.join(dir, 'mixed.txt');
    fs.writeFileSync(file, `# flows of the 2026-11 batch\n${open[0]}\n\n${completed}\n  ${open[1]}\n# ${open[2]} is kept for later\n${open[2]}\n`);

    const run = await runCli(['--url', app.url, 'cancel', '--file', file, '--reason', '合同有误', '--cancel-message-format', 'ORGANIZATION']);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^cancelled 3 of 4 flows; 1 failed, 0 unknown \(task cancel_\w+\)\n1 flow not cancelled: .*mixed\.txt\.failed\.csv\n$/);
    expect(run.stderr).toMatch(/task cancel_\w+: 4 flows submitted\ntask cancel_\w+: PARTIAL \(3 cancelled, 1 failed\)\n/);

    expect(readCsv(`${file}.failed.csv`)).toEqual([
      { id: completed, code: 'FLOW_NOT_REVOCABLE', reason: `合同流程Id:${providerId(completed)},无法撤回,错误信息:合同当前状态不支持撤销` },
    ]);
    for (const id of open) expect(await status(app, id)).toBe('REVOKED');
    const sent = (await batchCalls(app)).find((ids) => ids.includes(providerId(open[0])));
    expect(sent).toEqual([open[0], completed, open[1], open[2]].map(providerId));
  });

  it('cancel: reads a task of 4,500 items back in pages (items(first, offset)), every failed item in the CSV in order', async () => {
    // ETC flows without an ETC member number fail at once (ETC_MEMBER_NO_REQUIRED): a finished 4,500-item task.
    const ids = Array.from({ length: 4_500 }, (_, i) => `ETC:paged${i}`);
    const file = path.join(dir, 'paged.txt');
    fs.writeFileSync(file, `${ids.join('\n')}\n`);
    const run = await runCli(['--url', app.url, 'cancel', '--file', file]);
    expect(run.code).toBe(2);
    const rows = readCsv(`${file}.failed.csv`);
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(rows.every((r) => r.code === 'ETC_MEMBER_NO_REQUIRED')).toBe(true);
  });

  it('cancel: every flow cancelled → exit 0, a failed CSV with the header only at --failed-out', async () => {
    const ids = [await tencentFlow(app), await tencentFlow(app)];
    const file = path.join(dir, 'open.txt');
    const failedOut = path.join(dir, 'nothing-failed.csv');
    fs.writeFileSync(file, `${ids.join('\r\n')}\r\n`);
    const run = await runCli(['cancel', '--file', file, '--failed-out', failedOut, '--url', app.url]);
    expect(run).toMatchObject({ code: 0, stdout: `cancelled 2 of 2 flows; 0 failed, 0 unknown (task ${/task (cancel_\w+)/.exec(run.stdout)?.[1]})\nno failed items: ${failedOut}\n` });
    expect(fs.readFileSync(failedOut, 'utf8')).toBe('\uFEFFid,code,reason\r\n');
    for (const id of ids) expect(await status(app, id)).toBe('REVOKED');
  });

  it('cancel: a CSV export with an id column among others (quoted commas, Han text) → exit 0', async () => {
    const ids = [await tencentFlow(app), await tencentFlow(app)];
    const file = path.join(dir, 'export.csv');
    fs.writeFileSync(file, `\uFEFF合同,id,备注\r\n"租赁合同, 2026",${ids[0]},"客户要求""撤回"""\r\n采购合同,${ids[1]},\r\n,,\r\n`);
    const run = await runCli(['--url', app.url, 'cancel', '--file', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^cancelled 2 of 2 flows/);
    for (const id of ids) expect(await status(app, id)).toBe('REVOKED');
  });

  it('cancel: more ids than --batch-size → several tasks in sequence, aggregated', async () => {
    const ids = [await tencentFlow(app), await tencentFlow(app), await tencentFlow(app, 'COMPLETED'), await tencentFlow(app), await tencentFlow(app)];
    const file = path.join(dir, 'batched.txt');
    fs.writeFileSync(file, ids.join('\n'));
    const run = await runCli(['--url', app.url, 'cancel', '--file', file, '--batch-size', '2']);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^cancelled 4 of 5 flows; 1 failed, 0 unknown \(tasks cancel_\w+, cancel_\w+, cancel_\w+\)\n/);
    expect((await batchCalls(app)).filter((sent) => sent.some((f) => ids.map(providerId).includes(f)))).toEqual([
      ids.slice(0, 2).map(providerId),
      ids.slice(2, 4).map(providerId),
      ids.slice(4).map(providerId),
    ]);
    expect(readCsv(`${file}.failed.csv`).map((r) => [r.id, r.code])).toEqual([[ids[2], 'FLOW_NOT_REVOCABLE']]);
  });

  it('cancel: a refused request (userErrors) → exit 1 naming the field, nothing sent', async () => {
    const id = await tencentFlow(app);
    const file = path.join(dir, 'refused.txt');
    fs.writeFileSync(file, `${id}\n`);
    const before = (await batchCalls(app)).length;
    const run = await runCli(['--url', app.url, 'cancel', '--file', file, '--reason', 'wrong, with a comma']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('esign-lifecycle: the API refused the request:\nINVALID_INPUT (input.reason): reason may contain only Chinese characters, letters, digits and underscore (found ",") for a Tencent flow');
    expect(await batchCalls(app)).toHaveLength(before);
    expect(fs.existsSync(`${file}.failed.csv`)).toBe(false);
    expect(await status(app, id)).toBe('SIGNING');
  });

  it('cancel: a bad id in the file → exit 1 naming the line, before any request', async () => {
    const file = path.join(dir, 'typo.txt');
    fs.writeFileSync(file, `${await tencentFlow(app)}\nTENCENT-ESS:yDw123\n`);
    const run = await runCli(['--url', app.url, 'cancel', '--file', file]);
    expect(run).toMatchObject({ code: 1, stdout: '' });
    expect(run.stderr).toContain(`--file ${file}: 1 invalid flow id`);
    expect(run.stderr).toContain('line 2: "TENCENT-ESS:yDw123" is not <SignProvider>:<provider flow id>');
  });

  it('events --after 0: prints the events a sandbox transition causes, resumes from the printed id, Ctrl-C exits 0', async () => {
    const id = await tencentFlow(app);
    const cli = startCli(['--url', app.url, 'events', '--after', '0', '--json', '--ids', id]);
    await waitFor(() => cli.stderr().includes('listening for signFlowEvents'), { what: 'the CLI to start listening' });
    await app.admin(`/tencent/flows/${providerId(id)}/transition`, { status: 'COMPLETED' });
    const line = await waitFor(() => cli.stdout().split('\n').find((l) => l.includes('"COMPLETED"')), { timeoutMs: 10_000, what: 'the COMPLETED event on stdout' });
    const event = JSON.parse(line) as { id: string; status: string; source: string; flow: { id: string } };
    expect(event).toMatchObject({ status: 'COMPLETED', source: 'CALLBACK', flow: { id } });
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const lastId = cli.stdout().trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id).at(-1);
    expect(cli.stderr()).toContain(`last event id: ${lastId} (resume with --after ${lastId})`);

    // Resuming from that id prints only what came later.
    const later = await tencentFlow(app);
    const again = startCli(['--url', app.url, 'events', '--after', lastId!, '--ids', `${id},${later}`]);
    await waitFor(() => again.stderr().includes(`after event ${lastId}`), { what: 'the second listener' });
    await app.admin(`/tencent/flows/${providerId(later)}/transition`, { status: 'COMPLETED' });
    await waitFor(() => again.stdout().includes(`${later}  COMPLETED`), { timeoutMs: 10_000, what: 'the later event' });
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
    expect(again.stdout()).not.toContain(id + '  ');
  });

  it('events: reconnects after the socket drops and resubscribes with after = the last id printed', async () => {
    const [a, b] = [await tencentFlow(app), await tencentFlow(app)];
    // A WebSocket relay between the CLI and the API that the test can cut (as a load balancer or a network would),
    // recording what the CLI sends: the subscribe after the drop must carry the cursor.
    let accepting = true;
    const sent: Array<{ type: string; payload?: { variables?: Record<string, unknown> } }> = [];
    const relayed = new Set<WebSocket>();
    const relay = http.createServer();
    const wss = new WebSocketServer({ server: relay, path: '/graphql', handleProtocols: (protocols) => [...protocols][0] ?? false });
    wss.on('connection', (client) => {
      if (!accepting) {
        client.terminate();
        return;
      }
      const upstream = new WebSocket(app.wsUrl, 'graphql-transport-ws');
      relayed.add(client).add(upstream);
      const queued: string[] = [];
      client.on('message', (data: Buffer) => {
        const text = data.toString();
        sent.push(JSON.parse(text) as (typeof sent)[number]);
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else queued.push(text);
      });
      upstream.on('open', () => queued.splice(0).forEach((m) => upstream.send(m)));
      upstream.on('message', (data: Buffer) => client.send(data.toString()));
      const cut = () => {
        client.terminate();
        upstream.terminate();
      };
      client.on('close', cut).on('error', cut);
      upstream.on('close', cut).on('error', cut);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
    try {
      // --after 0: a's event is printed however the start races the transition.
      const cli = startCli(['--url', relayUrl, 'events', '--after', '0', '--ids', `${a},${b}`]);
      await app.admin(`/tencent/flows/${providerId(a)}/transition`, { status: 'COMPLETED' });
      const aLine = await waitFor(() => cli.stdout().split('\n').find((l) => l.includes(`${a}  COMPLETED`)), { timeoutMs: 10_000, what: "a's event" });
      const aEventId = aLine.split('  ')[0];

      accepting = false;
      for (const socket of relayed) socket.terminate();
      await waitFor(() => cli.stderr().includes(`reconnecting to resume after event ${aEventId}`), { what: 'the CLI to notice the drop' });
      // Happens while the CLI is cut off: only the cursor brings it back.
      await app.admin(`/tencent/flows/${providerId(b)}/transition`, { status: 'COMPLETED' });
      await waitFor(async () => (await status(app, b)) === 'COMPLETED', { what: "b's callback to be stored" });
      accepting = true;

      await waitFor(() => cli.stdout().includes(`${b}  COMPLETED`), { timeoutMs: 15_000, what: "b's event after reconnecting" });
      expect(cli.stderr()).toContain(`reconnected; resuming after event ${aEventId}`);
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);

      const subscribes = sent.filter((m) => m.type === 'subscribe').map((m) => m.payload?.variables);
      expect(subscribes[0]).toEqual({ after: '0', provider: null, ids: [a, b] });
      expect(subscribes.at(-1)).toEqual({ after: aEventId, provider: null, ids: [a, b] });
      expect(sent.filter((m) => m.type === 'connection_init').length).toBeGreaterThanOrEqual(2);
      const lines = cli.stdout().trim().split('\n');
      expect(lines.filter((l) => l.includes(`${a}  COMPLETED`))).toHaveLength(1);
      expect(lines.filter((l) => l.includes(`${b}  COMPLETED`))).toHaveLength(1);
    } finally {
      for (const socket of relayed) socket.terminate();
      wss.close();
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  it('flow <id>: status, provider status, update time and latest events; exit 1 for an unknown or malformed id', async () => {
    const id = await tencentFlow(app);
    await app.admin(`/tencent/flows/${providerId(id)}/transition`, { status: 'COMPLETED' });
    await waitFor(async () => (await status(app, id)) === 'COMPLETED', { what: 'the callback' });

    const shown = await runCli(['--url', app.url, 'flow', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^${id}\\n  status          COMPLETED\\n  providerStatus  ALL\\n  updatedAt       \\d{4}-.+Z\\n`));
    expect(shown.stdout).toMatch(/events \(last 1 of 1\):\n {4}\d+ {2}\S+ {2}COMPLETED \(ALL\) {2}CALLBACK\n$/);

    const json = await runCli(['--url', app.url, 'flow', id, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, status: 'COMPLETED', providerStatus: 'ALL', events: [{ status: 'COMPLETED', source: 'CALLBACK' }] });

    const unknown = await runCli(['--url', app.url, 'flow', 'TENCENT_ESS:yDwUNKNOWN00000000000000000000000']);
    expect(unknown).toEqual({ code: 1, stdout: '', stderr: 'esign-lifecycle: no flow TENCENT_ESS:yDwUNKNOWN00000000000000000000000: neither the API nor TENCENT_ESS knows it\n' });
    const malformed = await runCli(['--url', app.url, 'flow', 'yDw123']);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('<id> must be <SignProvider>:<provider flow id>');
  });
});

describe('esign-lifecycle CLI with the server capping ids per request lower than --batch-size', () => {
  let app: TestApp;
  let dir: string;
  beforeAll(async () => {
    app = await startTestApp({ cancel: { pollIntervalMs: 100, maxIds: 2 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-cli-'));
  });
  afterAll(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('splits to the cap the server names; a re-run with the same idempotency key replays the same tasks', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await tencentFlow(app));
    const file = path.join(dir, 'five.txt');
    fs.writeFileSync(file, ids.join('\n'));
    const args = ['--url', app.url, 'cancel', '--file', file, '--idempotency-key', 'ops-2026-11-02'];
    const first = await runCli(args);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('the API takes at most 2 ids per request; splitting the rest');
    const tasks = /\(tasks (.+)\)/.exec(first.stdout)?.[1]?.split(', ');
    expect(tasks).toHaveLength(3);
    expect(await batchCalls(app)).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)].map((chunk) => chunk.map(providerId)));

    const again = await runCli(args);
    expect(again.code).toBe(0);
    expect(/\(tasks (.+)\)/.exec(again.stdout)?.[1]?.split(', ')).toEqual(tasks);
    expect(await batchCalls(app)).toHaveLength(3);
  });
});

describe('esign-lifecycle CLI connection and credentials', () => {
  it('an unreachable --url → exit 1 with the cause, for every command', async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esign-cli-'));
    try {
      const file = path.join(dir, 'ids.txt');
      fs.writeFileSync(file, 'TENCENT_ESS:yDw1\n');
      const message = `esign-lifecycle: cannot reach http://127.0.0.1:${port}: ECONNREFUSED — is the API running? (--url)\n`;
      for (const args of [['cancel', '--file', file], ['flow', 'ETC:abc'], ['events']]) {
        const run = await runCli(['--url', `http://127.0.0.1:${port}`, ...args]);
        expect([args[0], run.code, run.stderr.split('\n').filter((l) => l.startsWith('esign-lifecycle:')).join('\n') + '\n']).toEqual([args[0], 1, message]);
      }
      expect(fs.existsSync(`${file}.failed.csv`)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends the token as a bearer header over HTTP and in connection_init over the WebSocket, and never prints it', async () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.cli-test-token';
    const authorizations: Array<string | undefined> = [];
    const inits: unknown[] = [];
    const server = http.createServer((req, res) => {
      authorizations.push(req.headers.authorization);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: 'token rejected', extensions: { code: 'UNAUTHENTICATED' } }] })));
    });
    const wss = new WebSocketServer({ server, path: '/graphql' });
    wss.on('connection', (socket) => {
      socket.once('message', (data: Buffer) => {
        inits.push(JSON.parse(data.toString()));
        socket.close(4401, 'Unauthorized');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const flow = await runCli(['--url', url, '--token', token, 'flow', 'ETC:abc']);
      expect(flow.code).toBe(1);
      expect(flow.stderr).toBe('esign-lifecycle: the API answered with an error:\ntoken rejected [UNAUTHENTICATED] (pass --token or set ESIGN_LIFECYCLE_TOKEN)\n');
      expect(authorizations).toEqual([`Bearer ${token}`]);

      const events = await runCli(['--url', url, 'events'], { ESIGN_LIFECYCLE_TOKEN: token });
      expect(events.code).toBe(1);
      expect(events.stderr).toContain('esign-lifecycle: the API refused the WebSocket: Unauthorized (4401; pass a valid --token or set ESIGN_LIFECYCLE_TOKEN)');
      expect(inits).toEqual([{ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }]);
      for (const run of [flow, events]) expect(run.stdout + run.stderr).not.toContain('cli-test-token');
    } finally {
      wss.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('--help for the program and every command; bad arguments → exit 1', async () => {
    for (const [args, text] of [
      [['--help'], 'Usage: esign-lifecycle [options] [command]'],
      [['cancel', '--help'], '--failed-out <path>'],
      [['events', '--help'], '--after <id>'],
      [['flow', '--help'], 'Usage: esign-lifecycle flow [options] <id>'],
    ] as const) {
      const run = await runCli([...args]);
      expect([args.join(' '), run.code, run.stdout.includes(text)]).toEqual([args.join(' '), 0, true]);
    }
    const missing = await runCli(['cancel']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error: required option '--file <path>' not specified");
    const badBatch = await runCli(['cancel', '--file', 'x', '--batch-size', '0']);
    expect(badBatch.code).toBe(1);
    expect(badBatch.stderr).toContain('--batch-size must be a whole number of at least 1.');
    const badUrl = await runCli(['--url', 'localhost:4000', 'flow', 'ETC:abc']);
    expect(badUrl).toMatchObject({ code: 1, stderr: 'esign-lifecycle: --url must be an http:// or https:// URL, e.g. http://127.0.0.1:4000\n' });
  });
});
