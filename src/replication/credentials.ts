import type { SecretBox } from '../lib/secret-box.js';

/** A push target's credentials: a user and a password (or a token, or a robot's secret). */
export interface Credentials {
  username: string;
  password: string;
}

export const sealCredentials = (box: SecretBox, credentials: Credentials): string => box.seal(JSON.stringify(credentials));

export function openCredentials(box: SecretBox, sealed: string): Credentials {
  const value = JSON.parse(box.open(sealed)) as Partial<Credentials>;
  return { username: String(value.username ?? ''), password: String(value.password ?? '') };
}
