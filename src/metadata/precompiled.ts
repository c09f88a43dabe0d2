import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './database.js';

/** Stands, in a query being built, for the value named `name` that each run supplies. */
class Slot {
  constructor(readonly name: string) {}
}

interface Compiled<Row> {
  query: CompiledQuery<Row>;
  /** Each bound parameter: a slot's name, or a constant the builder bound. */
  bindings: Array<{ name: string } | { value: unknown }>;
}

/** A statement built and compiled once per SQL dialect, then run with new values on any connection or transaction. */
export interface Precompiled<Values, Row> {
  /** The compiled query for `db`'s dialect with `values` bound, to run elsewhere (fast-reads.ts). */
  bind(db: Db, values: Values): CompiledQuery<Row>;
  execute(db: Db, values: Values): Promise<QueryResult<Row>>;
  rows(db: Db, values: Values): Promise<Row[]>;
  first(db: Db, values: Values): Promise<Row | undefined>;
  /** How many rows the statement inserted, updated or deleted. */
  changes(db: Db, values: Values): Promise<number>;
}

/**
 * Kysely builds and compiles a query on every call: a tree of frozen nodes, a compiler's walk over
 * it, a few KB of garbage. For the statements of the hot write paths that was a sixth of a manifest
 * PUT's CPU (docs/benchmarks.md, "Eleventh session"). `build` runs once per dialect with `values`
 * whose every field is a placeholder, and each run binds the real values in their places.
 *
 * So the query's shape must not depend on the values: a field must not be `undefined` (Kysely
 * leaves such a column out; pass `null`), a list whose length varies cannot be a value, and
 * `values` must be read field by field (it has no keys to spread).
 */
export function precompiled<Values extends object, Row = never>(
  build: (db: Db, values: Values) => Compilable<Row>,
): Precompiled<Values, Row> {
  // By adapter class: the SQL differs between SQLite and PostgreSQL (a process may use both in tests).
  const byDialect = new Map<unknown, Compiled<Row>>();
  const placeholders = new Proxy({} as Values, { get: (_, name) => new Slot(String(name)) });

  const compiled = (db: Db): Compiled<Row> => {
    const dialect = db.getExecutor().adapter.constructor;
    let found = byDialect.get(dialect);
    if (!found) {
      const query = build(db, placeholders).compile();
      const bindings = query.parameters.map((p) => (p instanceof Slot ? { name: p.name } : { value: p }));
      found = { query, bindings };
      byDialect.set(dialect, found);
    }
    return found;
  };

  const bind = (db: Db, values: Values): CompiledQuery<Row> => {
    const { query, bindings } = compiled(db);
    const parameters = bindings.map((b) => {
      if (!('name' in b)) return b.value;
      const value = (values as Record<string, unknown>)[b.name];
      if (value === undefined) throw new TypeError(`precompiled query: no value for '${b.name}'`);
      return value;
    });
    return { ...query, parameters };
  };
  const execute = (db: Db, values: Values) => db.executeQuery(bind(db, values));

  return {
    bind,
    execute,
    rows: async (db, values) => (await execute(db, values)).rows,
    first: async (db, values) => (await execute(db, values)).rows[0],
    changes: async (db, values) => Number((await execute(db, values)).numAffectedRows ?? 0),
  };
}
