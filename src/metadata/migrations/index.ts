import type { Migration, MigrationProvider } from 'kysely';
import { registryTables } from './0001-registry.js';
import { mirrorTables } from './0003-mirror.js';
import { authTables } from './0002-auth.js';
import { consoleColumns } from './0004-console.js';
import { leaseTable } from './0005-leases.js';
import { lifecycleTables } from './0006-lifecycle.js';
import { deliveryTables } from './0007-delivery.js';
import { pullCountColumns } from './0011-pull-counts.js';
import { replicationTables } from './0012-replication.js';
import { placementJournalTable } from './0013-placement-journal.js';

/**
 * Versioned migrations, run at start in name order. Append new ones (one file each, next
 * number); never edit one that has shipped. Only portable DDL: the same statements run on SQLite
 * and PostgreSQL.
 */
const migrations: Record<string, Migration> = {
  '0001-registry': registryTables,
  '0003-mirror': mirrorTables,
  '0002-auth': authTables,
  '0004-console': consoleColumns,
  '0005-leases': leaseTable,
  '0006-lifecycle': lifecycleTables,
  '0007-delivery': deliveryTables,
  '0011-pull-counts': pullCountColumns,
  '0012-replication': replicationTables,
  '0013-placement-journal': placementJournalTable,
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
