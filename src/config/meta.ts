/**
 * Schema metadata used by the config module. Every leaf of the Wharf config schema may carry:
 * - `description`: one line shown in `config print-default` and in docs;
 * - `expected`: how a validation error describes an acceptable value ("an integer from 0 to 65535");
 * - `secret`: the value is masked by `maskSecrets` (`"****"`);
 * - `secretUrl`: the value is a URL whose password part is masked;
 * - `example`: a value shown (commented out) in `config print-default` for keys without a default.
 */
declare module 'zod' {
  interface GlobalMeta {
    expected?: string;
    secret?: boolean;
    secretUrl?: boolean;
    example?: unknown;
  }
}

export {};
