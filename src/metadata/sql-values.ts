import { sql, type RawBuilder } from 'kysely';

// Bound values in an INSERT … SELECT list get a type only from a cast on PostgreSQL.
export const textValue = (value: string): RawBuilder<string> => sql<string>`cast(${value} as text)`;
export const bigintValue = (value: number): RawBuilder<number> => sql<number>`cast(${value} as bigint)`;
