import pino, { type Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log line: secrets never reach the log. */
const REDACT = [
  'password', '*.password', 'secret', '*.secret', 'secretKey', '*.secretKey', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'accessKeySecret', '*.accessKeySecret', 'config.storage.s3.secretKey',
  // Headers wherever a log call passes them (Fastify's req serializer, an upstream client's error).
  'headers.cookie', 'headers["proxy-authorization"]', '*.headers.authorization', '*.headers.cookie', '*.headers["proxy-authorization"]',
  'accessToken', '*.accessToken', 'refreshToken', '*.refreshToken',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'wharf', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '****' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** The slice of a pino logger background tasks write to: static messages, values as fields. */
export interface TaskLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
