import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendError } from '../../src/errors.js';
import { databaseError, isDatabaseUnavailable } from '../../src/metadata/unavailable.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('is true for a database that is down, restarting, locked or full', () => {
    for (const error of [
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('connection failure', '08006'),
      withCode('sorry, too many clients already', '53300'),
      withCode('canceling statement due to statement timeout', '57014'),
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      withCode('database is locked', 'SQLITE_BUSY'),
      withCode('database or disk is full', 'SQLITE_FULL'),
      withCode('disk I/O error', 'SQLITE_IOERR_WRITE'),
    ]) {
      assert.equal(isDatabaseUnavailable(error), true, error.message);
    }
  });

  it('is false for a statement that is wrong or a constraint that failed', () => {
    for (const error of [
      withCode('duplicate key value violates unique constraint', '23505'),
      withCode('syntax error at or near "selec"', '42601'),
      withCode('UNIQUE constraint failed: tags.name', 'SQLITE_CONSTRAINT_UNIQUE'),
      new Error('something else'),
      'not an error',
    ]) {
      assert.equal(isDatabaseUnavailable(error), false, String(error));
    }
  });

  it('databaseError wraps only unavailability, as a BackendError of the database', () => {
    const down = databaseError(withCode('terminating connection due to administrator command', '57P01'));
    assert.ok(down instanceof BackendError);
    assert.equal(down.backend, 'database');
    const wrong = withCode('duplicate key', '23505');
    assert.equal(databaseError(wrong), wrong);
  });
});
