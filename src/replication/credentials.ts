/** A push target's credentials: a user and a password (or a token, or a robot's secret). */
export interface Credentials {
  username: string;
  password: string;
}

/** Seals secrets for the database and opens them again (AES-256-GCM: see docs/replication.md). */
export interface SecretSealer {
  seal(secret: string): string;
  open(sealed: string): string;
}

export const sealCredentials = (box: SecretSealer, credentials: Credentials): string => box.seal(JSON.stringify(credentials));

export function openCredentials(box: SecretSealer, sealed: string): Credentials {
  const value = JSON.parse(box.open(sealed)) as Partial<Credentials>;
  return { username: String(value.username ?? ''), password: String(value.password ?? '') };
}
