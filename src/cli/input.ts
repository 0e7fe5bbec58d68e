import { parse } from 'csv-parse/sync';
import { parseFlowId, SIGN_PROVIDERS } from '../domain/model';

/** One flow id read from the operator's file, with the line it came from so errors can point at it. */
export interface IdEntry {
  id: string;
  line: number;
}

export interface IdFile {
  format: 'lines' | 'csv';
  /** Unique ids in file order. */
  entries: IdEntry[];
  /** Later occurrences of an id already listed: dropped, since one flow cannot be cancelled twice. */
  duplicates: Array<IdEntry & { firstLine: number }>;
}

/** The file is unusable as given; the message names the line or column at fault. */
export class InputError extends Error {
  override name = 'InputError';
}

const DELIMITERS = [',', ';', '\t'] as const;
const MAX_LISTED = 10;

const isComment = (line: string) => line.startsWith('#');

/** The first line that carries content: the header of a CSV, or the first id of a plain list. */
function firstContentLine(lines: readonly string[]): string | undefined {
  return lines.map((l) => l.trim()).find((l) => l !== '' && !isComment(l));
}

/**
 * A CSV is recognised by its header: a first line with a cell named `id` (any case) under one of the usual
 * delimiters. A plain list has no header, and a flow id never contains a delimiter, so a first line with one but
 * no `id` cell is a CSV the operator meant but mislabelled: refused rather than read as a single bad id.
 */
export function detectFormat(text: string): { format: 'lines' } | { format: 'csv'; delimiter: string } {
  const header = firstContentLine(stripBom(text).split(/\r\n|\n|\r/));
  if (header === undefined) return { format: 'lines' };
  for (const delimiter of DELIMITERS) {
    if (!header.includes(delimiter)) continue;
    const cells = headerCells(header, delimiter);
    if (cells.some((c) => c.toLowerCase() === 'id')) return { format: 'csv', delimiter };
  }
  if (header.toLowerCase() === 'id') return { format: 'csv', delimiter: ',' };
  const delimiter = DELIMITERS.find((d) => header.includes(d));
  if (delimiter) {
    const shown = headerCells(header, delimiter).map((c) => JSON.stringify(c)).join(', ');
    throw new InputError(`line 1 looks like a CSV header but has no "id" column (found ${shown})`);
  }
  return { format: 'lines' };
}

function headerCells(header: string, delimiter: string): string[] {
  try {
    const [cells] = parse(header, { delimiter, relax_quotes: true }) as string[][];
    return (cells ?? []).map((c) => c.trim());
  } catch {
    return header.split(delimiter).map((c) => c.trim());
  }
}

const stripBom = (text: string) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

/**
 * Reads the operator's id file: one flow id a line (blank lines and `#` comment lines ignored), or a CSV with an
 * `id` column (spreadsheet exports: BOM, quoted cells, CRLF). Every id is checked against the API's id form here,
 * so a typo on line 9,000 stops the run before the first request rather than after some flows were cancelled.
 */
export function parseIdFile(text: string): IdFile {
  const detected = detectFormat(text);
  const raw = detected.format === 'csv' ? csvEntries(text, detected.delimiter) : lineEntries(text);

  const problems: string[] = [];
  for (const entry of raw) {
    if (!parseFlowId(entry.id)) problems.push(`line ${entry.line}: ${JSON.stringify(entry.id.slice(0, 80))} is not <SignProvider>:<provider flow id>`);
  }
  if (problems.length > 0) {
    const more = problems.length > MAX_LISTED ? `\n… and ${problems.length - MAX_LISTED} more` : '';
    throw new InputError(
      `${problems.length} invalid flow id${problems.length === 1 ? '' : 's'} (SignProvider is one of ${SIGN_PROVIDERS.join(', ')}):\n${problems.slice(0, MAX_LISTED).join('\n')}${more}`,
    );
  }

  const firstSeen = new Map<string, number>();
  const entries: IdEntry[] = [];
  const duplicates: IdFile['duplicates'] = [];
  for (const entry of raw) {
    const first = firstSeen.get(entry.id);
    if (first === undefined) {
      firstSeen.set(entry.id, entry.line);
      entries.push(entry);
    } else {
      duplicates.push({ ...entry, firstLine: first });
    }
  }
  return { format: detected.format, entries, duplicates };
}

function lineEntries(text: string): IdEntry[] {
  const entries: IdEntry[] = [];
  stripBom(text)
    .split(/\r\n|\n|\r/)
    .forEach((rawLine, i) => {
      const line = rawLine.trim();
      if (line !== '' && !isComment(line)) entries.push({ id: line, line: i + 1 });
    });
  return entries;
}

function csvEntries(text: string, delimiter: string): IdEntry[] {
  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // One line-break form, so csv-parse's line count is the editor's (it miscounts CRLF inside quoted cells).
    rows = parse(text.replace(/\r\n?/g, '\n'), {
      bom: true,
      delimiter,
      comment: '#',
      // `#` starts a comment only at the start of a line: a reason cell may well contain one.
      comment_no_infix: true,
      skip_empty_lines: true,
      // Spreadsheets leave rows of empty cells after the data.
      skip_records_with_empty_values: true,
      relax_column_count: true,
      info: true,
    }) as unknown as typeof rows;
  } catch (error) {
    const e = error as Error & { lines?: number };
    throw new InputError(`not a readable CSV${e.lines ? ` (line ${e.lines})` : ''}: ${e.message}`);
  }
  const [header, ...records] = rows;
  const column = header ? header.record.findIndex((cell) => cell.trim().toLowerCase() === 'id') : -1;
  if (column < 0) throw new InputError('the CSV header has no "id" column');
  return records.map(({ record, info }) => {
    // csv-parse counts the line a record ends on; a quoted cell may span lines, and the operator looks for its first.
    const line = info.lines - record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0);
    const id = (record[column] ?? '').trim();
    if (id === '') throw new InputError(`line ${line}: the id column is empty`);
    return { id, line };
  });
}
