/** What a masked secret shows instead of its value. */
export const MASK = '****';

/** `url` with its password replaced by `****`, or undefined when `url` is no URL. */
export function maskUrlPassword(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = MASK;
    return parsed.toString();
  } catch {
    return undefined;
  }
}

/** `text` with the password of every `scheme://user:password@` in it replaced by `****`. */
export function maskUrlPasswords(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s/]*@/gi, `$1${MASK}@`);
}
