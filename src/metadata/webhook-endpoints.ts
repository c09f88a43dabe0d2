import type { Db } from './database.js';
import { precompiled } from './precompiled.js';
import type { Database } from './schema.js';

export type WebhookFormat = 'wharf' | 'distribution';

export interface WebhookEndpoint {
  id: string;
  /** null: registry-wide (every project's events and registry events such as `gc.finished`). */
  project: string | null;
  url: string;
  /** The event types it receives. */
  eventTypes: string[];
  format: WebhookFormat;
  /** As stored: encrypted (src/lib/secret-box.ts opens it). */
  encryptedSecret: string;
  enabled: boolean;
  description: string | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export type WebhookEndpointChanges = Partial<Pick<WebhookEndpoint, 'url' | 'eventTypes' | 'format' | 'encryptedSecret' | 'enabled' | 'description'>>;

export interface WebhookEndpointStore {
  create(endpoint: WebhookEndpoint): Promise<void>;
  get(id: string): Promise<WebhookEndpoint | undefined>;
  /** All endpoints, or those of one project (`null`: the registry-wide ones), oldest first. */
  list(project?: string | null): Promise<WebhookEndpoint[]>;
  update(id: string, changes: WebhookEndpointChanges, now: number): Promise<boolean>;
  /** Removes the endpoint and its delivery log. */
  remove(id: string): Promise<boolean>;
  /** Enabled endpoints that hear about `project`: its own and the registry-wide ones (only those for `null`). */
  listening(project: string | null): Promise<WebhookEndpoint[]>;
  /** The keys that encrypt secrets, oldest first. */
  keys(): Promise<Array<{ id: string; key: string }>>;
  /** Stores a key unless one with that id exists. */
  addKey(id: string, key: string, now: number): Promise<void>;
}

type Row = Database['webhook_endpoints'];

const toEndpoint = (row: Row): WebhookEndpoint => ({
  id: row.id,
  project: row.project,
  url: row.url,
  eventTypes: JSON.parse(row.event_types) as string[],
  format: row.format === 'distribution' ? 'distribution' : 'wharf',
  encryptedSecret: row.secret,
  enabled: Number(row.enabled) === 1,
  description: row.description,
  createdBy: row.created_by,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

// Read by every push (events.ts asks who listens): precompiled, one per shape.
const listeningAnywhere = precompiled((db, _: object) => db.selectFrom('webhook_endpoints').selectAll().where('enabled', '=', 1).where('project', 'is', null));
const listeningTo = precompiled((db, v: { project: string }) =>
  db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('enabled', '=', 1)
    .where((eb) => eb.or([eb('project', 'is', null), eb('project', '=', v.project)])),
);

export function webhookEndpointStore(db: Db): WebhookEndpointStore {
  return {
    async create(e) {
      await db
        .insertInto('webhook_endpoints')
        .values({
          id: e.id,
          project: e.project,
          url: e.url,
          event_types: JSON.stringify(e.eventTypes),
          format: e.format,
          secret: e.encryptedSecret,
          enabled: e.enabled ? 1 : 0,
          description: e.description,
          created_by: e.createdBy,
          created_at: e.createdAt,
          updated_at: e.updatedAt,
        })
        .execute();
    },
    async get(id) {
      const row = await db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toEndpoint(row) : undefined;
    },
    async list(project) {
      let query = db.selectFrom('webhook_endpoints').selectAll();
      if (project === null) query = query.where('project', 'is', null);
      else if (project !== undefined) query = query.where('project', '=', project);
      return (await query.orderBy('created_at').orderBy('id').execute()).map(toEndpoint);
    },
    async update(id, changes, now) {
      const set: Partial<Row> = { updated_at: now };
      if (changes.url !== undefined) set.url = changes.url;
      if (changes.eventTypes !== undefined) set.event_types = JSON.stringify(changes.eventTypes);
      if (changes.format !== undefined) set.format = changes.format;
      if (changes.encryptedSecret !== undefined) set.secret = changes.encryptedSecret;
      if (changes.enabled !== undefined) set.enabled = changes.enabled ? 1 : 0;
      if (changes.description !== undefined) set.description = changes.description;
      const result = await db.updateTable('webhook_endpoints').set(set).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    async remove(id) {
      await db.deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
      const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async listening(project) {
      const rows = project === null ? await listeningAnywhere.rows(db, {}) : await listeningTo.rows(db, { project });
      return rows.map(toEndpoint);
    },
    async keys() {
      return db.selectFrom('encryption_keys').select(['id', 'key']).orderBy('created_at').orderBy('id').execute();
    },
    async addKey(id, key, now) {
      await db.insertInto('encryption_keys').values({ id, key, created_at: now }).onConflict((c) => c.column('id').doNothing()).execute();
    },
  };
}
