import http from 'http';
import type { AddressInfo } from 'net';
import express from 'express';
import {
  AdminError,
  CallbackSender,
  FaultBook,
  RequestLog,
  SandboxKit,
  TimerSet,
  createSandboxRouter,
  formatChinaTime,
  parseFaultSpec,
  type CallbackRequest,
  type Emulator,
  type FaultSpec,
} from '../../src/sandbox/kit';
import { get, post, del, startReceiver, startSandbox, waitFor, type Receiver, type RunningSandbox } from './etc/harness';

function refusal(body: unknown, available?: Parameters<typeof parseFaultSpec>[1]): { message: string; field?: string } {
  try {
    parseFaultSpec(body, available);
  } catch (error) {
    if (error instanceof AdminError) return { message: error.message, field: error.field };
    throw error;
  }
  throw new Error('accepted');
}

describe('parseFaultSpec', () => {
  it.each<[string, unknown, string, string | undefined]>([
    ['a non-object', [], 'body must be a JSON object', undefined],
    ['an unknown field', { provider: 'etc', kind: 'error', cout: 1 }, 'unknown field "cout"; allowed: provider, kind, match, count, ms, phase, code, message', 'cout'],
    ['a missing provider', { kind: 'error' }, 'provider must be one of etc, tencent, esign, yuansfer', 'provider'],
    ['an unknown provider', { provider: 'docusign', kind: 'error' }, 'provider must be one of etc, tencent, esign, yuansfer', 'provider'],
    ['a provider without emulator', { provider: 'tencent', kind: 'error' }, 'provider "tencent" has no emulator in this sandbox', 'provider'],
    ['a missing kind', { provider: 'etc' }, 'kind must be one of latency, error, timeout, rate-limit, drop-callback', 'kind'],
    ['an unknown kind', { provider: 'etc', kind: 'explode' }, 'kind must be one of latency, error, timeout, rate-limit, drop-callback', 'kind'],
    ['an empty match', { provider: 'etc', kind: 'error', match: ' ' }, 'match must be a non-empty string', 'match'],
    ['a zero count', { provider: 'etc', kind: 'error', count: 0 }, 'count must be a positive integer', 'count'],
    ['a fractional count', { provider: 'etc', kind: 'error', count: 1.5 }, 'count must be a positive integer', 'count'],
    ['a string count', { provider: 'etc', kind: 'error', count: '2' }, 'count must be a positive integer', 'count'],
    ['latency without ms', { provider: 'etc', kind: 'latency' }, 'ms is required for kind latency', 'ms'],
    ['a negative ms', { provider: 'etc', kind: 'latency', ms: -1 }, 'ms must be an integer from 0 to 600000', 'ms'],
    ['ms on an error', { provider: 'etc', kind: 'error', ms: 5 }, 'ms applies only to kind latency', 'ms'],
    ['an unknown phase', { provider: 'etc', kind: 'latency', ms: 5, phase: 'later' }, 'phase must be "request" or "response"', 'phase'],
    ['phase on an error', { provider: 'etc', kind: 'error', phase: 'response' }, 'phase applies only to kind latency', 'phase'],
    ['code on a timeout', { provider: 'etc', kind: 'timeout', code: '500' }, 'code applies only to kind error', 'code'],
    ['a numeric code', { provider: 'etc', kind: 'error', code: 500 }, 'code must be a non-empty string', 'code'],
    ['an empty message', { provider: 'etc', kind: 'error', message: '' }, 'message must be a non-empty string', 'message'],
  ])('refuses %s', (_name, body, message, field) => {
    expect(refusal(body, ['etc'])).toEqual({ message, field });
  });

  it('accepts every kind with its own fields', () => {
    expect(parseFaultSpec({ provider: 'etc', kind: 'latency', ms: 0, match: 'a', count: 2 }, ['etc'])).toEqual({
      provider: 'etc',
      kind: 'latency',
      ms: 0,
      match: 'a',
      count: 2,
    });
    expect(parseFaultSpec({ provider: 'etc', kind: 'latency', ms: 5, phase: 'response' }, ['etc'])).toEqual({ provider: 'etc', kind: 'latency', ms: 5, phase: 'response' });
    expect(parseFaultSpec({ provider: 'etc', kind: 'error', code: '401002', message: '无权限' }, ['etc'])).toEqual({
      provider: 'etc',
      kind: 'error',
      code: '401002',
      message: '无权限',
    });
    for (const kind of ['timeout', 'rate-limit', 'drop-callback']) {
      expect(parseFaultSpec({ provider: 'yuansfer', kind })).toEqual({ provider: 'yuansfer', kind });
    }
  });
});

