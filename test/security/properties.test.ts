import { createCipheriv, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { authenticateEsignCallback, ESIGN_CALLBACK_MAX_AGE_MS, ESIGN_CALLBACK_MAX_SKEW_MS, parseEsignCallback } from '../../src/callbacks/esign';
import { etcTokenMatches, parseEtcCallback } from '../../src/callbacks/etc';
import { readTencentCallback } from '../../src/callbacks/tencent';
import { parseForm, parseYuansferIpn, YUANSFER_IPN_MAX_AGE_MS } from '../../src/callbacks/yuansfer';
import { loadConfig } from '../../src/config';
import type { UserError } from '../../src/domain/model';
import { AutoDebitService, type StartAutoDebitInput } from '../../src/lifecycle/autodebit';
import { validateRescissionInput, type InitiateRescissionInput } from '../../src/lifecycle/rescission';
import { EsignClient } from '../../src/providers/esign/client';
import { verifyEsignCallback } from '../../src/providers/esign/signing';
import { EtcClient } from '../../src/providers/etc/client';
import { TencentClient } from '../../src/providers/tencent/client';
import { CallbackCryptoError, decryptCallback, verifyContentSignature } from '../../src/providers/tencent/signing';
import { cancelMessageProblem } from '../../src/providers/tencent/wire';
import { checkVerifySign } from '../../src/providers/yuansfer/signing';
import { problemOf } from '../../src/security/http-errors';
import { checkCallerUrl, isLoopbackHost, providerLink } from '../../src/security/urls';
import { chinaTime, DOC_TOKEN, form, signed } from '../sandbox/yuansfer/signer';

/**
 * Property tests of everything that reads untrusted input: the callback parsers and verifiers, the providers'
 * signature checks, and the input validators of every mutation. For any input: no exception escapes, the answer
 * has the documented shape, and nothing unproven is ever accepted.
 */

const RUNS = { numRuns: 300 };
const KEY = '0123456789abcdef0123456789abcdef';
const TOKEN = 'sandbox-callback-token';
const ESIGN = { appId: '7438000001', appSecret: 'testAppSecret0123456789' };
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

/** Bytes as a provider could never send them, and JSON that is almost right. */
const anyBody = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s, 'utf8')),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
);
const anyText = fc.string({ unit: 'binary', maxLength: 80 });
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** A field value of any JSON type, biased towards strings. */
const anyField = fc.oneof(anyText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(anyText, { maxLength: 3 }), fc.object({ maxDepth: 1 }));

const isUserErrorList = (errors: UserError[]) =>
  Array.isArray(errors) && errors.every((e) => typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) && Array.isArray(e.field) && typeof e.message === 'string' && e.message !== '');

