import { randomUUID } from 'node:crypto';

/** A unique id that sorts by creation time (base-36 milliseconds, then a random UUID). */
export function timeOrderedId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}-${randomUUID()}`;
}
