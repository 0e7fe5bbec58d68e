import { createCipheriv, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { startTestApp, type TestApp } from '../support/app';
import { APP_ID, APP_SECRET } from '../sandbox/esign/signer';
import { chinaTime, form, signed } from '../sandbox/yuansfer/signer';

/**
 * HTTP-level fuzzing of the four callback endpoints: generated bodies (random bytes, JSON of any shape, forms, and
 * correctly authenticated messages whose fields are fuzzed, so the store paths run too) with varied media types and
 * encodings. Not one may be answered 5xx or with anything but JSON (Yuansfer's plain `success` aside), and the
 * server must be healthy afterwards.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const PER_ENDPOINT = 300;
const ETC_SECRET = 'etc-callback-secret-for-fuzzing';
const TENCENT_KEY = '0123456789abcdef0123456789abcdef';
const TENCENT_TOKEN = 'sandbox-callback-token';

interface Shot {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

const text = fc.string({ unit: 'binary', maxLength: 60 });
const field = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }), fc.object({ maxDepth: 1 }));
const flowId = fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{8,32}$/), text);
const junk = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)),
  text.map((s) => Buffer.from(s)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.constantFrom('', '{}', '[]', 'null', '{"encrypt":""}', 'a=1&a=2', '%', '{"__proto__":{"x":1}}').map((s) => Buffer.from(s)),
);
const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'multipart/form-data; boundary=x');
/** Sometimes the body is sent gzip-encoded, or labelled gzip while it is not. */
const encoding = fc.constantFrom<'identity' | 'gzip' | 'fake-gzip'>('identity', 'identity', 'identity', 'gzip', 'fake-gzip');

function encode(body: Buffer, how: 'identity' | 'gzip' | 'fake-gzip', headers: Record<string, string>): Shot['body'] {
  if (how === 'identity') return body;
  headers['content-encoding'] = 'gzip';
  return how === 'gzip' ? gzipSync(body) : body;
}

function tencentEncrypt(plaintext: string): Buffer {
  const key = Buffer.from(TENCENT_KEY, 'utf8');
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  return Buffer.from(JSON.stringify({ encrypt: Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64') }));
}

function shots(autoDebitNos: string[]): Shot[] {
  const etc = fc
    .tuple(
      fc.oneof(
        junk,
        fc
          .record({ sign_end_time: fc.oneof(fc.constant('2021-03-22 18:24:29'), field), sign_flow_status: fc.oneof(fc.constantFrom('2', '3', '5', '7'), field), sign_flow_id: flowId, sign_file_url: fc.oneof(fc.webUrl(), fc.constant('javascript:alert(1)'), field) }, { requiredKeys: [] })
          .map((o) => Buffer.from(JSON.stringify(o))),
      ),
      fc.constantFrom(`?token=${ETC_SECRET}`, `?token=${ETC_SECRET}`, '', '?token=x', `?token=${ETC_SECRET}&token=y`),
      contentType,
      encoding,
    )
    .map(([body, query, type, how]) => {
      const headers: Record<string, string> = { 'content-type': type };
      return { path: `/callbacks/etc${query}`, body: encode(body, how, headers), headers };
    });

  const tencentMessage = fc.record(
    {
      MsgId: fc.oneof(fc.uuid(), field),
      MsgType: fc.oneof(fc.constantFrom('FlowStatusChange', 'CancelFlows', 'SomethingElse'), field),
      MsgVersion: fc.constant('ThirdPartyApp'),
      MsgData: fc.oneof(
        field,
        fc.record({ FlowId: flowId, FlowCallbackStatus: fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 6, 8, 16, 21), field), OccurTime: fc.oneof(fc.integer({ min: 0, max: 2_000_000_000 }), field) }, { requiredKeys: [] }),
        fc.record({ TaskId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{32}$/), field), TaskStatus: fc.oneof(fc.constantFrom('PROCESSING', 'END', 'TIMEOUT'), field), SuccessFlowIds: fc.oneof(fc.array(flowId, { maxLength: 4 }), field), FailureFlows: fc.oneof(fc.array(fc.record({ FlowId: flowId, Reason: text }), { maxLength: 3 }), field) }, { requiredKeys: [] }),
      ),
    },
    { requiredKeys: [] },
  );
  const tencent = fc
    .tuple(fc.oneof(fc.tuple(junk, fc.boolean()).map(([b, sign]) => ({ body: b, sign })), fc.oneof(tencentMessage.map((m) => JSON.stringify(m)), text).map((p) => ({ body: tencentEncrypt(p), sign: true }))), contentType, encoding)
    .map(([{ body, sign }, type, how]) => {
      const headers: Record<string, string> = { 'content-type': type };
      if (sign) headers['content-signature'] = `sha256=${createHmac('sha256', TENCENT_TOKEN).update(body).digest('hex')}`;
      return { path: '/callbacks/tencent-ess', body: encode(body, how, headers), headers };
    });

  const esignAction = fc.record(
    {
      action: fc.oneof(fc.constantFrom('SIGN_FLOW_COMPLETE', 'SIGN_FILE_RESCISSION_INITIATE', 'SIGN_FILE_RESCINDED', 'SIGN_MISSON_COMPLETE'), field),
      timestamp: fc.oneof(fc.constant(Date.now()), fc.integer(), field),
      signFlowId: flowId,
      signFlowStatus: fc.oneof(fc.constantFrom('2', '3', '5', '7'), field),
      signFlowFinishTime: fc.oneof(fc.constant(Date.now()), field),
      rescissionSignFlowId: flowId,
      rescissionFileIds: fc.oneof(fc.array(text, { maxLength: 3 }), field),
      rescindReason: fc.oneof(fc.constantFrom('1', '2', '3', '4', '5'), field),
      rescindReasonNotes: field,
    },
    { requiredKeys: [] },
  );
  const esign = fc
    .tuple(fc.oneof(junk, esignAction.map((a) => Buffer.from(JSON.stringify(a)))), fc.constantFrom('fresh', 'fresh', 'stale', 'unsigned', 'garbage'), contentType, encoding)
    .map(([body, how, type, enc]) => {
      const headers: Record<string, string> = { 'content-type': type, 'X-Tsign-Open-App-Id': APP_ID, 'X-Tsign-Open-SIGNATURE-ALGORITHM': 'hmac-sha256' };
      const timestamp = String(how === 'stale' ? Date.now() - 50 * 3600_000 : Date.now());
      headers['X-Tsign-Open-TIMESTAMP'] = timestamp;
      if (how === 'garbage') headers['X-Tsign-Open-SIGNATURE'] = 'zz';
      else if (how !== 'unsigned') headers['X-Tsign-Open-SIGNATURE'] = createHmac('sha256', APP_SECRET).update(timestamp).update(body).digest('hex');
      return { path: '/callbacks/esign', body: encode(body, enc, headers), headers };
    });

  const notice = fc.record(
    {
      autoDebitNo: fc.oneof(fc.constantFrom(...autoDebitNos), text),
      status: fc.oneof(fc.constant('revoked'), text),
      time: fc.oneof(fc.integer({ min: Date.now() - 48 * 3600_000, max: Date.now() + 3600_000 }).map(chinaTime), text),
      vendor: text,
      note: fc.string({ maxLength: 1100 }),
      autoReference: text,
    },
    { requiredKeys: [] },
  );
  const yuansfer = fc
    .tuple(
      fc.oneof(
        junk,
        notice.map((n) => Buffer.from(form(signed(Object.fromEntries(Object.entries(n).filter(([, v]) => v !== undefined)) as Record<string, string>)))),
        notice.map((n) => Buffer.from(form({ ...(Object.fromEntries(Object.entries(n).filter(([, v]) => v !== undefined)) as Record<string, string>), verifySign: 'forged' }))),
      ),
      contentType,
      encoding,
    )
    .map(([body, type, how]) => {
      const headers: Record<string, string> = { 'content-type': type };
      return { path: '/callbacks/yuansfer', body: encode(body, how, headers), headers };
    });

  return [etc, tencent, esign, yuansfer].flatMap((arb, i) => fc.sample(arb, { numRuns: PER_ENDPOINT, seed: SEED + i })).concat(genuine(autoDebitNos));
}

