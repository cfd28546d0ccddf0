// A value whose types JSON would lose (Date, BigInt, Map, Set, an undefined field), to check that
// messages and events keep them between processes and between dbos-native and the official SDK.
import assert from 'node:assert/strict';

export interface Typed {
  when: Date;
  big: bigint;
  m: Map<string, Date>;
  s: Set<string>;
  u: undefined;
}

export function typedValue(): Typed {
  return {
    when: new Date('2024-04-04T04:04:04.004Z'),
    big: 9007199254740993n,
    m: new Map([['nested', new Date(5)]]),
    s: new Set(['x']),
    u: undefined,
  };
}

export function assertTyped(value: unknown, what: string): void {
  assert.ok(value !== null && typeof value === 'object', `${what}: an object, got ${String(value)}`);
  const v = value as Partial<Typed>;
  assert.ok(v.when instanceof Date && v.when.getTime() === Date.parse('2024-04-04T04:04:04.004Z'), `${what}: the Date`);
  assert.equal(v.big, 9007199254740993n, `${what}: the BigInt`);
  assert.ok(v.m instanceof Map && v.m.get('nested') instanceof Date && v.m.get('nested')?.getTime() === 5, `${what}: the Map of Dates`);
  assert.ok(v.s instanceof Set && v.s.has('x') && v.s.size === 1, `${what}: the Set`);
  assert.ok('u' in v && v.u === undefined, `${what}: the undefined field`);
}
