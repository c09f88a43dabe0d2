import { isIP } from 'node:net';
import { z } from 'zod';
import { encryptionKey, integer } from './common.js';

/** An address or CIDR block: `10.1.0.0/16`, `127.0.0.1`, `fd00::/8`. */
function isNetwork(value: string): boolean {
  const [address = '', bits, extra] = value.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
}

/** `webhooks`: where and how events are delivered (docs/webhooks.md). */
export const webhooksSchema = z
  .object({
    allowedNetworks: z
      .array(z.string().refine(isNetwork).meta({ expected: 'an IP address or CIDR block such as 10.1.0.0/16' }))
      .default([])
      .meta({ description: 'private or reserved networks webhook URLs may reach (default: public addresses only)', example: ['10.20.0.0/16'] }),
    timeoutMs: integer(100, 300_000).default(10_000).meta({ description: 'how long a receiver has to answer one delivery' }),
    maxAttempts: integer(1, 100).default(10).meta({ description: 'attempts before a delivery is marked failed' }),
    retryBaseMs: integer(10).default(10_000).meta({ description: 'first retry delay; each next one doubles' }),
    retryMaxMs: integer(10).default(3_600_000).meta({ description: 'longest retry delay' }),
    pollIntervalMs: integer(50, 600_000).default(2_000).meta({ description: 'how often each instance looks for due deliveries' }),
    retentionDays: integer(1).default(14).meta({ description: 'finished deliveries and their events are kept this long' }),
    encryptionKey: encryptionKey('webhook secrets'),
  })
  .strict();
