// Incremental CSV/TSV parser (RFC 4180 quoting: "a, b" and "say ""hi"""; CRLF or LF line ends) that
// accepts text in arbitrary chunks, so caption tables of any size stream through in bounded memory.

export class DelimitedParser {
  private readonly delimiter: string;
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  private quoteSeen = false; // just saw a quote inside a quoted field (could be "" or the closing quote)
  private fieldStarted = false;
  line = 1;

  constructor(delimiter: ',' | '\t') {
    this.delimiter = delimiter;
  }

  /** Parse more text; returns the rows completed by it. */
  push(text: string): string[][] {
    const rows: string[][] = [];
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
      if (c === '\r' && (text[i + 1] === '\n' || i + 1 === text.length)) continue; // CRLF (a lone CR at a chunk end is dropped too)
      this.field += c;
      this.fieldStarted = true;
    }
    return rows;
  }

  /** Flush the last row (a file without a final newline). */
  end(): string[][] {
    if (this.inQuotes && !this.quoteSeen)
      throw new Error(`unterminated quoted field starting before line ${this.line}`);
    this.inQuotes = false;
    this.quoteSeen = false;
    const rows: string[][] = [];
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

  private endRow(rows: string[][]): void {
    const row = this.row;
    this.row = [];
    if (row.length === 1 && row[0] === '') return; // blank line
    rows.push(row);
  }
}

/** Tab when the header line has a tab, else comma. */
export function detectDelimiter(headerLine: string): ',' | '\t' {
  return headerLine.includes('\t') ? '\t' : ',';
}