/** A few callbacks every check passes, mixed in so each endpoint's store path runs whatever the seed draws. */
function genuine(autoDebitNos: string[]): Shot[] {
  const json = { 'content-type': 'application/json' };
  return [0, 1, 2].flatMap((i) => {
    const id = `genuine${SEED}x${i}`;
    const esignBody = Buffer.from(JSON.stringify({ action: 'SIGN_FLOW_COMPLETE', timestamp: Date.now(), signFlowId: id, signFlowStatus: '2' }));
    const timestamp = String(Date.now());
    const tencentBody = tencentEncrypt(JSON.stringify({ MsgId: `${id}-msg`, MsgType: 'FlowStatusChange', MsgVersion: 'ThirdPartyApp', MsgData: { FlowId: id, FlowCallbackStatus: 4 } }));
    return [
      { path: `/callbacks/etc?token=${ETC_SECRET}`, body: Buffer.from(JSON.stringify({ sign_end_time: '2021-03-22 18:24:29', sign_flow_status: '2', sign_flow_id: id, sign_file_url: '' })), headers: json },
      { path: '/callbacks/tencent-ess', body: tencentBody, headers: { ...json, 'content-signature': `sha256=${createHmac('sha256', TENCENT_TOKEN).update(tencentBody).digest('hex')}` } },
      {
        path: '/callbacks/esign',
        body: esignBody,
        headers: { ...json, 'X-Tsign-Open-App-Id': APP_ID, 'X-Tsign-Open-TIMESTAMP': timestamp, 'X-Tsign-Open-SIGNATURE': createHmac('sha256', APP_SECRET).update(timestamp).update(esignBody).digest('hex') },
      },
      {
        path: '/callbacks/yuansfer',
        body: Buffer.from(form(signed({ autoDebitNo: autoDebitNos[i]!, autoReference: id, vendor: 'gcash', time: chinaTime(Date.now()) }))),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
    ];
  });
}

describe(`callback endpoints under fuzzing (${4 * PER_ENDPOINT} generated bodies, seed ${SEED})`, () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { ETC_CALLBACK_SECRET: ETC_SECRET } });
  });
  afterAll(() => app.close());

  it('answers every one below 500 and as JSON, and stays healthy', async () => {
    // Authorizations the emulator knows, so signed notices about them reach apply-token and the store.
    const autoDebitNos = await Promise.all([0, 1, 2].map(async () => (await app.admin<{ autoDebitNo: string }>('/yuansfer/auto-debits', {})).autoDebitNo));
    const all = shots(autoDebitNos);
    expect(all.length).toBeGreaterThanOrEqual(1000);

    const answers: Array<{ shot: Shot; status: number; contentType: string | null; text: string }> = [];
    let next = 0;
    const worker = async () => {
      while (next < all.length) {
        const shot = all[next++]!;
        const res = await fetch(`${app.url}${shot.path}`, { method: 'POST', headers: shot.headers, body: shot.body });
        answers.push({ shot, status: res.status, contentType: res.headers.get('content-type'), text: await res.text() });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    const failures = answers.filter((a) => a.status >= 500);
    expect(failures.map((f) => ({ path: f.shot.path, status: f.status, text: f.text, body: f.shot.body.toString('utf8').slice(0, 200), headers: f.shot.headers }))).toEqual([]);
    const notJson = answers.filter((a) => !(a.contentType?.startsWith('application/json') || (a.shot.path === '/callbacks/yuansfer' && a.text === 'success')));
    expect(notJson.map((a) => ({ path: a.shot.path, status: a.status, contentType: a.contentType, text: a.text.slice(0, 200) }))).toEqual([]);

    // Some got through every check and were stored: the fuzzing reached the store paths, not only the refusals.
    const byStatus = (path: string) => answers.filter((a) => a.shot.path.startsWith(path)).map((a) => a.status);
    for (const path of ['/callbacks/etc', '/callbacks/tencent-ess', '/callbacks/esign', '/callbacks/yuansfer']) {
      expect(byStatus(path).some((s) => s < 300)).toBe(true);
      expect(byStatus(path).some((s) => s >= 400)).toBe(true);
    }
    expect(await app.services.store.receipts.count()).toBeGreaterThan(0);

    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${app.url}/readyz`)).json()).toEqual({ status: 'ready' });
    const read = await app.gql<{ signFlows: { edges: unknown[] } }>('{ signFlows(first: 5) { edges { node { id status } } } }');
    expect(read.errors).toBeUndefined();
    expect(Array.isArray(read.data!.signFlows.edges)).toBe(true);
  }, 60_000);
});