describe('ETC callback', () => {
  it('parseEtcCallback: never throws; what it accepts has the seed-001 shape', () => {
    const shaped = fc.record({ sign_end_time: anyField, sign_flow_status: fc.oneof(fc.constantFrom('2', '3', '5', '7'), anyField), sign_flow_id: anyField, sign_file_url: anyField }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(anyBody, shaped.map((o) => Buffer.from(JSON.stringify(o)))), (raw) => {
        const parsed = parseEtcCallback(raw);
        if (parsed.ok) {
          expect(['2', '3', '5', '7']).toContain(parsed.value.sign_flow_status);
          expect(parsed.value.sign_flow_id).toMatch(/^[A-Za-z0-9_\-.]{1,64}$/);
        } else {
          expect(typeof parsed.field).toBe('string');
        }
      }),
      RUNS,
    );
  });

  it('etcTokenMatches: only the exact secret matches', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.oneof(fc.string(), fc.array(fc.string()), fc.constant(undefined)), (secret, token) => {
        expect(etcTokenMatches(secret, token)).toBe(token === secret);
        expect(etcTokenMatches(secret, secret)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('Tencent callback', () => {
  const secrets = { callbackKey: KEY, callbackToken: TOKEN };
  const sign = (body: Buffer) => `sha256=${createHmac('sha256', TOKEN).update(body).digest('hex')}`;
  const encrypt = (text: string) => {
    const key = Buffer.from(KEY, 'utf8');
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
    return Buffer.from(JSON.stringify({ encrypt: Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]).toString('base64') }));
  };

  it('readTencentCallback: never throws; without a valid Content-Signature only the empty probe is accepted', () => {
    fc.assert(
      fc.property(anyBody, maybe(fc.oneof(anyText, hex64.map((h) => `sha256=${h}`))), (raw, header) => {
        const verdict = readTencentCallback(raw, header, secrets);
        if (verdict.ok) expect(verdict.value.kind).toBe('probe');
        else expect([400, 401]).toContain(verdict.status);
      }),
      RUNS,
    );
  });

  it('readTencentCallback: signed and encrypted messages of any content never throw, and are 200 or 400', () => {
    const message = fc.record(
      {
        MsgId: anyField,
        MsgType: fc.oneof(fc.constantFrom('FlowStatusChange', 'CancelFlows', 'Other'), anyField),
        MsgData: fc.oneof(
          anyField,
          fc.record({ FlowId: anyField, FlowCallbackStatus: fc.oneof(fc.integer({ min: -2, max: 30 }), anyField), OccurTime: anyField }, { requiredKeys: [] }),
          fc.record({ TaskId: anyField, TaskStatus: anyField, SuccessFlowIds: anyField, FailureFlows: fc.oneof(anyField, fc.array(fc.object({ maxDepth: 1 }), { maxLength: 3 })) }, { requiredKeys: [] }),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(message.map((m) => JSON.stringify(m)), anyText), (plaintext) => {
        const raw = encrypt(plaintext);
        const verdict = readTencentCallback(raw, sign(raw), secrets);
        if (!verdict.ok) expect(verdict.status).toBe(400);
      }),
      RUNS,
    );
  });

  it('decryptCallback: throws nothing but CallbackCryptoError; verifyContentSignature: a boolean, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.base64String({ maxLength: 200 })), anyBody, maybe(anyText), (encrypted, raw, header) => {
        try {
          expect(typeof decryptCallback(encrypted, KEY)).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(CallbackCryptoError);
        }
        expect(verifyContentSignature(raw, TOKEN, header)).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('e签宝 callback', () => {
  it('parseEsignCallback: never throws', () => {
    const shaped = fc.record(
      {
        action: fc.oneof(fc.constantFrom('SIGN_FLOW_COMPLETE', 'SIGN_FILE_RESCISSION_INITIATE', 'SIGN_FILE_RESCINDED', 'SIGN_MISSON_COMPLETE'), anyField),
        timestamp: fc.oneof(fc.integer(), anyField),
        signFlowId: anyField,
        signFlowStatus: anyField,
        signFlowFinishTime: anyField,
        rescissionSignFlowId: anyField,
        rescissionFileIds: anyField,
        rescindReason: anyField,
        rescindReasonNotes: anyField,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(anyBody, shaped.map((o) => Buffer.from(JSON.stringify(o)))), (raw) => {
        const parsed = parseEsignCallback(raw);
        if (!parsed.ok) expect(typeof parsed.message).toBe('string');
      }),
      RUNS,
    );
  });

  it('authenticateEsignCallback: never throws and never accepts a signature it did not compute', () => {
    const headers = fc.record(
      {
        'x-tsign-open-timestamp': fc.oneof(anyText, fc.integer({ min: 0, max: 2 * NOW }).map(String)),
        'x-tsign-open-signature': fc.oneof(anyText, hex64),
        'x-tsign-open-signature-algorithm': fc.oneof(fc.constant('hmac-sha256'), anyText),
        'x-tsign-open-app-id': fc.oneof(fc.constant(ESIGN.appId), anyText),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(anyBody, headers, fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }), (rawBody, h, query) => {
        expect(authenticateEsignCallback({ rawBody, headers: h, query, ...ESIGN, now: NOW }).ok).toBe(false);
      }),
      RUNS,
    );
  });

  it('authenticateEsignCallback: a genuine signature is accepted exactly inside the freshness window', () => {
    fc.assert(
      fc.property(anyBody, fc.integer({ min: -ESIGN_CALLBACK_MAX_AGE_MS - 3600_000, max: ESIGN_CALLBACK_MAX_SKEW_MS + 3600_000 }), (rawBody, offset) => {
        const timestamp = String(NOW + offset);
        // e签宝 signs timestamp + our URL's query values (none here) + the exact body bytes.
        const exact = createHmac('sha256', ESIGN.appSecret).update(Buffer.concat([Buffer.from(timestamp), rawBody])).digest('hex');
        const verdict = authenticateEsignCallback({ rawBody, headers: { 'x-tsign-open-timestamp': timestamp, 'x-tsign-open-signature': exact }, query: {}, ...ESIGN, now: NOW });
        const fresh = offset >= -ESIGN_CALLBACK_MAX_AGE_MS && offset <= ESIGN_CALLBACK_MAX_SKEW_MS;
        expect(verdict.ok).toBe(fresh);
      }),
      RUNS,
    );
  });

  it('verifyEsignCallback: never throws on any header values', () => {
    fc.assert(
      fc.property(anyBody, maybe(anyText), maybe(anyText), fc.integer(), (rawBody, timestampHeader, signatureHeader, now) => {
        expect(verifyEsignCallback({ rawBody, appSecret: ESIGN.appSecret, timestampHeader, signatureHeader, callbackQuery: {}, now }).ok).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('Yuansfer IPN', () => {
  it('parseForm and parseYuansferIpn: never throw; an unsigned or mis-signed notice is never accepted', () => {
    const params = fc.dictionary(fc.oneof(fc.constantFrom('autoDebitNo', 'status', 'time', 'vendor', 'note', 'verifySign'), fc.string({ maxLength: 8 })), fc.string({ unit: 'binary', maxLength: 40 }), { maxKeys: 8 });
    fc.assert(
      fc.property(fc.oneof(anyBody, params.map((p) => Buffer.from(form(p)))), (raw) => {
        parseForm(raw);
        const parsed = parseYuansferIpn(raw, DOC_TOKEN, NOW);
        expect(parsed.ok).toBe(false);
        if (!parsed.ok) expect([400, 401]).toContain(parsed.status);
      }),
      RUNS,
    );
  });

  it('parseYuansferIpn: signed notices of any content never throw; accepted ones are fresh', () => {
    const notice = fc.record(
      {
        autoDebitNo: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.string({ maxLength: 70 })),
        status: fc.oneof(fc.constant('revoked'), fc.string({ maxLength: 10 })),
        time: fc.oneof(fc.integer({ min: NOW - 2 * YUANSFER_IPN_MAX_AGE_MS, max: NOW + 2 * 3600_000 }).map(chinaTime), fc.string({ maxLength: 16 })),
        vendor: fc.string({ maxLength: 70 }),
        note: fc.string({ maxLength: 1100 }),
        autoReference: fc.string({ maxLength: 140 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(notice, (p) => {
        const params = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Record<string, string>;
        const parsed = parseYuansferIpn(Buffer.from(form(signed(params))), DOC_TOKEN, NOW);
        if (parsed.ok) {
          expect(NOW - parsed.notice.time.getTime()).toBeLessThanOrEqual(YUANSFER_IPN_MAX_AGE_MS);
          expect(parsed.notice.autoDebitNo).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
        }
      }),
      RUNS,
    );
  });

  it('checkVerifySign: never throws, whatever the values are', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 10 }), anyField, { maxKeys: 6 }), anyText, (params, token) => {
        expect(typeof checkVerifySign(params, token)).toBe('boolean');
      }),
      RUNS,
    );
  });
});

describe('mutation input validators', () => {
  const config = loadConfig({ SANDBOX: 'on' });
  const clients = [new EtcClient(config.etc!), new TencentClient(config.tencent!), new EsignClient(config.esign!)];
  const autoDebits = new AutoDebitService({} as never, undefined, {} as never, {} as never, {
    ipnUrl: () => 'http://127.0.0.1/callbacks/yuansfer',
    redirectUrls: { origins: ['https://shop.example.com'], loopback: false },
  });
  const url = fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), anyText, fc.constantFrom('javascript:alert(1)', 'https://shop.example.com/x', 'http://127.0.0.1/x', 'https://a:b@shop.example.com/'));

  it('revokeSignFlow / cancelSignFlows: every provider validator answers userErrors, never an exception', () => {
    fc.assert(
      fc.property(anyText, maybe(fc.oneof(anyText, fc.constant(null))), maybe(fc.oneof(anyText, fc.constant(null))), maybe(fc.oneof(fc.integer(), fc.double(), fc.constant(null))), (providerFlowId, reason, etcMemberNo, cancelMessageFormat) => {
        for (const client of clients) expect(isUserErrorList(client.validateRevoke({ providerFlowId, reason, etcMemberNo, cancelMessageFormat }))).toBe(true);
        cancelMessageProblem(reason ?? '');
      }),
      RUNS,
    );
  });

  it('startAutoDebit: validateStart answers userErrors; an accepted redirectUrl is on an allowed origin', () => {
    const input = fc.record({
      vendor: fc.oneof(fc.constantFrom('alipay', 'GCASH', 'tng'), anyText),
      terminal: fc.constantFrom('ONLINE', 'WAP', 'APP'),
      redirectUrl: url,
      reference: maybe(fc.oneof(anyText, fc.constant(null))),
      note: maybe(fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null))),
      osType: maybe(fc.constantFrom('IOS', 'ANDROID', null)),
      osVersion: maybe(fc.oneof(anyText, fc.constant(null))),
      merchantNo: maybe(fc.oneof(anyText, fc.constant(null))),
      storeNo: maybe(fc.oneof(anyText, fc.constant(null))),
    });
    fc.assert(
      fc.property(input, (i) => {
        const errors = autoDebits.validateStart(i as StartAutoDebitInput);
        expect(isUserErrorList(errors)).toBe(true);
        if (!errors.some((e) => e.field?.join('.') === 'input.redirectUrl')) expect(new URL(i.redirectUrl).origin).toBe('https://shop.example.com');
      }),
      RUNS,
    );
  });

  it('initiateRescission: validateRescissionInput answers userErrors for any input', () => {
    const text = fc.oneof(anyText, fc.constant(''));
    const input = fc.record({
      signFlowId: fc.oneof(text, text.map((t) => `ESIGN:${t}`)),
      fileIds: fc.array(text, { maxLength: 12 }),
      reason: fc.constantFrom('WRONG_TERMS', 'WRONG_SEAL', 'OTHER'),
      notes: maybe(fc.oneof(fc.string({ maxLength: 260 }), fc.constant(null))),
      initiator: fc.record({ person: maybe(fc.oneof(fc.record({ psnId: text }), fc.constant(null))), organization: maybe(fc.oneof(fc.record({ orgId: text, transactorPsnId: text }), fc.constant(null))) }),
      notifyUrl: maybe(fc.oneof(url, fc.constant(null))),
      signFlowConfig: maybe(
        fc.oneof(
          fc.constant(null),
          fc.record(
            {
              expireTime: fc.date({ noInvalidDate: true }),
              charge: fc.record({ mode: fc.constantFrom('INTEGRATOR', 'INITIATOR_ORGANIZATION') }),
              sign: fc.record({ availableSignClientTypes: fc.array(fc.constantFrom('WEB', 'ALIPAY'), { maxLength: 2 }), psnSealStyles: fc.array(fc.constantFrom('HANDWRITTEN', 'NAME_SEAL'), { maxLength: 2 }) }, { requiredKeys: [] }),
            },
            { requiredKeys: [] },
          ),
        ),
      ),
      autoSignOrg: maybe(fc.array(fc.record({ orgId: maybe(text), orgName: maybe(text), sealId: text }), { maxLength: 3 })),
      orgSignerTransactor: maybe(fc.array(fc.record({ orgId: maybe(text), orgName: maybe(text), transactorInfo: fc.record({ psnId: maybe(text), psnAccount: maybe(text), psnName: maybe(text) }) }), { maxLength: 3 })),
    });
    fc.assert(
      fc.property(input, (i) => {
        expect(isUserErrorList(validateRescissionInput(i as unknown as InitiateRescissionInput, new Date(NOW)))).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('URL rules and error answers', () => {
  it('checkCallerUrl: an allowed URL is http(s) on a listed origin (or loopback when allowed); never throws', () => {
    const policy = { origins: ['https://shop.example.com', 'http://localhost:5173'], loopback: true };
    fc.assert(
      fc.property(fc.oneof(fc.webUrl(), anyText, fc.constantFrom('http://127.0.0.2:1/', 'http://[::1]/x', 'http://0x7f.1/', 'http://localhost.evil.example/')), (value) => {
        const refused = checkCallerUrl(value, policy, ['input', 'url'], 'X_ORIGINS');
        let parsed: URL | undefined;
        try {
          parsed = new URL(value);
        } catch {
          parsed = undefined;
        }
        if (!refused && parsed && /^https?:$/.test(parsed.protocol)) {
          expect(policy.origins.includes(parsed.origin) || isLoopbackHost(parsed.hostname)).toBe(true);
          expect(parsed.username + parsed.password).toBe('');
        }
        if (refused) expect(refused).toMatchObject({ code: 'URL_NOT_ALLOWED', field: ['input', 'url'] });
      }),
      RUNS,
    );
    expect(isLoopbackHost('localhost.evil.example')).toBe(false);
  });

  it('providerLink: keeps only http(s) URLs', () => {
    fc.assert(
      fc.property(fc.oneof(fc.webUrl(), anyText, fc.constantFrom('javascript:alert(1)', 'JAVASCRIPT:x', ' javascript:x', 'data:text/html,x', 'vbscript:x')), (value) => {
        const kept = providerLink(value);
        if (kept !== undefined) expect(new URL(kept).protocol).toMatch(/^https?:$/);
      }),
      RUNS,
    );
  });

  it('problemOf: any thrown value becomes a 4xx with a code or a masked 500', () => {
    fc.assert(
      fc.property(fc.anything(), (error) => {
        const problem = problemOf(error, 'req-1');
        expect(problem.status >= 400 && problem.status < 600).toBe(true);
        expect(problem.code).toMatch(/^[A-Z_]+$/);
        if (problem.status >= 500) expect(problem.message).toBe('Internal server error (request id req-1)');
      }),
      RUNS,
    );
  });
});
