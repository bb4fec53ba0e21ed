/** A parsed CSV record with the 1-based line on which it starts, for error messages. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

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

/** RFC 4180: commas, double-quoted fields with "" escapes and embedded newlines, CRLF or LF. Blank lines are skipped. */
export function* parseCsv(text: string): Generator<CsvRecord> {
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let endOfRecord = false;
    while (!endOfRecord) {
      if (i < n && text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) break;
          const ch = text[i];
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
      }
      // Unquoted part (or whatever trails a closing quote) up to the next comma or line end.
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      field += text.slice(i, j);
      i = j;
      fields.push(field);
      field = '';
      if (i >= n) endOfRecord = true;
      else if (text[i] === ',') i++;
      else {
        if (text[i] === '\r') i++;
        if (text[i] === '\n') i++;
        line++;
        endOfRecord = true;
      }
    }
    if (fields.length === 1 && fields[0].trim() === '') continue;
    yield { line: startLine, fields };
  }
}
