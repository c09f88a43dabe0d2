import type { Db } from './database.js';
import type { Database } from './schema.js';

export interface OutboxEvent {
  id: string;
  type: string;
  time: number;
  project: string | null;
  /** The event as JSON (src/events/types.ts). */
  payload: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number;
  lastAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
  redeliveryOf: string | null;
}

/** How an attempt ended: delivered, to be retried at `nextAttemptAt`, or given up. */
export type AttemptOutcome =
  | { status: 'delivered'; httpStatus: number; at: number }
  | { status: 'pending' | 'failed'; httpStatus: number | null; error: string; nextAttemptAt: number };

/**
 * The event outbox and the webhook delivery log. Events are written in the transaction of the
 * change they describe; each instance's delivery loop claims due deliveries one row at a time
 * with a conditional UPDATE, so two instances never send the same attempt, and a claim that
 * outlives its instance (killed mid-delivery) expires and is taken again: at-least-once.
 */
export interface OutboxStore {
  /** The event and one pending delivery per endpoint, due at once. */
  enqueue(event: OutboxEvent, endpointIds: string[]): Promise<void>;
  /** Pending deliveries due at `now` that nobody holds, oldest due first. */
  due(now: number, limit: number): Promise<string[]>;
  /** Takes a due delivery for `holder` until `until`, counting the attempt; false when another instance has it. */
  claim(id: string, holder: string, now: number, until: number): Promise<boolean>;
  /** Records an attempt's outcome, if `holder` still holds the claim. */
  finish(id: string, holder: string, outcome: AttemptOutcome): Promise<void>;
  get(id: string): Promise<Delivery | undefined>;
  event(id: string): Promise<OutboxEvent | undefined>;
  /** An endpoint's deliveries, newest first. */
  list(endpointId: string, options: { status?: DeliveryStatus; limit: number; offset: number }): Promise<{ items: Delivery[]; total: number }>;
  /** A new pending delivery of the same event to the same endpoint; the old row stays in the log. */
  redeliver(id: string, newId: string, now: number): Promise<Delivery | undefined>;
  /** Deletes finished deliveries older than `before`, and events nothing refers to any more. */
  purge(before: number): Promise<number>;
}

const deliveryColumns = [
  'd.id',
  'd.endpoint_id',
  'd.event_id',
  'e.type',
  'd.status',
  'd.attempts',
  'd.next_attempt_at',
  'd.last_attempt_at',
  'd.last_status',
  'd.last_error',
  'd.created_at',
  'd.delivered_at',
  'd.redelivery_of',
] as const;

type DeliveryRow = Pick<Database['webhook_deliveries'], 'id' | 'endpoint_id' | 'event_id' | 'status' | 'attempts' | 'next_attempt_at' | 'last_attempt_at' | 'last_status' | 'last_error' | 'created_at' | 'delivered_at' | 'redelivery_of'> & { type: string };

const nullableNumber = (value: number | null) => (value === null ? null : Number(value));

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  endpointId: row.endpoint_id,
  eventId: row.event_id,
  eventType: row.type,
  status: row.status as DeliveryStatus,
  attempts: Number(row.attempts),
  nextAttemptAt: Number(row.next_attempt_at),
  lastAttemptAt: nullableNumber(row.last_attempt_at),
  lastStatus: nullableNumber(row.last_status),
  lastError: row.last_error,
  createdAt: Number(row.created_at),
  deliveredAt: nullableNumber(row.delivered_at),
  redeliveryOf: row.redelivery_of,
});

export function outboxStore(db: Db): OutboxStore {
  const selectDeliveries = () => db.selectFrom('webhook_deliveries as d').innerJoin('events as e', 'e.id', 'd.event_id').select(deliveryColumns);
  const newDelivery = (id: string, endpointId: string, eventId: string, now: number, redeliveryOf: string | null) => ({
    id,
    endpoint_id: endpointId,
    event_id: eventId,
    status: 'pending',
    attempts: 0,
    next_attempt_at: now,
    claimed_by: null,
    claim_expires_at: null,
    last_attempt_at: null,
    last_status: null,
    last_error: null,
    created_at: now,
    delivered_at: null,
    redelivery_of: redeliveryOf,
  });
  async function get(id: string): Promise<Delivery | undefined> {
    const row = await selectDeliveries().where('d.id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : undefined;
  }
  return {
    get,
    async enqueue(event, endpointIds) {
      if (endpointIds.length === 0) return;
      await db.insertInto('events').values(event).execute();
      await db
        .insertInto('webhook_deliveries')
        .values(endpointIds.map((endpointId, i) => newDelivery(`${event.id}-${i}`, endpointId, event.id, event.time, null)))
        .execute();
    },
    async due(now, limit) {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claim_expires_at', 'is', null), eb('claim_expires_at', '<=', now)]))
        .orderBy('next_attempt_at')
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },
    async claim(id, holder, now, until) {
      const result = await db
        .updateTable('webhook_deliveries')
        .set((eb) => ({ claimed_by: holder, claim_expires_at: until, last_attempt_at: now, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claim_expires_at', 'is', null), eb('claim_expires_at', '<=', now)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async finish(id, holder, outcome) {
      const common = { claimed_by: null, claim_expires_at: null, status: outcome.status, last_status: outcome.httpStatus };
      const set =
        outcome.status === 'delivered'
          ? { ...common, delivered_at: outcome.at, last_error: null }
          : { ...common, last_error: outcome.error.slice(0, 500), next_attempt_at: outcome.nextAttemptAt };
      await db.updateTable('webhook_deliveries').set(set).where('id', '=', id).where('claimed_by', '=', holder).execute();
    },
    async event(id) {
      return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst().then((row) => row && { ...row, time: Number(row.time) });
    },
    async list(endpointId, { status, limit, offset }) {
      let base = db.selectFrom('webhook_deliveries as d').where('d.endpoint_id', '=', endpointId);
      if (status !== undefined) base = base.where('d.status', '=', status);
      const rows = await base
        .innerJoin('events as e', 'e.id', 'd.event_id')
        .select(deliveryColumns)
        .orderBy('d.created_at', 'desc')
        .orderBy('d.id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      const count = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return { items: rows.map(toDelivery), total: Number(count.n) };
    },
    async redeliver(id, newId, now) {
      const old = await db.selectFrom('webhook_deliveries').select(['endpoint_id', 'event_id']).where('id', '=', id).executeTakeFirst();
      if (!old) return undefined;
      await db.insertInto('webhook_deliveries').values(newDelivery(newId, old.endpoint_id, old.event_id, now, id)).execute();
      return get(newId);
    },
    async purge(before) {
      const result = await db
        .deleteFrom('webhook_deliveries')
        .where('status', '!=', 'pending')
        .where('created_at', '<', before)
        .executeTakeFirst();
      await db
        .deleteFrom('events')
        .where('time', '<', before)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('webhook_deliveries').select('id').whereRef('webhook_deliveries.event_id', '=', 'events.id'))))
        .execute();
      return Number(result.numDeletedRows);
    },
  };
}
