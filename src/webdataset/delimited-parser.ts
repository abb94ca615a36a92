// Incremental CSV/TSV parser (RFC 4180 quoting: "a, b" and "say ""hi"""; CRLF or LF line ends) that
// accepts text in arbitrary chunks, so caption tables of any size stream through in bounded memory.
// pushRows/endRows also give the line each row starts on, for messages about a row.

export interface ParsedRow {
  fields: string[];
  /** 1-based line the row starts on. */
  line: number;
}

export class DelimitedParser {
  private readonly delimiter: string;
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  private quoteSeen = false; // just saw a quote inside a quoted field (could be "" or the closing quote)
  private fieldStarted = false;
  line = 1;
  private rowLine = 1;

  constructor(delimiter: ',' | '\t') {
    this.delimiter = delimiter;
  }

  /** Parse more text; returns the rows completed by it. */
  push(text: string): string[][] {
    return this.pushRows(text).map((r) => r.fields);
  }

  /** Flush the last row (a file without a final newline). */
  end(): string[][] {
    return this.endRows().map((r) => r.fields);
  }

  /** push() with the line each row starts on. */
  pushRows(text: string): ParsedRow[] {
    const rows: ParsedRow[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (this.inQuotes) {
        if (this.quoteSeen) {
          this.quoteSeen = false;
          if (c === '"') {
            this.field += '"';
            continue;
          }
          this.inQuotes = false; // that quote closed the field; handle c normally below
        } else if (c === '"') {
          this.quoteSeen = true;
          continue;
        } else {
          if (c === '\n') this.line++;
          this.field += c;
          continue;
        }
      }
      if (c === '"' && !this.fieldStarted) {
        this.inQuotes = true;
        this.fieldStarted = true;
        continue;
      }
      if (c === this.delimiter) {
        this.endField();
        continue;
      }
      if (c === '\n') {
        this.endField();
        this.endRow(rows);
        this.line++;
        continue;
      }
      // CRLF (a lone CR at a chunk end is dropped too)
      if (c === '\r' && (text[i + 1] === '\n' || i + 1 === text.length)) continue;
      this.field += c;
      this.fieldStarted = true;
    }
    return rows;
  }

  /** end() with the line the last row starts on. */
  endRows(): ParsedRow[] {
    if (this.inQuotes && !this.quoteSeen)
      throw new Error(`unterminated quoted field starting before line ${this.line}`);
    this.inQuotes = false;
    this.quoteSeen = false;
    const rows: ParsedRow[] = [];
    if (this.fieldStarted || this.row.length > 0) {
      this.endField();
      this.endRow(rows);
    }
    return rows;
  }

  private endField(): void {
    this.row.push(this.field);
    this.field = '';
    this.fieldStarted = false;
  }

  private endRow(rows: ParsedRow[]): void {
    const row = this.row;
    const line = this.rowLine;
    this.row = [];
    this.rowLine = this.line + 1; // the next row starts after this row's newline (if any)
    if (row.length === 1 && row[0] === '') return; // blank line
    rows.push({ fields: row, line });
  }
}

/** Tab when the header line has a tab, else comma. */
export function detectDelimiter(headerLine: string): ',' | '\t' {
  return headerLine.includes('\t') ? '\t' : ',';
}
