import { autoDebitId, parseAutoDebitId, supersedesAutoDebit, type AutoDebitStatus } from '../../src/domain/autodebit';

describe('supersedesAutoDebit', () => {
  it.each<[AutoDebitStatus, AutoDebitStatus, boolean]>([
    ['PENDING', 'ACTIVE', true],
    ['PENDING', 'REVOKED', true],
    ['ACTIVE', 'REVOKED', true],
    ['ACTIVE', 'ACTIVE', false],
    ['ACTIVE', 'PENDING', false],
    // A late "authorized" notice never brings a revoked authorization back.
    ['REVOKED', 'ACTIVE', false],
    ['REVOKED', 'PENDING', false],
    ['REVOKED', 'REVOKED', false],
  ])('%s then %s: %p', (current, next, expected) => {
    expect(supersedesAutoDebit(current, next)).toBe(expected);
  });
});

describe('AutoDebit ids', () => {
  it('round-trips YUANSFER:<autoDebitNo>', () => {
    expect(autoDebitId('298222562856331071')).toBe('YUANSFER:298222562856331071');
    expect(parseAutoDebitId('YUANSFER:298222562856331071')).toBe('298222562856331071');
  });

  it.each(['ETC:298222562856331071', 'YUANSFER:', 'YUANSFER:a:b', 'yuansfer:1', `YUANSFER:${'1'.repeat(65)}`])('refuses %p', (id) => {
    expect(parseAutoDebitId(id)).toBeUndefined();
  });
});
