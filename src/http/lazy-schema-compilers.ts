import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Compilers = Required<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>>;
type Validate = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type Serialize = (doc: unknown) => string;

const require = createRequire(import.meta.url);

/** Routes whose code is not generated yet: for `compilePendingSchemas`. Each leaves once compiled. */
const pending = new Set<() => unknown>();

/**
 * Fastify's own compilers (Ajv for requests, fast-json-stringify for responses), loaded and run
 * at a route's first request instead of at start-up. The management API's 128 request and
 * response schemas, compiled up front, held ~4 MiB of an idle server's heap and 0.3 s of start-up
 * (docs/benchmarks.md, "Twelfth session"), for routes that a registry only pushed to and pulled
 * from never sees.
 */
export function lazySchemaCompilers(): Compilers {
  return {
    buildValidator: (externalSchemas, options) => {
      const compiler = once(() => (require('@fastify/ajv-compiler') as () => Compilers['buildValidator'])()(externalSchemas, options));
      // Fastify calls what this returns as its FastifyValidationResult; Ajv's types ask for more.
      return (route) => lazyValidator(() => compiler()(route) as Validate) as unknown as ReturnType<ReturnType<Compilers['buildValidator']>>;
    },
    buildSerializer: (externalSchemas, options) => {
      const compiler = once(() => (require('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => Compilers['buildSerializer'] }).SerializerSelector()(externalSchemas, options));
      return (route) => {
        const serializer = pendingOnce(() => compiler()(route));
        return (doc) => serializer()(doc);
      };
    },
  };
}

/**
 * Compiles every route schema not compiled yet and returns how many there were: a schema Ajv or
 * fast-json-stringify refuses throws here, as it would at start-up with Fastify's own compilers
 * (test/unit/lazy-schema-compilers.test.ts runs it over the whole app).
 */
export function compilePendingSchemas(): number {
  const compiles = [...pending];
  for (const compile of compiles) compile();
  return compiles.length;
}

function lazyValidator(compile: () => Validate): Validate {
  const validator = pendingOnce(compile);
  const validate: Validate = (data, context) => validator()(data, context);
  // Fastify reads `errors` after a failed validation, and passes the parent object (`context`) to a
  // function with `schemaEnv`, which lets Ajv replace a coerced root value in the request.
  Object.defineProperty(validate, 'errors', { get: () => validator.done()?.errors });
  validate.schemaEnv = true;
  return validate;
}

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** `once`, listed in `pending` until it has run. */
function pendingOnce<T extends Validate | Serialize>(make: () => T): (() => T) & { done(): T | undefined } {
  let value: T | undefined;
  const get = () => {
    if (value === undefined) {
      value = make();
      pending.delete(get);
    }
    return value;
  };
  pending.add(get);
  return Object.assign(get, { done: () => value });
}
