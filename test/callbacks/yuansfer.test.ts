import { parseForm, parseYuansferIpn } from '../../src/callbacks/yuansfer';
import { noticeKind, parseYuansferTime } from '../../src/providers/yuansfer/mapping';
import { DOC_TOKEN, form, sign, signed } from '../sandbox/yuansfer/signer';

const NOTICE = { autoDebitNo: '298222562856331071', autoReference: 'testAuth2021010801', vendor: 'gcash', time: '20210108031731', note: 'monthly plan' };

describe('parseYuansferTime (UTC+8)', () => {
  it('reads YYYYMMDDHHMMSS on Yuansfer\'s clock', () => {
    expect(parseYuansferTime('20221020142817')?.toISOString()).toBe('2022-10-20T06:28:17.000Z');
    expect(parseYuansferTime('20240101070000')?.toISOString()).toBe('2023-12-31T23:00:00.000Z');
  });

  it.each(['2022102014281', '2022-10-20 14:28:17', '20240230120000', '20241301000000', '20240101246000', ''])('refuses %p', (value) => {
    expect(parseYuansferTime(value)).toBeNull();
  });
});

describe('noticeKind', () => {
  it.each<[string | undefined, string | undefined]>([
    [undefined, 'authorized'],
    ['', 'authorized'],
    ['success', 'authorized'],
    ['revoked', 'revoked'],
    ['REVOKED', 'revoked'],
    ['closed', undefined],
  ])('%p → %p', (status, kind) => {
    expect(noticeKind(status)).toBe(kind);
  });
});

describe('parseForm', () => {
  it('decodes the form, + and %XX included', () => {
    expect(parseForm('note=two+words%26more&vendor=gcash')).toEqual({ ok: true, params: { note: 'two words&more', vendor: 'gcash' } });
  });

  it('refuses an empty body and repeated names', () => {
    expect(parseForm(Buffer.alloc(0))).toMatchObject({ ok: false, field: '(body)' });
    expect(parseForm('autoDebitNo=1&autoDebitNo=2')).toEqual({ ok: false, field: 'autoDebitNo', message: 'autoDebitNo appears more than once' });
  });
});

describe('parseYuansferIpn', () => {
  it('accepts the documented authorization notice and names its dedupe identity', () => {
    const raw = form(signed(NOTICE));
    const parsed = parseYuansferIpn(Buffer.from(raw), DOC_TOKEN);
    expect(parsed).toEqual({
      ok: true,
      notice: {
        kind: 'authorized',
        autoDebitNo: NOTICE.autoDebitNo,
        autoReference: NOTICE.autoReference,
        vendor: 'gcash',
        note: 'monthly plan',
        time: new Date('2021-01-07T19:17:31.000Z'),
        receipt: { dedupeKey: '298222562856331071|authorized|20210108031731', body: raw },
      },
    });
  });

  it('reads the channel from customerBelongsTo, and the revocation notice from status=revoked', () => {
    const { vendor: _vendor, ...rest } = NOTICE;
    const parsed = parseYuansferIpn(form(signed({ ...rest, customerBelongsTo: 'GCASH', status: 'revoked' })), DOC_TOKEN);
    expect(parsed).toMatchObject({ ok: true, notice: { kind: 'revoked', vendor: 'GCASH', receipt: { dedupeKey: '298222562856331071|revoked|20210108031731' } } });
  });

  it('checks the signature over every field, in any order and encoding', () => {
    const reordered = new URLSearchParams([...new URLSearchParams(form(signed(NOTICE)))].reverse()).toString();
    expect(parseYuansferIpn(reordered, DOC_TOKEN).ok).toBe(true);
    const emptyNote = form(signed({ ...NOTICE, note: '' }));
    expect(parseYuansferIpn(emptyNote, DOC_TOKEN)).toMatchObject({ ok: true, notice: { note: null } });
  });

  it.each<[string, string]>([
    ['no verifySign', form(NOTICE)],
    ['another token', form({ ...NOTICE, verifySign: sign(NOTICE, 'someone-else') })],
    ['a changed field', form({ ...signed(NOTICE), autoDebitNo: '298222562856331072' })],
    ['an added field', form({ ...signed(NOTICE), status: 'revoked' })],
    ['a removed field', form({ ...signed(NOTICE), note: '' })],
  ])('refuses %s with 401 before reading any field', (_case, raw) => {
    expect(parseYuansferIpn(raw, DOC_TOKEN)).toMatchObject({ ok: false, status: 401, field: 'verifySign' });
  });

  it.each<[string, Record<string, string>, string, string]>([
    ['a payment notice', { transactionNo: '305680500880311923', status: 'success', amount: '0.01', time: '20221020142817' }, 'autoDebitNo', 'autoDebitNo is required (a payment IPN was sent to the authorization URL?)'],
    ['a malformed autoDebitNo', { ...NOTICE, autoDebitNo: '29822/../1' }, 'autoDebitNo', 'autoDebitNo must be 1 to 64 letters, digits, "_" or "-"'],
    ['an unknown status', { ...NOTICE, status: 'closed' }, 'status', 'status must be absent (authorized) or "revoked"'],
    ['no time', { ...NOTICE, time: '' }, 'time', 'time is required'],
    ['a malformed time', { ...NOTICE, time: '2021-01-08 03:17:31' }, 'time', 'time must be YYYYMMDDHHMMSS'],
    ['a very long note', { ...NOTICE, note: 'n'.repeat(1025) }, 'note', 'note must be at most 1024 characters'],
  ])('refuses %s with 400 naming the field', (_case, params, field, message) => {
    expect(parseYuansferIpn(form(signed(params)), DOC_TOKEN)).toEqual({ ok: false, status: 400, field, message });
  });
});
