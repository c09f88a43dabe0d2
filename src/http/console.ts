import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface ConsoleOptions {
  /** The built console (`web/dist`). When it does not exist, `/` answers 404 with a hint. */
  directory: string;
}

/** The console's policy: its own scripts and styles only, no framing, no inline code. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  path: string;
  size: number;
  type: string;
  /** Vite puts a content hash in every asset name: those never change. */
  immutable: boolean;
}

/** Every file of the build, by URL path, read once at start: only these paths are ever served. */
function indexFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const url = '/' + relative(root, full).split(sep).join('/');
        files.set(url, {
          path: full,
          size: statSync(full).size,
          type: TYPES[extname(entry.name)] ?? 'application/octet-stream',
          immutable: url.startsWith('/assets/'),
        });
      }
    }
  };
  walk(root);
  return files;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', CONSOLE_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .header('Cross-Origin-Opener-Policy', 'same-origin');
}

/**
 * Serves the console at `/`: its files, and `index.html` for any other path that is not an API
 * (`/v2`, `/api`, `/token`, `/metrics`, …), so deep links work in the single-page app.
 */
export async function consolePlugin(app: FastifyInstance, options: ConsoleOptions) {
  const files = existsSync(join(options.directory, 'index.html')) ? indexFiles(options.directory) : new Map<string, StaticFile>();
  const index = files.get('/index.html');

  const send = (reply: FastifyReply, file: StaticFile, head: boolean) => {
    securityHeaders(reply)
      .header('Content-Type', file.type)
      .header('Content-Length', file.size)
      .header('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.send(head ? '' : createReadStream(file.path));
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = (request.raw.url ?? '/').split('?', 1)[0] ?? '/';
    const head = request.method === 'HEAD';
    const file = files.get(path);
    if (file && path !== '/index.html') return send(reply, file, head);
    // A missing asset is a 404, not the page: a stale tab must not parse HTML as a script. A
    // console page's path may end like a file name (`/repositories/dev/app/-/1.0`).
    if (path.startsWith('/assets/') || (extname(path) !== '' && !isPagePath(path))) {
      return securityHeaders(reply).code(404).type('text/plain; charset=utf-8').send('not found');
    }
    if (!index) {
      return securityHeaders(reply).code(404).type('text/plain; charset=utf-8').send('the console is not built (npm run build)');
    }
    return send(reply, index, head);
  };

  app.route({ method: ['GET', 'HEAD'], url: '/', handler });
  // Everything else that no other surface claimed. Fastify picks a more specific route (/v2/*,
  // /api/v1/...) first, so this only sees console paths and unknown ones.
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (request, reply) => {
      const path = (request.raw.url ?? '/').split('?', 1)[0] ?? '/';
      if (isApiPath(path)) return reply.code(404).type('application/json').send({ errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
      return handler(request, reply);
    },
  });
}

function isPagePath(path: string): boolean {
  return /^\/(repositories|projects|webhooks)\//.test(path);
}

function isApiPath(path: string): boolean {
  return /^\/(v2|api|token|metrics|healthz|readyz|livez)(\/|$)/.test(path);
}