describe('FaultBook', () => {
  const spec = (extra: Partial<FaultSpec> = {}): FaultSpec => ({ provider: 'etc', kind: 'error', ...extra });

  it('applies a counted fault count times, then forgets it', () => {
    const book = new FaultBook();
    const fault = book.add(spec({ count: 2 }));
    expect(fault).toMatchObject({ id: expect.stringMatching(/^flt_/), remaining: 2, count: 2 });
    expect(book.take('etc', ['error'], ['op'])?.remaining).toBe(1);
    expect(book.list()[0].remaining).toBe(1);
    expect(book.take('etc', ['error'], ['op'])?.remaining).toBe(0);
    expect(book.take('etc', ['error'], ['op'])).toBeUndefined();
    expect(book.list()).toEqual([]);
  });

  it('keeps an uncounted fault until cleared', () => {
    const book = new FaultBook();
    book.add(spec());
    for (let i = 0; i < 5; i++) expect(book.take('etc', ['error'], [undefined])).toBeDefined();
    expect(book.clear()).toBe(1);
    expect(book.take('etc', ['error'], [undefined])).toBeUndefined();
  });

  it('matches provider, kind and match; oldest first', () => {
    const book = new FaultBook();
    const a = book.add(spec({ match: 'esign.signflows.revoke', count: 1 }));
    const b = book.add(spec({ kind: 'timeout', count: 1 }));
    expect(book.take('tencent', ['error', 'timeout'], ['esign.signflows.revoke'])).toBeUndefined();
    expect(book.take('etc', ['error'], ['esign.signflows.query'])).toBeUndefined();
    expect(book.take('etc', ['error', 'timeout'], ['esign.signflows.revoke'])?.id).toBe(a.id);
    expect(book.take('etc', ['error', 'timeout'], ['esign.signflows.revoke'])?.id).toBe(b.id);
    expect(book.remove('nope')).toBe(false);
  });
});

describe('RequestLog', () => {
  it('keeps the last `limit` records per provider, newest last', () => {
    const log = new RequestLog(3);
    for (let i = 1; i <= 5; i++) {
      log.add('etc', { at: '', method: 'POST', path: `/${i}`, operation: null, headers: {}, body: null, status: 200, response: null, faults: [] });
    }
    log.add('tencent', { at: '', method: 'POST', path: '/t', operation: null, headers: {}, body: null, status: 200, response: null, faults: [] });
    expect(log.list('etc').map((r) => r.path)).toEqual(['/3', '/4', '/5']);
    expect(log.list('tencent')).toHaveLength(1);
    expect(log.list('esign')).toEqual([]);
  });
});

describe('TimerSet and formatChinaTime', () => {
  it('a cancelled sleep resolves false', async () => {
    const timers = new TimerSet();
    const sleeping = timers.sleep(60_000);
    expect(timers.size).toBe(1);
    timers.cancelAll();
    await expect(sleeping).resolves.toBe(false);
    await expect(timers.sleep(1)).resolves.toBe(true);
  });

  it('prints China time', () => {
    expect(formatChinaTime(0)).toBe('1970-01-01 08:00:00');
    expect(formatChinaTime(Date.UTC(2021, 2, 22, 10, 24, 29))).toBe('2021-03-22 18:24:29');
  });
});

