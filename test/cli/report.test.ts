import { parse } from 'csv-parse/sync';
import { csvField, exitCodeFor, failedCsv, failedRows, tally, type Outcome } from '../../src/cli/report';

const ok = (id: string): Outcome => ({ id, ok: true, code: null, reason: null });
const failed = (id: string, code: string, reason: string): Outcome => ({ id, ok: false, code, reason });
const unknown = (id: string): Outcome => ({ id, ok: null, code: 'TIMEOUT', reason: null });

describe('exit code', () => {
  it('is 0 only when every flow was cancelled, 2 when any failed or stayed unknown', () => {
    expect(exitCodeFor([ok('a'), ok('b')])).toBe(0);
    expect(exitCodeFor([ok('a'), failed('b', 'FLOW_NOT_REVOCABLE', 'x')])).toBe(2);
    expect(exitCodeFor([ok('a'), unknown('b')])).toBe(2);
    expect(exitCodeFor([failed('a', 'X', 'y')])).toBe(2);
  });

  it('tallies succeeded, failed and unknown', () => {
    expect(tally([ok('a'), failed('b', 'X', 'y'), unknown('c'), unknown('d')])).toEqual({ total: 4, succeeded: 1, failed: 1, unknown: 2 });
  });
});

describe('failed-items CSV', () => {
  it('quotes fields with commas, quotes and line breaks and doubles the quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "no"')).toBe('"say ""no"""');
    expect(csvField('one\ntwo')).toBe('"one\ntwo"');
    expect(csvField('one\rtwo')).toBe('"one\rtwo"');
    expect(csvField('合同当前状态不支持撤销')).toBe('合同当前状态不支持撤销');
  });

  it('lists failed and unknown flows in input order, never the cancelled ones', () => {
    const rows = failedRows([ok('a'), failed('b', 'FLOW_NOT_REVOCABLE', 'no'), unknown('c'), { id: 'd', ok: false, code: null, reason: null }]);
    expect(rows.map((r) => r.slice(0, 2))).toEqual([
      ['b', 'FLOW_NOT_REVOCABLE'],
      ['c', 'TIMEOUT'],
      ['d', 'FAILED'],
    ]);
    expect(rows[1]![2]).toMatch(/ended before the provider said/);
  });

  it('round-trips through a CSV reader: Han text, commas, quotes and newlines intact, BOM first', () => {
    const reason = '合同流程Id:yDw1,无法撤回,错误信息:"合同当前状态不支持撤销"\n第二行';
    const text = failedCsv([ok('TENCENT_ESS:a'), failed('TENCENT_ESS:b', 'FLOW_NOT_REVOCABLE', reason), unknown('ETC:c')]);
    expect(text.startsWith('\uFEFFid,code,reason\r\n')).toBe(true);
    const records = parse(text, { bom: true, columns: true }) as Array<Record<string, string>>;
    expect(records).toEqual([
      { id: 'TENCENT_ESS:b', code: 'FLOW_NOT_REVOCABLE', reason },
      { id: 'ETC:c', code: 'TIMEOUT', reason: expect.stringContaining('ended before the provider said') },
    ]);
  });

  it('is a header alone when nothing failed', () => {
    expect(failedCsv([ok('a')])).toBe('\uFEFFid,code,reason\r\n');
  });
});
