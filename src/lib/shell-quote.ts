/** `text` as one shell word: bare when it is safe, else single-quoted (for commands we print). */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
