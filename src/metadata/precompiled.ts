import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './database.js';
import { runDirect } from './direct-statements.js';

/** Stands, in a query being built, for the value named `name` (its `index`th item) that each run supplies. */
class Slot {
  constructor(
    readonly name: string,
    readonly index?: number,
  ) {}
}

interface Compiled<Row> {
  query: CompiledQuery<Row>;
  /** Each bound parameter: a slot, or a constant the builder bound. */
  bindings: Array<Slot | { value: unknown }>;
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
  /** Fields that are lists, and the length each is compiled for. */
  lists: Record<string, number> = {},
): Precompiled<Values, Row> {
  // By adapter class: the SQL differs between SQLite and PostgreSQL (a process may use both in tests).
  const byDialect = new Map<unknown, Compiled<Row>>();
  const placeholders = new Proxy({} as Values, {
    get: (_, field) => {
      const name = String(field);
      const length = lists[name];
      return length === undefined ? new Slot(name) : Array.from({ length }, (_, i) => new Slot(name, i));
    },
  });

  const compiled = (db: Db): Compiled<Row> => {
    const dialect = db.getExecutor().adapter.constructor;
    let found = byDialect.get(dialect);
    if (!found) {
      const query = build(db, placeholders).compile();
      const bindings = query.parameters.map((p) => (p instanceof Slot ? p : { value: p }));
      found = { query, bindings };
      byDialect.set(dialect, found);
    }
    return found;
  };

  const bind = (db: Db, values: Values): CompiledQuery<Row> => {
    const { query, bindings } = compiled(db);
    const parameters = bindings.map((b) => {
      if (!(b instanceof Slot)) return b.value;
      const field = (values as Record<string, unknown>)[b.name];
      const value = b.index === undefined ? field : (field as readonly unknown[] | undefined)?.[b.index];
      if (value === undefined) throw new TypeError(`precompiled query: no value for '${b.name}'${b.index === undefined ? '' : ` [${b.index}]`}`);
      return value;
    });
    return { ...query, parameters };
  };
  return {
    bind,
    ...runners((db: Db, values: Values) => {
      const query = bind(db, values);
      return runDirect(db, query) ?? db.executeQuery(query);
    }),
  };
}

/** The ways to run a statement, given how to execute it. */
function runners<Values, Row>(execute: (db: Db, values: Values) => Promise<QueryResult<Row>>): Omit<Precompiled<Values, Row>, 'bind'> {
  return {
    execute,
    rows: async (db, values) => (await execute(db, values)).rows,
    first: async (db, values) => (await execute(db, values)).rows[0],
    changes: async (db, values) => Number((await execute(db, values)).numAffectedRows ?? 0),
  };
}

/** Lists up to this long get statements of their own; longer ones are built per run. */
const LIST_LENGTH_PRECOMPILED = 32;

/**
 * A statement with an `in (…)` list in field `list`: precompiled for each list length up to 32
 * as it is met (a manifest's references, a few digests), built anew per run for longer lists.
 * `build` must also work with the real values.
 */
export function precompiledWithList<Values extends object, Row>(
  list: keyof Values & string,
  build: (db: Db, values: Values) => Compilable<Row>,
): Omit<Precompiled<Values, Row>, 'bind'> {
  const byLength = new Map<number, Precompiled<Values, Row>>();
  return runners((db: Db, values: Values): Promise<QueryResult<Row>> => {
    const length = (values[list] as readonly unknown[]).length;
    if (length > LIST_LENGTH_PRECOMPILED) return db.executeQuery(build(db, values));
    let statement = byLength.get(length);
    if (!statement) byLength.set(length, (statement = precompiled(build, { [list]: length })));
    return statement.execute(db, values);
  });
}
