import { z } from 'zod';
import { integer, isRecord } from './common.js';

/** A project name: one lower-case path component of the distribution name grammar. */
const PROJECT_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** A registry host, optionally with a port: `docker.io`, `ghcr.io`, `registry.local:5000`. */
const REGISTRY_HOST = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?$/;

export const upstreamSchema = z
  .object({
    name: z.string().regex(PROJECT_NAME).meta({
      description: 'proxy project name (pull <host>/<name>/library/alpine)',
      expected: 'a project name: lower-case letters, digits and "." "_" "-" separators',
      example: 'dockerhub',
    }),
    url: z.url({ protocol: /^https?$/ }).meta({
      description: 'upstream registry API URL',
      expected: 'an http(s) URL',
      example: 'https://registry-1.docker.io',
    }),
    registry: z.string().regex(REGISTRY_HOST).meta({
      description: 'registry host this upstream stands for (matched against ?ns= and image references)',
      expected: 'a registry host such as docker.io or registry.local:5000',
      example: 'docker.io',
    }),
    username: z.string().min(1).optional().meta({ description: 'upstream user' }),
    password: z.string().min(1).optional().meta({ description: 'upstream password or token', secret: true }),
    ttlSeconds: integer(0).default(300).meta({ description: 'how long a cached tag is trusted before re-checking' }),
    default: z.boolean().default(false).meta({ description: 'serve un-namespaced mirror pulls (registry-mirrors)' }),
  })
  .strict();

/** `mirror`: pull-through caches of upstream registries. */
export const mirrorSchema = z
  .object({
    upstreams: z.array(upstreamSchema).default([]).meta({ description: 'upstream registries to mirror' }),
    cacheMaxBytes: integer(0)
      .optional()
      .meta({ description: 'cache size limit in bytes (0 or absent: unlimited)', example: 107374182400 }),
  })
  .strict()
  .superRefine(
    (value, ctx) => {
      const raw: unknown = value;
      if (!isRecord(raw) || !Array.isArray(raw['upstreams'])) return;
      const upstreams: unknown[] = raw['upstreams'];
      const names = new Map<string, number>();
      let defaultAt: number | undefined;
      upstreams.forEach((upstream, index) => {
        if (!isRecord(upstream)) return;
        const name = upstream['name'];
        if (typeof name === 'string') {
          const first = names.get(name);
          if (first === undefined) names.set(name, index);
          else {
            ctx.addIssue({
              code: 'custom',
              path: ['upstreams', index, 'name'],
              message: `duplicate upstream name "${name}" (also mirror.upstreams[${first}].name); names must be unique`,
              params: { verbatim: true },
            });
          }
        }
        if (upstream['default'] === true) {
          if (defaultAt === undefined) defaultAt = index;
          else {
            ctx.addIssue({
              code: 'custom',
              path: ['upstreams', index, 'default'],
              message: `at most one upstream may be the default (mirror.upstreams[${defaultAt}] already is)`,
              params: { verbatim: true },
            });
          }
        }
      });
    },
    { when: () => true },
  );