describe('CallbackSender', () => {
  let receiver: Receiver;
  let sender: CallbackSender;
  let faults: FaultBook;

  beforeEach(async () => {
    receiver = await startReceiver();
    faults = new FaultBook();
  });
  afterEach(async () => {
    sender.close();
    await receiver.close();
  });

  const request = (extra: Partial<CallbackRequest> = {}): CallbackRequest => ({
    provider: 'etc',
    url: `${receiver.url}?token=abc`,
    event: 'test.event',
    subject: 'flow-1',
    body: '{"a":1}',
    contentType: 'application/json',
    headers: { 'X-Test': 'yes' },
    isAcknowledged: (status) => status === 200,
    retries: 2,
    delaysMs: () => 1,
    ...extra,
  });

  it('posts the body with its headers and records the attempt, secret redacted', async () => {
    sender = new CallbackSender({ faults });
    const { delivery, settled } = sender.deliver(request());
    expect(delivery.state).toBe('pending');
    expect(sender.list('etc')).toHaveLength(1);
    await expect(settled).resolves.toMatchObject({ state: 'acknowledged', acknowledged: true });
    expect(receiver.received[0]).toMatchObject({ url: '/callbacks?token=abc', body: '{"a":1}' });
    expect(receiver.received[0].headers['x-test']).toBe('yes');
    expect(delivery).toMatchObject({ url: `${receiver.url}?token=[redacted]`, body: { a: 1 }, attempts: [{ status: 200 }] });
  });

  it('retries network errors and gives up after `retries`', async () => {
    const closed = await startReceiver();
    await closed.close();
    sender = new CallbackSender({ faults });
    const { settled } = sender.deliver(request({ url: `${closed.url}?token=SECRET-TOKEN` }));
    const delivery = await settled;
    expect(delivery.state).toBe('failed');
    expect(delivery.attempts).toHaveLength(3);
    expect(delivery.attempts[0].error).toMatch(/ECONNREFUSED/);
    expect(JSON.stringify(delivery)).not.toContain('SECRET-TOKEN');
  });

  it('counts a receiver slower than the per-attempt timeout as a failed attempt', async () => {
    receiver.answer = (n) => (n === 0 ? undefined : { body: 'ok' });
    sender = new CallbackSender({ faults, attemptTimeoutMs: 100 });
    const delivery = await sender.deliver(request()).settled;
    expect(delivery.state).toBe('acknowledged');
    expect(delivery.attempts[0].error).toMatch(/no answer within 100 ms/);
    expect(delivery.attempts[1].status).toBe(200);
  });

  it('uses the sandbox-wide delays over the provider schedule', async () => {
    receiver.answer = (n) => (n < 2 ? { status: 500, body: '' } : { body: '' });
    const asked: number[] = [];
    sender = new CallbackSender({ faults, retryDelaysMs: (retry) => (asked.push(retry), 1) });
    const delivery = await sender.deliver(request({ delaysMs: () => 3_600_000 })).settled;
    expect(delivery.state).toBe('acknowledged');
    expect(asked).toEqual([1, 2]);
  });

  it('reset cancels a pending retry', async () => {
    receiver.answer = () => ({ status: 500, body: '' });
    sender = new CallbackSender({ faults });
    const { settled } = sender.deliver(request({ delaysMs: () => 3_600_000 }));
    await waitFor(() => receiver.received.length === 1, 'the first attempt');
    await waitFor(() => sender.list('etc')[0]?.attempts.length === 1, 'the attempt to be recorded');
    sender.reset();
    await expect(settled).resolves.toMatchObject({ state: 'cancelled' });
    expect(sender.list('etc')).toEqual([]);
    expect(receiver.received).toHaveLength(1);
  });

  it('honours drop-callback faults by event or subject, count times', async () => {
    sender = new CallbackSender({ faults });
    faults.add({ provider: 'etc', kind: 'drop-callback', match: 'flow-1', count: 1 });
    faults.add({ provider: 'etc', kind: 'drop-callback', match: 'other.event' });
    const dropped = sender.deliver(request());
    expect(dropped.delivery).toMatchObject({ state: 'dropped', droppedBy: expect.stringMatching(/^flt_/) });
    const sent = await sender.deliver(request()).settled;
    expect(sent.state).toBe('acknowledged');
    expect(receiver.received).toHaveLength(1);
  });
});

