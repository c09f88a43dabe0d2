import type { Kysely, Migration } from 'kysely';

/**
 * What the console shows beside a manifest: when it was last pulled (updated at most once a
 * minute per manifest) and its platforms, worked out once from the manifest or its config and
 * kept as JSON (`[{"os":"linux","architecture":"amd64"}]`).
 */
export const consoleColumns: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('manifests').addColumn('last_pulled_at', 'bigint').execute();
    await db.schema.alterTable('manifests').addColumn('platforms', 'text').execute();
  },
};
