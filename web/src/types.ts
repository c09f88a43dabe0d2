/**
 * The console's names for the /api/v1 answers. Every shape comes from web/src/api-schema.ts, which
 * `npm run api-types` generates from the server's OpenAPI document: change a route's schema in
 * src/http/api/, regenerate, and the console's compiler sees the change.
 */
import type { components, paths } from './api-schema';

type Schemas = components['schemas'];
/** The JSON body of a successful GET of `path`. */
type Answer<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer T } } } } } ? T : never;

export type Platform = Schemas['Platform'];
export type RepositorySummary = Schemas['RepositorySummary'];
export type RepositoryPage = Answer<'/api/v1/repositories'>;
export type Tag = Schemas['Tag'];
export type TagPage = Answer<'/api/v1/repositories/{name}/-/tags'>;
export type Layer = Schemas['Layer'];
export type History = Schemas['History'];
export type ImageConfig = Schemas['ImageConfig'];
export type Image = Schemas['Image'];
export type Usage = Schemas['Usage'];
export type Project = Schemas['Project'];
export type Member = Schemas['Member'];
export type Robot = Schemas['Robot'];
export type CreatedRobot = paths['/api/v1/projects/{project}/robots']['post']['responses'][201]['content']['application/json'];
export type AuditEvent = Schemas['AuditEvent'];
export type UserAccount = Schemas['User'];
export type Session = Schemas['Session'];
export type ReplicationRule = Schemas['ReplicationRule'];
export type ReplicationRun = Schemas['ReplicationRun'];
export type ReplicationRunItem = Schemas['ReplicationRunItem'];
export type GcRun = Schemas['GcRun'];
export type GcRunDetail = Schemas['GcRunDetail'];
export type GcStatus = Schemas['GcStatus'];
export type ProjectPolicy = Schemas['ProjectPolicy'];
export type ProjectPolicyView = Schemas['ProjectPolicyView'];
export type ProjectQuota = Schemas['ProjectQuota'];

// A Record, so the compiler notices a role the API gains or loses.
const roles: Record<Member['role'], true> = { admin: true, maintainer: true, developer: true, tester: true, guest: true };
export const ROLES = Object.keys(roles) as Array<Member['role']>;

export type Promotion = Schemas['Promotion'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type StaleReason = Schemas['StaleReason'];
export type ImageLineage = Schemas['ImageLineage'];
export type Lineage = Schemas['Lineage'];
export type StageRules = Schemas['StageRules'];
export type Webhook = Schemas['Webhook'];
export type Delivery = Schemas['WebhookDelivery'];

// A Record, so the compiler notices an event type the API gains or loses.
const eventTypes: Record<Webhook['events'][number], true> = {
  push: true,
  pull: true,
  delete: true,
  promotion: true,
  'tag.moved': true,
  'base.updated': true,
  'quota.warning': true,
  'gc.finished': true,
};
export const EVENT_TYPES = Object.keys(eventTypes) as Array<Webhook['events'][number]>;
