import { z } from 'zod';
import { httpUrl, integer, pathString } from './common.js';

const tlsSchema = z
  .object({
    certificate: pathString('PEM certificate chain file'),
    key: pathString('PEM private key file'),
  })
  .strict()
  .meta({ description: 'serve HTTPS with this certificate and key (absent: plain HTTP)' });

/** `http`: the listener and request limits. */
export const httpSchema = z
  .object({
    address: z
      .string()
      .min(1)
      // "127.0.0.1:5000" is a common slip: the port has a key of its own.
      .refine((value) => !/^[^:]*:\d+$/.test(value) && !/^\[.*\]:\d+$/.test(value))
      .default('127.0.0.1')
      .meta({
        description: 'address to listen on (0.0.0.0: every interface; the default serves this machine only)',
        expected: 'an IP address or host name without a port (the port is http.port)',
      }),
    port: integer(0, 65535).default(5000).meta({ description: 'TCP port to listen on (0: any free port)' }),
    publicUrl: httpUrl('external URL of this registry, used for absolute Location headers and token realms')
      .optional()
      .meta({ example: 'https://registry.example.com' }),
    tls: tlsSchema.optional(),
    manifestMaxBytes: integer(1).default(4194304).meta({ description: 'largest manifest accepted, in bytes' }),
    requestTimeoutMs: integer(0)
      .default(0)
      .meta({ description: 'whole-request timeout in ms (0: none; blob transfers are long)' }),
    keepAliveTimeoutMs: integer(0).default(75000).meta({ description: 'idle keep-alive socket timeout in ms' }),
    headersTimeoutMs: integer(0).default(60000).meta({ description: 'time allowed to receive request headers, in ms' }),
    shutdownGraceMs: integer(0)
      .default(30000)
      .meta({ description: 'on SIGTERM, time given to in-flight requests before closing, in ms' }),
    workers: integer(1, 64).default(1).meta({ description: 'worker processes sharing the port' }),
    acceptBatch: integer(1, 1024)
      .default(64)
      .meta({ description: 'most waiting connections accepted per turn of the event loop (1: one per turn, as Node does)' }),
    trustProxy: z
      .boolean()
      .default(false)
      .meta({ description: 'trust X-Forwarded-* headers from a reverse proxy' }),
  })
  .strict();
