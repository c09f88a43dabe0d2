import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Secrets at rest (webhook secrets, replication credentials): AES-256-GCM, so the database, its backups and exports never hold them in clear. */
export interface SecretBox {
  seal(secret: string): string;
  open(sealed: string): string;
}

/** Where keys generated on first use are kept (the metadata's `encryption_keys`). */
export interface SecretKeyStore {
  keys(): Promise<Array<{ id: string; key: string }>>;
  addKey(id: string, key: string, now: number): Promise<void>;
}

const VERSION = 'v1';

/**
 * Opens a box with the configured key (`configured.value`: base64 of 32 bytes; `configured.name`
 * is its config key, for messages), else with a key generated on first use and kept in the
 * database — then the secrets are only as safe as the database, like the token signing key.
 * Sealed values name their key, so secrets sealed with the stored key stay readable after a key
 * is configured. Every box over one store shares the stored keys.
 */
export async function openSecretBox(store: SecretKeyStore, configured: { name: string; value: string | undefined }, now: number): Promise<SecretBox> {
  const keys = new Map<string, Buffer>();
  for (const { id, key } of await store.keys()) keys.set(id, Buffer.from(key, 'base64'));
  let current: string;
  if (configured.value !== undefined) {
    const key = Buffer.from(configured.value, 'base64');
    if (key.length !== 32) throw new Error(`${configured.name} must be the base64 of exactly 32 bytes`);
    current = `config-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
    keys.set(current, key);
  } else {
    if (keys.size === 0) {
      await store.addKey(`db-${randomBytes(6).toString('hex')}`, randomBytes(32).toString('base64'), now);
      // Another instance may have stored one at the same moment: everyone takes the oldest.
      for (const { id, key } of await store.keys()) keys.set(id, Buffer.from(key, 'base64'));
    }
    current = [...keys.keys()][0]!;
  }
  const currentKey = keys.get(current)!;
  return {
    seal(secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return [VERSION, current, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
    },
    open(sealed) {
      const [version, keyId, iv, tag, data] = sealed.split(':');
      const key = keyId === undefined ? undefined : keys.get(keyId);
      if (version !== VERSION || !key || !iv || !tag || data === undefined) {
        throw new Error(`a secret is sealed with an unknown key (${keyId ?? '?'}); was ${configured.name} changed?`);
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
    },
  };
}
