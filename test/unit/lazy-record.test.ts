/**
 * lazyRecord (src/lib/lazy-record.ts): each field is built on its first read, once per object,
 * from that object's input; objects do not share what they built; builtWhole builds every field
 * into a plain object whose fields can be copied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtWhole, lazyRecord } from '../../src/lib/lazy-record.js';

interface Parts {
  name: { value: string };
  shout: () => string;
}

function counted() {
  const built: string[] = [];
  const make = lazyRecord<string, Parts>({
    name: (input) => (built.push(`name:${input}`), { value: input }),
    shout: (_input, self) => (built.push('shout'), () => self.name.value.toUpperCase()),
  });
  return { built, make };
}

test('a field is built on its first read, once, from the object\'s input', () => {
  const { built, make } = counted();
  const a = make('a');
  assert.deepEqual(built, [], 'nothing is built before a read');
  const first = a.name;
  assert.equal(a.name, first, 'the same object on every read');
  assert.deepEqual(built, ['name:a']);
  assert.equal(a.shout(), 'A', 'a field may use the others through self');
  assert.deepEqual(built, ['name:a', 'shout']);
});

test('objects keep what each built apart', () => {
  const { built, make } = counted();
  const a = make('a');
  const b = make('b');
  assert.equal(a.name.value, 'a');
  assert.equal(b.name.value, 'b');
  assert.notEqual(a.name, b.name);
  assert.deepEqual(built, ['name:a', 'name:b']);
});

test('builtWhole: every field, built, in a plain object that copies', () => {
  const { built, make } = counted();
  const whole = builtWhole(make('w'));
  assert.deepEqual(built.sort(), ['name:w', 'shout']);
  assert.equal(Object.getPrototypeOf(whole), Object.prototype);
  const copy = { ...whole };
  assert.deepEqual(Object.keys(copy).sort(), ['name', 'shout']);
  assert.equal(copy.shout(), 'W');
});
