import { detectFormat, InputError, parseIdFile } from '../../src/cli/input';

const T1 = 'TENCENT_ESS:yDwFmUUckpstqfvzUE1h3jo1f3cqjkGm';
const T2 = 'TENCENT_ESS:yDwiBUUckpstv1nxUy5rOfv2b2ODjFeR';
const E1 = 'ETC:c64665aa4f1c45679e65b6fae33cd773';

describe('parseIdFile: one id a line', () => {
  it('skips blank lines and # comments, trims, keeps file order and line numbers', () => {
    const file = parseIdFile(`# flows to cancel, 2026-11\n\n  ${T1}  \r\n#${T2}\n${E1}\n\n`);
    expect(file).toEqual({
      format: 'lines',
      entries: [
        { id: T1, line: 3 },
        { id: E1, line: 5 },
      ],
      duplicates: [],
    });
  });

  it('reads a file saved with a byte-order mark and old Mac line ends', () => {
    expect(parseIdFile(`\uFEFF${T1}\r${T2}`).entries.map((e) => e.id)).toEqual([T1, T2]);
  });

  it('keeps the first of repeated ids and reports the repeats with both lines', () => {
    const file = parseIdFile(`${T1}\n${T2}\n${T1}\n`);
    expect(file.entries.map((e) => e.id)).toEqual([T1, T2]);
    expect(file.duplicates).toEqual([{ id: T1, line: 3, firstLine: 1 }]);
  });

  it('refuses ids that are not <SignProvider>:<flow id>, naming each line, before anything is sent', () => {
    const attempt = () => parseIdFile(`${T1}\nyDwFmUUckpstqfvzUE1h3jo1f3cqjkGm\nYUANSFER:abc\n${E1} # the wrong one\n`);
    expect(attempt).toThrow(InputError);
    expect(attempt).toThrow(
      [
        '3 invalid flow ids (SignProvider is one of ETC, TENCENT_ESS, ESIGN):',
        'line 2: "yDwFmUUckpstqfvzUE1h3jo1f3cqjkGm" is not <SignProvider>:<provider flow id>',
        'line 3: "YUANSFER:abc" is not <SignProvider>:<provider flow id>',
        `line 4: "${E1} # the wrong one" is not <SignProvider>:<provider flow id>`,
      ].join('\n'),
    );
  });

  it('lists the first ten invalid lines and counts the rest', () => {
    const lines = Array.from({ length: 13 }, (_, i) => `bad${i}`).join('\n');
    expect(() => parseIdFile(lines)).toThrow(/line 10: "bad9"[^]*\n… and 3 more$/);
  });

  it('answers no entries for a file of comments only', () => {
    expect(parseIdFile('# nothing yet\n\n').entries).toEqual([]);
  });
});

describe('parseIdFile: CSV with an id column', () => {
  it('detects the CSV by its header and reads the id column wherever it is', () => {
    const csv = `note,ID,owner\n"合同有误, 重签",${T1},张三\nplain,${E1},"李""四"""\n`;
    expect(detectFormat(csv)).toEqual({ format: 'csv', delimiter: ',' });
    expect(parseIdFile(csv)).toEqual({
      format: 'csv',
      entries: [
        { id: T1, line: 2 },
        { id: E1, line: 3 },
      ],
      duplicates: [],
    });
  });

  it('handles a spreadsheet export: BOM, CRLF, quoted multi-line cells, trailing empty rows, # only at line start', () => {
    const csv = `\uFEFFid,reason\r\n# exported by ops\r\n${T1},"line one\r\nline two"\r\n${T2},"#3 on the list"\r\n,\r\n,\r\n`;
    expect(parseIdFile(csv).entries).toEqual([
      { id: T1, line: 3 },
      { id: T2, line: 5 },
    ]);
  });

  it('reads a lone "id" header and semicolon- or tab-separated exports', () => {
    expect(parseIdFile(`id\n${T1}\n`).entries).toEqual([{ id: T1, line: 2 }]);
    expect(parseIdFile(`name;id\nx;${T1}\n`).entries).toEqual([{ id: T1, line: 2 }]);
    expect(parseIdFile(`id\tname\n${T1}\tx\n`).entries).toEqual([{ id: T1, line: 2 }]);
  });

  it('refuses a CSV without an id column, naming what it found', () => {
    expect(() => parseIdFile(`flow,reason\n${T1},x\n`)).toThrow('line 1 looks like a CSV header but has no "id" column (found "flow", "reason")');
  });

  it('refuses a row whose id cell is empty and an id that is not a flow id, by line', () => {
    expect(() => parseIdFile(`id,note\n${T1},a\n,b\n`)).toThrow('line 3: the id column is empty');
    expect(() => parseIdFile(`id,note\n${T1},a\nnope,b\n`)).toThrow('line 3: "nope" is not <SignProvider>:<provider flow id>');
  });

  it('reports unreadable CSV with the line', () => {
    expect(() => parseIdFile(`id,note\n${T1},"unterminated\n`)).toThrow(/^not a readable CSV/);
  });
});