describe('sandbox admin API (kit)', () => {
  let running: RunningSandbox;
  afterEach(async () => {
    await running.close();
  });

  it('POST/GET/DELETE /_admin/faults', async () => {
    running = await startSandbox({ callbackUrl: () => 'http://127.0.0.1:9/' });
    const admin = `${running.base}/_admin/faults`;
    const created = await post(admin, { provider: 'etc', kind: 'latency', ms: 10, count: 3 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^flt_/),
      provider: 'etc',
      kind: 'latency',
      ms: 10,
      count: 3,
      remaining: 3,
      createdAt: expect.any(String),
    });
    expect((await get(admin)).body).toEqual({ faults: [created.body] });

    const refused = await post(admin, { provider: 'etc', kind: 'latency' });
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ error: 'ms is required for kind latency', field: 'ms' });
    const notJson = await post(admin, undefined, { raw: 'kind=error' });
    expect(notJson).toMatchObject({ status: 400, body: { error: 'body must be a JSON object' } });

    expect((await del(`${admin}/${created.body.id}`)).body).toEqual({ cleared: 1 });
    expect((await del(`${admin}/${created.body.id}`)).status).toBe(404);
    await post(admin, { provider: 'etc', kind: 'timeout' });
    await post(admin, { provider: 'etc', kind: 'error' });
    expect((await del(admin)).body).toEqual({ cleared: 2 });
    expect((await get(admin)).body).toEqual({ faults: [] });
    expect((await get(`${running.base}/_admin/nothing-here`)).status).toBe(404);
  });

  it('bounds the request log (historyLimit)', async () => {
    running = await startSandbox({ callbackUrl: () => 'http://127.0.0.1:9/', historyLimit: 2 });
    for (const apiCode of ['one', 'two', 'three']) await post(`${running.base}/etc/api/gateway`, { apiCode });
    const { requests } = (await get(`${running.base}/_admin/etc/requests`)).body;
    expect(requests.map((r: { operation: string }) => r.operation)).toEqual(['two', 'three']);
  });
});

describe('plugging in an emulator', () => {
  it('a minimal emulator gets logging, faults, flows and its own admin routes from the kit', async () => {
    const kit = new SandboxKit({ callbackUrl: () => 'http://127.0.0.1:9/' });
    const yuansfer = kit.forProvider('yuansfer');
    const router = express.Router();
    router.post(
      '/auto-debit/v3/revoke',
      yuansfer.handler({
        operation: () => 'revoke',
        faults: {
          error: (fault) => ({ body: { ret_code: fault.code ?? '000000', ret_msg: fault.message ?? 'system error' } }),
          rateLimit: () => ({ body: { ret_code: '000000', ret_msg: 'busy' } }),
        },
        handle: (req) => ({ body: { ret_code: '000100', echo: req.form.get('autoDebitNo') } }),
      }),
    );
    const emulator: Emulator = {
      name: 'yuansfer',
      router,
      reset: () => undefined,
      adminRoutes: (admin) => admin.post('/auto-debits', (_req, res) => res.status(201).json({ autoDebitNo: 'AD1' })),
    };
    const app = express();
    app.use('/sb', createSandboxRouter(kit, { yuansfer: emulator }, () => kit.reset()));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sb`;
    try {
      const form = await post(`${base}/yuansfer/auto-debit/v3/revoke`, undefined, { raw: 'autoDebitNo=42' });
      expect(form.body).toEqual({ ret_code: '000100', echo: '42' });
      await post(`${base}/_admin/faults`, { provider: 'yuansfer', kind: 'error', count: 1 });
      expect((await post(`${base}/yuansfer/auto-debit/v3/revoke`, undefined, { raw: '' })).body.ret_code).toBe('000000');
      expect((await post(`${base}/_admin/yuansfer/auto-debits`, {})).body).toEqual({ autoDebitNo: 'AD1' });
      expect((await post(`${base}/_admin/yuansfer/flows`, {})).status).toBe(404);
      const { requests } = (await get(`${base}/_admin/yuansfer/requests`)).body;
      expect(requests.map((r: { body: unknown; status: number }) => [r.body, r.status])).toEqual([
        ['autoDebitNo=42', 200],
        [null, 200],
      ]);
    } finally {
      await kit.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
