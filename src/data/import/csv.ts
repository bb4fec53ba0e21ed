import { createReadStream } from 'node:fs';

/** A parsed CSV record with the 1-based line on which it starts, for error messages. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** A line that could not be read as a record: the reason names what was wrong, never the line's text. */
export interface CsvLineError {
  line: number;
  fields: null;
  error: string;
}

export type CsvRow = CsvRecord | CsvLineError;

/** A longer line is never a K-line row; it is reported and skipped, so one runaway line cannot fill memory. */
export const MAX_LINE_CHARS = 65_536;

/**
 * Text of a CSV export: UTF-8 (with or without BOM), or GB18030 for files saved by Excel on a
 * Chinese Windows, which is how akshare exports often arrive.
 */
export function decodeCsv(bytes: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = new TextDecoder('gb18030').decode(bytes);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * One line as RFC 4180 fields: commas, double-quoted fields with "" escapes. A record never spans lines:
 * K-line exports have no multi-line values, so a quote left open at the end of the line makes that line bad
 * and the next line starts afresh (one stray `"` cannot swallow the rest of the file).
 */
export function parseCsvLine(text: string): string[] | { error: string } {
  if (text.indexOf('"') < 0) return text.split(',');
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const q = text.indexOf('"', i);
        if (q < 0) break;
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        closed = true;
        break;
      }
      if (!closed) return { error: `unbalanced quote: field ${fields.length + 1} opens a " that the line never closes` };
    }
    // Unquoted part (or whatever trails a closing quote) up to the next comma.
    const comma = text.indexOf(',', i);
    const end = comma < 0 ? n : comma;
    field += text.slice(i, end);
    fields.push(field);
    if (comma < 0) return fields;
    i = comma + 1;
  }
}

function lineRow(line: number, text: string): CsvRow | null {
  if (text.length > MAX_LINE_CHARS) return { line, fields: null, error: `line longer than ${MAX_LINE_CHARS} characters` };
  if (text.trim() === '') return null;
  const parsed = parseCsvLine(text);
  return Array.isArray(parsed) ? { line, fields: parsed } : { line, fields: null, error: parsed.error };
}

/** The records of a CSV text, one per non-blank line (LF or CRLF). */
export function* parseCsv(text: string): Generator<CsvRow> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let line = 0;
  let start = 0;
  while (start < body.length) {
    line++;
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    const row = lineRow(line, body.slice(start, end > start && body[end - 1] === '\r' ? end - 1 : end));
    if (row) yield row;
    start = end + 1;
  }
}

const NEWLINE = 0x0a;

/**
 * Streams a CSV file as batches of rows, reading it in 64 KB chunks so memory stays bounded whatever its size
 * (small chunks also let each batch's garbage die young, which keeps V8's heap, and so the RSS, small).
 * The encoding is UTF-8 (BOM allowed) unless the first non-ASCII bytes are not UTF-8, then GB18030; a line
 * that is not valid in the file's encoding is a bad row. A line longer than MAX_LINE_CHARS is a bad row and
 * is skipped without being held in memory.
 */
export async function* readCsvFile(path: string, chunkBytes = 1 << 16): AsyncGenerator<CsvRow[]> {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const gb = new TextDecoder('gb18030');
  let encoding: 'undecided' | 'utf-8' | 'gb18030' = 'undecided';
  let line = 0;
  let first = true;
  let carry: Buffer | null = null;
  /** set while the rest of an over-long line is being thrown away */
  let skipping = false;

  const decodeLine = (bytes: Buffer): string | null => {
    if (encoding === 'gb18030') return gb.decode(bytes);
    try {
      return utf8.decode(bytes);
    } catch {
      return null;
    }
  };

  const decodeBlock = (bytes: Buffer, out: CsvRow[]): void => {
    let text: string | null = null;
    if (encoding === 'gb18030') text = gb.decode(bytes);
    else {
      try {
        text = utf8.decode(bytes);
        if (encoding === 'undecided' && text.length !== bytes.length) encoding = 'utf-8';
      } catch {
        if (encoding === 'undecided') {
          // The first line with non-ASCII bytes decides: UTF-8 if it is, else GB18030.
          let at = 0;
          while (at < bytes.length && bytes[at] < 0x80) at++;
          const from = bytes.lastIndexOf(NEWLINE, at) + 1;
          const to = bytes.indexOf(NEWLINE, at);
          encoding = decodeLine(bytes.subarray(from, to < 0 ? bytes.length : to)) === null ? 'gb18030' : 'utf-8';
          if (encoding === 'gb18030') text = gb.decode(bytes);
        }
      }
    }
    if (first) {
      first = false;
      if (text !== null && text.charCodeAt(0) === 0xfeff) {
        encoding = 'utf-8';
        text = text.slice(1);
      }
    }
    if (text !== null) {
      let start = 0;
      for (;;) {
        let end = text.indexOf('\n', start);
        const last = end < 0;
        if (last) end = text.length;
        line++;
        const row = lineRow(line, text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end));
        if (row) out.push(row);
        if (last) return;
        start = end + 1;
      }
    }
    // A UTF-8 file with some lines that are not UTF-8: find them line by line.
    let start = 0;
    for (;;) {
      let end = bytes.indexOf(NEWLINE, start);
      const last = end < 0;
      if (last) end = bytes.length;
      line++;
      const decoded = decodeLine(bytes.subarray(start, end));
      if (decoded === null) out.push({ line, fields: null, error: 'not valid UTF-8 text (the rest of the file is UTF-8)' });
      else {
        const row = lineRow(line, decoded.endsWith('\r') ? decoded.slice(0, -1) : decoded);
        if (row) out.push(row);
      }
      if (last) return;
      start = end + 1;
    }
  };

  for await (const chunk of createReadStream(path, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    const out: CsvRow[] = [];
    let buf: Buffer = chunk;
    if (skipping) {
      const nl = buf.indexOf(NEWLINE);
      if (nl < 0) continue;
      skipping = false;
      buf = buf.subarray(nl + 1);
    } else if (carry !== null) {
      buf = Buffer.concat([carry, buf]);
    }
    carry = null;
    const lastNl = buf.lastIndexOf(NEWLINE);
    if (lastNl >= 0) {
      decodeBlock(buf.subarray(0, lastNl), out);
      buf = buf.subarray(lastNl + 1);
    }
    if (buf.length > MAX_LINE_CHARS * 4) {
      // No newline within any plausible line length: report it and drop bytes until the next newline.
      line++;
      out.push({ line, fields: null, error: `line longer than ${MAX_LINE_CHARS} characters` });
      skipping = true;
      first = false;
    } else if (buf.length > 0) carry = Buffer.from(buf);
    if (out.length) yield out;
  }
  if (carry !== null && carry.length > 0) {
    const out: CsvRow[] = [];
    decodeBlock(carry, out);
    if (out.length) yield out;
  }
}
