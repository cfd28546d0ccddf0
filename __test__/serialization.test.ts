/**
 * Serialization and error classes, checked byte-for-byte against @dbos-inc/dbos-sdk 5.3.0 itself
 * (its `internal/serialization` and `internal/error` modules) and against the golden strings of the spec.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import * as sdkSer from '@dbos-inc/dbos-sdk/internal/serialization';
import * as sdkErr from '@dbos-inc/dbos-sdk/internal/error';
import { PortableWorkflowError as SdkPortableWorkflowError } from '@dbos-inc/dbos-sdk';

import {
  PORTABLE_JSON,
  appSerializationName,
  deserializeArgs,
  deserializeError,
  deserializeValue,
  registerSerialization,
  roundTrip,
  serializationNameFor,
  serializeArgs,
  serializeError,
  serializeValue,
  setCustomSerializer,
  type DBOSSerializer,
  type SerializationRecipe,
} from '../ts/serialization';
import { DBOSJSON, JS_SUPERJSON } from '../ts/superjson-format';
import { DBOSPortableJSON } from '../ts/portable-json';
import * as E from '../ts/error';

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const sdkJS = (v: unknown): string => sdkSer.DBOSJSON.stringify(v);
const sdkPortable = (v: unknown): string => sdkSer.DBOSPortableJSON.stringify(v);

async function sdkError(err: Error, serialization: string): Promise<string> {
  const r = await sdkSer.serializeResErrorWithSerializer(err, sdkSer.DBOSJSON, serialization);
  return r.serializedValue as string;
}

async function sdkArgs(args: unknown[], format: 'native' | 'portable', named?: Record<string, unknown>) {
  const r = await sdkSer.serializeArgs(args, named, sdkSer.DBOSJSON, format);
  return r.serializedValue as string;
}

/** Stacks differ by construction site; pin them (recursively) so whole records can be compared. */
function pinStacks<T>(e: T, seen: Set<unknown> = new Set()): T {
  if (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    e.stack = `${e.name}: pinned stack`;
    const withCause = e as Error & { cause?: unknown; errors?: unknown };
    if (withCause.cause !== undefined) pinStacks(withCause.cause, seen);
    if (Array.isArray(withCause.errors)) withCause.errors.forEach((x) => pinStacks(x, seen));
    for (const v of Object.values(e)) pinStacks(v, seen);
  }
  return e;
}

function ownProps(e: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(e)) out[k] = (e as Record<string, unknown>)[k];
  return out;
}

// Compile-time checks (the file does not compile if they fail).
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function typeCheck<T extends true>(): T | undefined {
  return undefined;
}

// Our DBOSSerializer and the SDK's are assignable both ways; so are the recipe types.
const ourFromSdk: DBOSSerializer = sdkSer.DBOSJSON as sdkSer.DBOSSerializer;
const sdkFromOur: sdkSer.DBOSSerializer = DBOSJSON as DBOSSerializer;
typeCheck<Equal<SerializationRecipe<Date, string>, sdkSer.SerializationRecipe<Date, string>>>();

// Every error class takes the same constructor parameters as the SDK's.
typeCheck<Equal<ConstructorParameters<typeof E.DBOSError>, ConstructorParameters<typeof sdkErr.DBOSError>>>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSInitializationError>,
    ConstructorParameters<typeof sdkErr.DBOSInitializationError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSWorkflowConflictError>,
    ConstructorParameters<typeof sdkErr.DBOSWorkflowConflictError>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.DBOSNotRegisteredError>, ConstructorParameters<typeof sdkErr.DBOSNotRegisteredError>>
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSNonExistentWorkflowError>,
    ConstructorParameters<typeof sdkErr.DBOSNonExistentWorkflowError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSMaxRecoveryAttemptsExceededError>,
    ConstructorParameters<typeof sdkErr.DBOSMaxRecoveryAttemptsExceededError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSExecutorNotInitializedError>,
    ConstructorParameters<typeof sdkErr.DBOSExecutorNotInitializedError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSInvalidWorkflowTransitionError>,
    ConstructorParameters<typeof sdkErr.DBOSInvalidWorkflowTransitionError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSConflictingWorkflowError>,
    ConstructorParameters<typeof sdkErr.DBOSConflictingWorkflowError>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.DBOSMaxStepRetriesError>, ConstructorParameters<typeof sdkErr.DBOSMaxStepRetriesError>>
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSWorkflowCancelledError>,
    ConstructorParameters<typeof sdkErr.DBOSWorkflowCancelledError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSConflictingRegistrationError>,
    ConstructorParameters<typeof sdkErr.DBOSConflictingRegistrationError>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.DBOSUnexpectedStepError>, ConstructorParameters<typeof sdkErr.DBOSUnexpectedStepError>>
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSAwaitedWorkflowCancelledError>,
    ConstructorParameters<typeof sdkErr.DBOSAwaitedWorkflowCancelledError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSQueueDuplicatedError>,
    ConstructorParameters<typeof sdkErr.DBOSQueueDuplicatedError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSInvalidQueuePriorityError>,
    ConstructorParameters<typeof sdkErr.DBOSInvalidQueuePriorityError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSAwaitedWorkflowExceededMaxRecoveryAttempts>,
    ConstructorParameters<typeof sdkErr.DBOSAwaitedWorkflowExceededMaxRecoveryAttempts>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.DBOSStepTimeoutError>, ConstructorParameters<typeof sdkErr.DBOSStepTimeoutError>>
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSInvalidWorkflowInputError>,
    ConstructorParameters<typeof sdkErr.DBOSInvalidWorkflowInputError>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.DBOSStreamTimeoutError>, ConstructorParameters<typeof sdkErr.DBOSStreamTimeoutError>>
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSStreamNondeterminismError>,
    ConstructorParameters<typeof sdkErr.DBOSStreamNondeterminismError>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.DBOSQueryTimeoutError>, ConstructorParameters<typeof sdkErr.DBOSQueryTimeoutError>>
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSWorkflowIDInUseError>,
    ConstructorParameters<typeof sdkErr.DBOSWorkflowIDInUseError>
  >
>();
typeCheck<
  Equal<
    ConstructorParameters<typeof E.DBOSStepNondeterminismError>,
    ConstructorParameters<typeof sdkErr.DBOSStepNondeterminismError>
  >
>();
typeCheck<
  Equal<ConstructorParameters<typeof E.PortableWorkflowError>, ConstructorParameters<typeof SdkPortableWorkflowError>>
>();

// ---------------------------------------------------------------------------------------------------------------
// js_superjson: writer
// ---------------------------------------------------------------------------------------------------------------

function sampleValues(): Array<[string, unknown]> {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const shared = { s: 1 };
  const big = {
    n: [1, 2.5, -0, 1e300],
    s: 'str "quoted" \u2028 ü',
    nested: { d: new Date('2025-06-15T10:30:00.000Z'), list: [new Date(0), undefined, null] },
    m: new Map<unknown, unknown>([
      ['k', 1n],
      [2, new Set(['x'])],
    ]),
  };
  return [
    ['integer', 5],
    ['float', 3.25],
    ['negative zero', -0],
    ['string', 'hello'],
    ['boolean', true],
    ['null', null],
    ['undefined', undefined],
    ['empty object', {}],
    ['empty array', []],
    ['nested Date', { a: 5, when: new Date('2025-01-02T03:04:05.678Z') }],
    ['deep Date', { r1: { a: 5, when: new Date('2025-01-02T03:04:05.678Z') }, r2: 10 }],
    ['invalid Date', { d: new Date(NaN) }],
    ['Map with BigInt', new Map([['k', 1n]])],
    ['Map with object keys', new Map([[{ a: 1 }, 2]])],
    ['BigInt', 12345678901234567890n],
    ['Set', new Set([1, 'a', { b: 2 }])],
    ['Buffer', Buffer.from('hi')],
    ['nested Buffer', { b: Buffer.from([0, 255, 7]) }],
    ['Uint8Array', new Uint8Array([1, 2])],
    ['NaN', NaN],
    ['Infinities', [NaN, Infinity, -Infinity, -0]],
    ['RegExp', /ab+c/gi],
    ['URL', new URL('https://example.com/x?y=1')],
    ['Error value', { e: new Error('as value') }],
    ['circular', circular],
    ['shared refs', { a: shared, b: shared }],
    ['undefined members', { a: undefined, b: [undefined] }],
    ['nested function dropped', { a: 1, f: () => 1 }],
    ['function in array', [() => 1, 2]],
    ['class instance', new (class Point { x = 1; y = 2; })()],
    ['big mixed', big],
    ...plainDataSamples(),
  ];
}

/**
 * Plain data and its near misses, for the writer that produces superjson's output without superjson: JS source
 * so that a child process without the SDK loaded can build the same values.
 */
const PLAIN_SAMPLES_SOURCE = `[
  ['dotted keys with Dates', { 'a.b': { 'c.d': new Date(1), e: [new Date(2)] }, f: new Date(3) }],
  ['integer-like keys before others', { x: new Date(0), 1: new Date(1), nested: { 2: new Date(2), y: new Date(3) } }],
  ['array: index annotations first', [{ d: new Date(4) }, new Date(5), [new Date(6)]]],
  ['root Date', new Date(7)],
  ['shared Date', (() => { const d = new Date(8); return { a: d, b: d }; })()],
  ['shared array', (() => { const a = [1]; return [a, a]; })()],
  ['RegExp match (extra array members)', 'abc'.match(/b/)],
  ['sparse array', [1, , 3]],
  ['array with an extra member', Object.assign([1, 2], { extra: undefined })],
  ['null-prototype object', Object.assign(Object.create(null), { a: 1, d: new Date(10) })],
  ['own __proto__ key', JSON.parse('{"__proto__":{"x":1},"y":2}')],
  ['strings needing escapes', ['q " b \\\\ n \\n t \\t c \\u0001 lone \\ud800 pair \\ud83d\\ude00 ls \\u2028 del \\u007f', { 'k"e\\ny': 1 }]],
  ['numbers', [0, 1e21, 1e-7, -1.5, 9007199254740991, 5e-324, 123.456]],
  ['getter', { get g() { return new Date(11); }, h: 1 }],
  ['non-enumerable and symbol keys', Object.defineProperty({ a: 1, [Symbol('s')]: 2 }, 'hidden', { value: 3, enumerable: false })],
  ['own toJSON', { toJSON: () => 'from toJSON', a: 1 }],
  ['Array subclass', (() => { class MyArr extends Array {} return MyArr.from([1, 2]); })()],
  ['Date subclass', (() => { class MyDate extends Date {} return { d: new MyDate(12) }; })()],
  ['invalid Date at the root', new Date(NaN)],
  ['nested empties', { a: {}, b: [], c: [[]], d: [{}], e: '' }],
  ['booleans and null', [true, false, null, { t: true, n: null }]],
]`;

function plainDataSamples(): Array<[string, unknown]> {
  return new Function(`return ${PLAIN_SAMPLES_SOURCE};`)() as Array<[string, unknown]>;
}

test('js_superjson writer is byte-identical to the SDK for assorted values', async () => {
  for (const [label, v] of sampleValues()) {
    assert.equal(await serializeValue(v, JS_SUPERJSON), sdkJS(v), label);
    assert.equal(DBOSJSON.stringify(v), sdkJS(v), label);
    // NULL format = the configured serializer (DBOSJSON by default).
    assert.equal(await serializeValue(v), sdkJS(v), label);
  }
});

test('js_superjson golden strings (spec §4 and §8.2)', async () => {
  assert.equal(await serializeValue(5, JS_SUPERJSON), '{"json":5,"__dbos_serializer":"superjson"}');
  assert.equal(await serializeValue(null, JS_SUPERJSON), '{"json":null,"__dbos_serializer":"superjson"}');
  assert.equal(
    await serializeValue(undefined, JS_SUPERJSON),
    '{"json":null,"meta":{"values":["undefined"]},"__dbos_serializer":"superjson"}',
  );
  assert.equal(
    await serializeValue({ a: 5, when: new Date('2025-01-02T03:04:05.678Z') }, JS_SUPERJSON),
    '{"json":{"a":5,"when":"2025-01-02T03:04:05.678Z"},"meta":{"values":{"when":["Date"]}},"__dbos_serializer":"superjson"}',
  );
  assert.equal(
    await serializeValue(new Map([['k', 1n]]), JS_SUPERJSON),
    '{"json":[["k","1"]],"meta":{"values":["map",{"0.1":["bigint"]}]},"__dbos_serializer":"superjson"}',
  );
  assert.equal(
    await serializeValue(
      {
        r1: { a: 5, when: new Date('2025-01-02T03:04:05.678Z') },
        r2: 10,
        when: new Date('2025-06-15T10:30:00.000Z'),
      },
      JS_SUPERJSON,
    ),
    '{"json":{"r1":{"a":5,"when":"2025-01-02T03:04:05.678Z"},"r2":10,"when":"2025-06-15T10:30:00.000Z"},' +
      '"meta":{"values":{"r1.when":["Date"],"when":["Date"]}},"__dbos_serializer":"superjson"}',
  );
  assert.equal(
    await serializeValue({ v: 2, d: new Date('2025-01-01T00:00:00.000Z') }, JS_SUPERJSON),
    '{"json":{"v":2,"d":"2025-01-01T00:00:00.000Z"},"meta":{"values":{"d":["Date"]}},"__dbos_serializer":"superjson"}',
  );
  assert.equal(await serializeValue('a-child', JS_SUPERJSON), '{"json":"a-child","__dbos_serializer":"superjson"}');
  assert.equal(
    await serializeValue(Buffer.from('hi'), JS_SUPERJSON),
    '{"json":[104,105],"meta":{"values":[["custom","Buffer"]]},"__dbos_serializer":"superjson"}',
  );
});

test('the Buffer recipe is registered by our module alone (without the SDK loaded)', async () => {
  // The same module the imports above resolved, wherever the build put it.
  const modPath = require.resolve('../ts/serialization');
  const script =
    `const s = require(${JSON.stringify(modPath)});` +
    `const t = s.serializeValue(Buffer.from('hi'), 'js_superjson');` +
    `const b = s.deserializeValue(t, 'js_superjson');` +
    `process.stdout.write(JSON.stringify([t, Buffer.isBuffer(b), b.toString()]));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    '{"json":[104,105],"meta":{"values":[["custom","Buffer"]]},"__dbos_serializer":"superjson"}',
    true,
    'hi',
  ]);
});

test('without the SDK loaded (only our own recipes registered), plain data is still written as the SDK writes it', async () => {
  const modPath = require.resolve('../ts/serialization');
  const script =
    `const s = require(${JSON.stringify(modPath)});` +
    `require(${JSON.stringify(require.resolve('../ts/handles'))});` +
    `const values = ${PLAIN_SAMPLES_SOURCE};` +
    `process.stdout.write(JSON.stringify(values.map(([, v]) => s.serializeValue(v, 'js_superjson'))));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  const texts = JSON.parse(r.stdout) as string[];
  const samples = plainDataSamples();
  assert.equal(texts.length, samples.length);
  samples.forEach(([label, v], i) => assert.equal(texts[i], sdkJS(v), label));
});

test('a recipe that applies to plain data takes precedence, as in superjson', async () => {
  const tagged = { kind: 'tagged-point', x: 1 };
  registerSerialization<{ kind: string; x: number }, number>({
    name: 'TaggedPoint',
    isApplicable: (v: unknown): v is { kind: string; x: number } =>
      typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tagged-point',
    serialize: (p) => p.x,
    deserialize: (x) => ({ kind: 'tagged-point', x }),
  });
  registerSerialization<string, string>({
    name: 'PrefixedString',
    isApplicable: (v: unknown): v is string => typeof v === 'string' && v.startsWith('pfx:'),
    serialize: (v) => v.slice(4),
    deserialize: (v) => `pfx:${v}`,
  });
  const value = { p: tagged, list: [tagged, { s: 'pfx:abc', t: 'plain' }], when: new Date(0) };
  assert.equal(await serializeValue(value, JS_SUPERJSON), sdkJS(value));
  assert.equal(
    await serializeValue({ s: 'pfx:abc' }, JS_SUPERJSON),
    '{"json":{"s":"abc"},"meta":{"values":{"s":[["custom","PrefixedString"]]}},"__dbos_serializer":"superjson"}',
  );
  const text = await serializeValue(value, JS_SUPERJSON);
  assert.deepEqual(await deserializeValue(text, JS_SUPERJSON), await sdkSer.deserializeValue(text, JS_SUPERJSON, sdkSer.DBOSJSON));
});

// ---------------------------------------------------------------------------------------------------------------
// js_superjson: reader
// ---------------------------------------------------------------------------------------------------------------

test('SDK-written js_superjson strings read back with types preserved', async () => {
  const d = new Date('2025-01-02T03:04:05.678Z');
  const dated = await deserializeValue(sdkJS({ a: 5, when: d }), JS_SUPERJSON) as { a: number; when: Date };
  assert.ok(dated.when instanceof Date);
  assert.equal(dated.when.getTime(), d.getTime());

  const m = await deserializeValue(sdkJS(new Map([['k', 1n]])), JS_SUPERJSON) as Map<string, bigint>;
  assert.ok(m instanceof Map);
  assert.equal(m.get('k'), 1n);

  const s = await deserializeValue(sdkJS(new Set([1, 'a'])), JS_SUPERJSON) as Set<unknown>;
  assert.ok(s instanceof Set);
  assert.deepEqual([...s], [1, 'a']);

  const b = await deserializeValue(sdkJS({ b: Buffer.from('xyz') }), JS_SUPERJSON) as { b: Buffer };
  assert.ok(Buffer.isBuffer(b.b));
  assert.equal(b.b.toString(), 'xyz');

  const nums = await deserializeValue(sdkJS([NaN, Infinity, -Infinity, -0]), JS_SUPERJSON) as number[];
  assert.ok(Number.isNaN(nums[0]));
  assert.equal(nums[1], Infinity);
  assert.equal(nums[2], -Infinity);
  assert.ok(Object.is(nums[3], -0));

  assert.equal(await deserializeValue(sdkJS(undefined), JS_SUPERJSON), undefined);
  assert.equal(await deserializeValue(sdkJS(null), JS_SUPERJSON), null);
  assert.equal(await deserializeValue(sdkJS(10n), JS_SUPERJSON), 10n);
  const re = await deserializeValue(sdkJS(/ab+c/gi), JS_SUPERJSON) as RegExp;
  assert.ok(re instanceof RegExp);
  assert.equal(re.flags, 'gi');

  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const c = await deserializeValue(sdkJS(circular), JS_SUPERJSON) as Record<string, unknown>;
  assert.equal(c.self, c);

  const undef = await deserializeValue(sdkJS([undefined, null]), JS_SUPERJSON) as unknown[];
  assert.equal(undef.length, 2);
  assert.equal(undef[0], undefined);
  assert.equal(undef[1], null);
});

test('our js_superjson strings read back identically by the SDK and by us', async () => {
  for (const [label, v] of sampleValues()) {
    const text = await serializeValue(v, JS_SUPERJSON);
    const ours = await deserializeValue(text, JS_SUPERJSON);
    const theirs = await sdkSer.deserializeValue(text, JS_SUPERJSON, sdkSer.DBOSJSON);
    assert.deepEqual(ours, theirs, label);
    // Re-serializing the copy is stable.
    assert.equal(await serializeValue(ours, JS_SUPERJSON), sdkJS(theirs), label);
  }
});

test('reader rules: portable, js_superjson, NULL, unknown formats', async () => {
  assert.deepEqual(await deserializeValue('{"p":1}', PORTABLE_JSON), { p: 1 });
  assert.equal(await deserializeValue(null, PORTABLE_JSON), null);
  assert.equal(await deserializeValue(null, JS_SUPERJSON), null);
  assert.equal(await deserializeValue('{"json":1,"__dbos_serializer":"superjson"}', null), 1);
  assert.equal(await deserializeValue('{"json":1,"__dbos_serializer":"superjson"}', ''), 1);
  for (const bad of ['py_pickle', 'java_jackson', 'DBOS_JSON']) {
    assert.throws(
      () => deserializeValue('x', bad),
      (e: unknown) => e instanceof TypeError && e.message === `Value deserialization type ${bad} is not available`,
    );
    await assert.rejects(sdkSer.deserializeValue('x', bad, sdkSer.DBOSJSON), {
      name: 'TypeError',
      message: `Value deserialization type ${bad} is not available`,
    });
  }
  // The stream close marker, written as portable JSON.
  assert.equal(await deserializeValue('"__DBOS_STREAM_CLOSED__"', PORTABLE_JSON), '__DBOS_STREAM_CLOSED__');
});

test('legacy rows (no superjson marker) use the old reviver', async () => {
  const legacy =
    '{"b":{"type":"Buffer","data":[1,2]},"d":{"dbos_type":"dbos_Date","dbos_data":"2024-01-01T00:00:00.000Z"},' +
    '"n":{"dbos_type":"dbos_BigInt","dbos_data":"123456789012345678901"},"plain":[1,"x"]}';
  for (const ser of [null, JS_SUPERJSON]) {
    const v = await deserializeValue(legacy, ser) as { b: Buffer; d: Date; n: bigint; plain: unknown[] };
    assert.ok(Buffer.isBuffer(v.b));
    assert.deepEqual([...v.b], [1, 2]);
    assert.ok(v.d instanceof Date);
    assert.equal(v.d.toISOString(), '2024-01-01T00:00:00.000Z');
    assert.equal(v.n, 123456789012345678901n);
    assert.deepEqual(v.plain, [1, 'x']);
  }
  assert.equal(await deserializeValue('5', null), 5);
  // A marker without `json` is not a superjson record.
  assert.deepEqual(await deserializeValue('{"__dbos_serializer":"superjson"}', JS_SUPERJSON), {
    __dbos_serializer: 'superjson',
  });
});

// ---------------------------------------------------------------------------------------------------------------
// portable_json
// ---------------------------------------------------------------------------------------------------------------

test('portable_json writer is byte-identical to the SDK, and its golden strings', async () => {
  for (const [label, v] of sampleValues()) {
    let theirs: string;
    try {
      theirs = sdkPortable(v);
    } catch (e) {
      assert.throws(() => serializeValue(v, PORTABLE_JSON), { message: (e as Error).message }, label);
      continue;
    }
    assert.equal(await serializeValue(v, PORTABLE_JSON), theirs, label);
  }
  assert.equal(await serializeValue(undefined, PORTABLE_JSON), 'null');
  assert.equal(
    await serializeValue({ a: 'hello', d: new Date('2025-06-15T10:30:00.000Z'), n: 10n }, PORTABLE_JSON),
    '{"a":"hello","d":"2025-06-15T10:30:00.000Z","n":"10"}',
  );
  assert.equal(await serializeValue(new Map([['a', 1]]), PORTABLE_JSON), '{"a":1}');
  assert.equal(await serializeValue(new Set([1, 2]), PORTABLE_JSON), '[1,2]');
  assert.equal(await serializeValue({ e: new Error('x') }, PORTABLE_JSON), '{"e":{"name":"Error","message":"x"}}');
  assert.equal(
    await serializeValue({ text: 'hello-interop', num: 42, flag: true }, PORTABLE_JSON),
    '{"text":"hello-interop","num":42,"flag":true}',
  );
  assert.equal(await serializeValue({ p: 1 }, PORTABLE_JSON), '{"p":1}');
  assert.throws(() => serializeValue(new Map([[1, 'a']]), PORTABLE_JSON), {
    name: 'TypeError',
    message: 'Attempt to do portable JSON serialization of a map with non-string keys',
  });
  assert.throws(() => sdkPortable(new Map([[1, 'a']])), { name: 'TypeError' });
});

test('portable_json round trips', async () => {
  const v = {
    s: 'x',
    n: 1.5,
    b: false,
    z: null,
    arr: [1, 'two', { three: 3 }],
    nested: { deep: { deeper: [true] } },
  };
  assert.deepEqual((await roundTrip(v, PORTABLE_JSON)).deserialized, v);
  assert.deepEqual(await deserializeValue(await serializeValue(v, PORTABLE_JSON), PORTABLE_JSON), v);
  // Lossy conversions are the documented ones.
  assert.deepEqual(
    (await roundTrip({ d: new Date('2025-01-01T00:00:00.000Z'), n: 7n, m: new Map([['k', 1]]), s: new Set(['a']) }, PORTABLE_JSON))
      .deserialized,
    { d: '2025-01-01T00:00:00.000Z', n: '7', m: { k: 1 }, s: ['a'] },
  );
  assert.equal((await roundTrip(undefined, PORTABLE_JSON)).deserialized, null);
  const rt = await roundTrip({ a: 1 }, PORTABLE_JSON);
  assert.equal(rt.stringified, '{"a":1}');
  assert.equal(rt.serialization, PORTABLE_JSON);
});

// ---------------------------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------------------------

test('serializeArgs matches the SDK in both formats', async () => {
  const cases: unknown[][] = [
    [],
    [5],
    [undefined, null],
    ['hello', new Date('2025-01-01T00:00:00.000Z')],
    [{ a: 1n }, new Map([['k', new Set([1])]]), Buffer.from('b')],
  ];
  for (const args of cases) {
    assert.equal(await serializeArgs(args, JS_SUPERJSON), await sdkArgs(args, 'native'));
    assert.equal(await serializeArgs(args), await sdkArgs(args, 'native'));
    assert.equal(await serializeArgs(args, PORTABLE_JSON), await sdkArgs(args, 'portable'));
  }
  assert.equal(
    await serializeArgs(['x'], PORTABLE_JSON, { k: 1 }),
    await sdkArgs(['x'], 'portable', { k: 1 }),
  );
  assert.equal(await serializeArgs(['x'], PORTABLE_JSON, { k: 1 }), '{"positionalArgs":["x"],"namedArgs":{"k":1}}');
  assert.throws(() => serializeArgs(['x'], JS_SUPERJSON, { k: 1 }), { name: 'TypeError' });

  // Golden strings.
  assert.equal(await serializeArgs([5]), '{"json":[5],"__dbos_serializer":"superjson"}');
  assert.equal(await serializeArgs([]), '{"json":[],"__dbos_serializer":"superjson"}');
  assert.equal(
    await serializeArgs([undefined, null]),
    '{"json":[null,null],"meta":{"values":{"0":["undefined"]}},"__dbos_serializer":"superjson"}',
  );
  assert.equal(
    await serializeArgs(['hello', new Date('2025-01-01T00:00:00.000Z')], PORTABLE_JSON),
    '{"positionalArgs":["hello","2025-01-01T00:00:00.000Z"]}',
  );
  assert.equal(await serializeArgs([], PORTABLE_JSON), '{"positionalArgs":[]}');
  assert.equal(
    await serializeArgs(
      [
        'hello-interop',
        42,
        new Date('2025-06-15T10:30:00.000Z'),
        ['alpha', 'beta', 'gamma'],
        { key1: 'value1', key2: 99, nested: { deep: true } },
        true,
        null,
      ],
      PORTABLE_JSON,
    ),
    '{"positionalArgs":["hello-interop",42,"2025-06-15T10:30:00.000Z",["alpha","beta","gamma"],' +
      '{"key1":"value1","key2":99,"nested":{"deep":true}},true,null]}',
  );
});

test('deserializeArgs reads every stored form', async () => {
  assert.deepEqual(await deserializeArgs('{"json":[5],"__dbos_serializer":"superjson"}', JS_SUPERJSON), [5]);
  assert.deepEqual(await deserializeArgs('{"json":[5],"__dbos_serializer":"superjson"}', null), [5]);
  const undef = await deserializeArgs(
    '{"json":[null,null],"meta":{"values":{"0":["undefined"]}},"__dbos_serializer":"superjson"}',
    JS_SUPERJSON,
  );
  assert.equal(undef.length, 2);
  assert.equal(undef[0], undefined);
  assert.equal(undef[1], null);
  assert.deepEqual(await deserializeArgs('{"positionalArgs":["hello","2025-01-01T00:00:00.000Z"]}', PORTABLE_JSON), [
    'hello',
    '2025-01-01T00:00:00.000Z',
  ]);
  // The SQL enqueue_workflow form (spaces, namedArgs always present).
  assert.deepEqual(await deserializeArgs('{"positionalArgs" : ["sql-arg"], "namedArgs" : {}}', PORTABLE_JSON), ['sql-arg']);
  assert.deepEqual(
    await sdkSer.deserializePositionalArgs('{"positionalArgs" : ["sql-arg"], "namedArgs" : {}}', PORTABLE_JSON, sdkSer.DBOSJSON),
    ['sql-arg'],
  );
  assert.deepEqual(await deserializeArgs('{"positionalArgs":[]}', PORTABLE_JSON), []);
  assert.deepEqual(await deserializeArgs('{"namedArgs":{}}', PORTABLE_JSON), []);
  assert.deepEqual(await deserializeArgs(null, JS_SUPERJSON), []);
  // A synchronous serializer gives the value itself, not a promise (no microtask hop on the hot paths).
  assert.deepEqual(deserializeArgs('{"json":["a"],"__dbos_serializer":"superjson"}', JS_SUPERJSON), ['a']);

  const args = ['x', new Date('2025-01-01T00:00:00.000Z'), new Map([['k', 2n]])];
  const text = (await sdkSer.serializeArgs(args, undefined, sdkSer.DBOSJSON, 'native')).serializedValue;
  assert.deepEqual(await deserializeArgs(text, JS_SUPERJSON), args);
});

// ---------------------------------------------------------------------------------------------------------------
// Errors: serialization
// ---------------------------------------------------------------------------------------------------------------

function errorPairs(): Array<[string, Error, Error]> {
  const withExtra = (): Error => Object.assign(new Error('boom x'), { extra: 42 });
  const withCode = (): Error => Object.assign(new Error('Failed!'), { code: 'E42' });
  const withData = (): Error => Object.assign(new Error('d'), { code: 7, data: { when: new Date(0), list: [1] } });
  const nested = (): Error => new Error('top', { cause: new Error('inner', { cause: 'root cause' }) });
  const agg = (): Error => new AggregateError([new Error('a1', { cause: new Error('c1') }), 'str'], 'agg');
  const looped = (): Error => {
    const e = new Error('loop');
    (e as Error & { cause?: unknown }).cause = e;
    return e;
  };
  const retries = (): Error[] => [new Error('r1', { cause: new Error('rc') }), withExtra()];
  return [
    ['plain Error with extra props', withExtra(), withExtra()],
    ['Error with code', withCode(), withCode()],
    ['Error with code and data', withData(), withData()],
    ['TypeError', new TypeError('bad type'), new TypeError('bad type')],
    ['cause chain', nested(), nested()],
    ['AggregateError', agg(), agg()],
    ['self cause', looped(), looped()],
    ['DBOSError', new sdkErr.DBOSError('generic'), new E.DBOSError('generic')],
    ['DBOSError code', new sdkErr.DBOSError('generic', 9), new E.DBOSError('generic', 9)],
    ['Initialization', new sdkErr.DBOSInitializationError('init'), new E.DBOSInitializationError('init')],
    [
      'Initialization with cause',
      new sdkErr.DBOSInitializationError('init', new Error('why')),
      new E.DBOSInitializationError('init', new Error('why')),
    ],
    ['NonExistent', new sdkErr.DBOSNonExistentWorkflowError('nope'), new E.DBOSNonExistentWorkflowError('nope')],
    [
      'MaxStepRetries',
      new sdkErr.DBOSMaxStepRetriesError('s', 3, retries()),
      new E.DBOSMaxStepRetriesError('s', 3, retries()),
    ],
    ['Cancelled', new sdkErr.DBOSWorkflowCancelledError('w1'), new E.DBOSWorkflowCancelledError('w1')],
    ['QueueDuplicated', new sdkErr.DBOSQueueDuplicatedError('w', 'q', 'd'), new E.DBOSQueueDuplicatedError('w', 'q', 'd')],
    ['StreamTimeout', new sdkErr.DBOSStreamTimeoutError('w', 'k'), new E.DBOSStreamTimeoutError('w', 'k')],
    ['StreamTimeout ms', new sdkErr.DBOSStreamTimeoutError('w', 'k', 5), new E.DBOSStreamTimeoutError('w', 'k', 5)],
    ['WorkflowIDInUse', new sdkErr.DBOSWorkflowIDInUseError('w', 'PENDING', 'f'), new E.DBOSWorkflowIDInUseError('w', 'PENDING', 'f')],
    ['Portable', new SdkPortableWorkflowError('m', 'N'), new E.PortableWorkflowError('m', 'N')],
    [
      'Portable with code and data',
      new SdkPortableWorkflowError('m', 'N', 'C', { x: [1] }),
      new E.PortableWorkflowError('m', 'N', 'C', { x: [1] }),
    ],
  ];
}

test('serializeError is byte-identical to the SDK (js_superjson and portable_json)', async () => {
  for (const [label, theirs, ours] of errorPairs()) {
    pinStacks(theirs);
    pinStacks(ours);
    assert.equal(await serializeError(ours, JS_SUPERJSON), await sdkError(theirs, JS_SUPERJSON), `${label} (js_superjson)`);
    assert.equal(await serializeError(ours), await sdkError(theirs, JS_SUPERJSON), `${label} (app)`);
    assert.equal(await serializeError(ours, PORTABLE_JSON), await sdkError(theirs, PORTABLE_JSON), `${label} (portable)`);
  }
});

test('error golden strings (spec §4 / §8.2)', async () => {
  const e = Object.assign(new Error('boom x'), { extra: 42 });
  e.stack = 'Error: boom x\n    at throwWf (file.js:1:1)';
  assert.equal(
    await serializeError(e, JS_SUPERJSON),
    '{"json":{"extra":42,"name":"Error","message":"boom x","stack":"Error: boom x\\n    at throwWf (file.js:1:1)"},' +
      '"__dbos_serializer":"superjson"}',
  );
  assert.equal(
    await serializeError(Object.assign(new Error('Failed!'), { code: 'E42' }), PORTABLE_JSON),
    '{"name":"Error","message":"Failed!","code":"E42"}',
  );
  assert.equal(await serializeError(new Error('Failed!'), PORTABLE_JSON), '{"name":"Error","message":"Failed!"}');
  const ne = new E.DBOSNonExistentWorkflowError('Sent to non-existent destination workflow ID: x');
  ne.stack = 'S';
  assert.equal(
    await serializeError(ne, JS_SUPERJSON),
    '{"json":{"dbosErrorCode":16,"name":"Error","message":"Sent to non-existent destination workflow ID: x","stack":"S"},' +
      '"__dbos_serializer":"superjson"}',
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Errors: deserialization
// ---------------------------------------------------------------------------------------------------------------

test('js_superjson errors revive as plain Errors exactly like the SDK', async () => {
  for (const [label, theirs] of errorPairs()) {
    pinStacks(theirs);
    const text = await sdkError(theirs, JS_SUPERJSON);
    const ours = await deserializeError(text, JS_SUPERJSON);
    const sdk = await sdkSer.deserializeResError(text, JS_SUPERJSON, sdkSer.DBOSJSON);
    assert.equal(ours.constructor, sdk.constructor, label);
    assert.equal(Object.getPrototypeOf(ours), Object.getPrototypeOf(sdk), label);
    assert.deepEqual(ownProps(ours), ownProps(sdk), label);
    assert.deepEqual(Object.keys(ours), Object.keys(sdk), label);
    assert.equal(ours.name, theirs.name, label);
    assert.equal(ours.message, theirs.message, label);
    assert.equal(ours.stack, theirs.stack, label);
    const c1 = (ours as Error & { cause?: unknown }).cause;
    const c2 = (sdk as Error & { cause?: unknown }).cause;
    assert.deepEqual(c1 === undefined ? undefined : c1 instanceof Error ? ownProps(c1) : c1, c2 === undefined ? undefined : c2 instanceof Error ? ownProps(c2) : c2, label);
    // Re-serializing the revived error gives what the SDK gives for its own revived copy.
    assert.equal(await serializeError(ours, JS_SUPERJSON), await sdkError(sdk, JS_SUPERJSON), label);
  }
});

test('a recorded DBOS error comes back as a plain Error carrying its code and fields', async () => {
  const err = new E.DBOSWorkflowCancelledError('w9');
  const back = await deserializeError(await serializeError(err, JS_SUPERJSON), JS_SUPERJSON);
  assert.equal(back.constructor, Error);
  assert.ok(!(back instanceof E.DBOSError));
  assert.equal(back.name, 'Error');
  assert.equal(back.message, 'Workflow w9 has been cancelled');
  assert.equal(E.getDBOSErrorCode(back), 24);
  assert.equal((back as Error & { workflowID?: string }).workflowID, 'w9');
  assert.equal(back.stack, err.stack);

  const extra = Object.assign(new Error('boom x'), { extra: 42 });
  const e2 = await deserializeError(await serializeError(extra, JS_SUPERJSON), null);
  assert.equal(e2.constructor.name, 'Error');
  assert.equal((e2 as Error & { extra?: number }).extra, 42);
  assert.deepEqual(Object.keys(e2), ['extra']);

  const st = await deserializeError(await serializeError(new E.DBOSStreamTimeoutError('w', 'k', 10)), JS_SUPERJSON);
  assert.equal(st.name, 'DBOSStreamTimeoutError');
  assert.ok(E.isStreamTimeoutError(st));
  const inUse = await deserializeError(await serializeError(new E.DBOSWorkflowIDInUseError('w', 'SUCCESS', 'f')), JS_SUPERJSON);
  assert.ok(E.isWorkflowIDInUseError(inUse));

  // cause chains and AggregateError entries are revived as Errors, non-enumerable.
  const chained = await deserializeError(
    await serializeError(new Error('top', { cause: new Error('inner') }), JS_SUPERJSON),
    JS_SUPERJSON,
  ) as Error & { cause?: unknown };
  assert.ok(chained.cause instanceof Error);
  assert.equal((chained.cause as Error).message, 'inner');
  assert.ok(!Object.keys(chained).includes('cause'));
  const agg = await deserializeError(
    await serializeError(new AggregateError([new Error('a1')], 'agg'), JS_SUPERJSON),
    JS_SUPERJSON,
  ) as Error & { errors?: unknown[] };
  assert.equal(agg.name, 'AggregateError');
  assert.ok(agg.errors?.[0] instanceof Error);
});

test('portable errors revive as PortableWorkflowError', async () => {
  const text = '{"name":"Error","message":"Failed!","code":"E42"}';
  const ours = await deserializeError(text, PORTABLE_JSON);
  assert.ok(ours instanceof E.PortableWorkflowError);
  assert.ok(ours instanceof Error);
  assert.equal(ours.name, 'Error');
  assert.equal(ours.message, 'Failed!');
  assert.equal((ours as E.PortableWorkflowError).code, 'E42');
  assert.equal((ours as E.PortableWorkflowError).data, undefined);
  // The SDK throws it from its reviver; the fields are the same.
  const sdk = await sdkSer.deserializeResError(text, PORTABLE_JSON, sdkSer.DBOSJSON).then(
    () => assert.fail('SDK did not throw'),
    (e: unknown) => e as Error,
  );
  assert.ok(sdk instanceof SdkPortableWorkflowError);
  assert.deepEqual(ownProps(ours), { ...ownProps(sdk), stack: ours.stack });

  const withData = await deserializeError('{"name":"DBOSStreamTimeoutError","message":"m","code":33,"data":{"a":[1]}}', PORTABLE_JSON);
  assert.ok(withData instanceof E.PortableWorkflowError);
  assert.deepEqual((withData as E.PortableWorkflowError).data, { a: [1] });
  assert.equal((withData as E.PortableWorkflowError).code, 33);
  assert.ok(E.isStreamTimeoutError(withData));
  assert.ok(E.isWorkflowIDInUseError(await deserializeError('{"name":"DBOSWorkflowIDInUseError","message":"m"}', PORTABLE_JSON)));

  // Round trip through both writers.
  const p = new E.PortableWorkflowError('msg', 'MyErr', 'C1', { k: 'v' });
  const back = await deserializeError(await serializeError(p, PORTABLE_JSON), PORTABLE_JSON) as E.PortableWorkflowError;
  assert.deepEqual([back.name, back.message, back.code, back.data], ['MyErr', 'msg', 'C1', { k: 'v' }]);
});

// ---------------------------------------------------------------------------------------------------------------
// Unserializable values
// ---------------------------------------------------------------------------------------------------------------

test('top-level functions and symbols throw a DBOSError before anything is written', async () => {
  for (const fmt of [JS_SUPERJSON, PORTABLE_JSON, null]) {
    for (const bad of [() => 1, function named() {}, class K {}, Symbol('s')]) {
      assert.throws(
        () => serializeValue(bad, fmt),
        (e: unknown) =>
          e instanceof E.DBOSError && e.dbosErrorCode === 1 && /Cannot serialize .* at \(root\)/.test(e.message),
        `${String(fmt)} ${String(bad)}`,
      );
    }
  }
  assert.throws(
    () => serializeValue(() => 1, JS_SUPERJSON, { path: ['myWorkflow', '<result>'] }),
    (e: unknown) => e instanceof E.DBOSError && e.message.includes('at myWorkflow.<result>:'),
  );
  // The SDK itself writes `{"__dbos_serializer":"superjson"}` (no json key), which cannot be read back.
  assert.equal(sdkJS(() => 1), '{"__dbos_serializer":"superjson"}');
  assert.throws(() => sdkSer.DBOSJSON.parse(sdkJS(() => 1)), TypeError);
});

test('nested functions and symbols are dropped as in the SDK', async () => {
  const v = { a: 1, f: () => 1, list: [1, () => 2], m: new Map([['k', { g: () => 3 }]]) };
  assert.equal(await serializeValue(v, JS_SUPERJSON), sdkJS(v));
  assert.equal(await serializeValue(v, PORTABLE_JSON), sdkPortable(v));
  // Also on the plain-data path (no Map), and inside arguments.
  const plain = { a: [{ b: Symbol('q'), c: 1 }], f: () => 1, list: [() => 2, 3] };
  assert.equal(await serializeValue(plain, JS_SUPERJSON), sdkJS(plain));
  assert.equal(await serializeValue(plain, PORTABLE_JSON), sdkPortable(plain));
  assert.equal(await serializeArgs([{ cb: () => 1 }], PORTABLE_JSON), await sdkArgs([{ cb: () => 1 }], 'portable'));
  assert.equal(await serializeArgs([{ cb: () => 1 }]), await sdkArgs([{ cb: () => 1 }], 'native'));
});

test('roundTrip returns the reader-side copy with throwing stubs for lost functions', async () => {
  class Counter {
    n = 1;
    inc(): number {
      return ++this.n;
    }
  }
  const original = { c: new Counter(), f: () => 1, when: new Date(5), list: [new Counter()] };
  const copy = (await roundTrip(original, JS_SUPERJSON, { path: ['wf', '<result>'] })).deserialized;
  assert.equal(copy.when.getTime(), 5);
  assert.notEqual(copy, original);
  assert.throws(() => copy.f(), /Attempted to call 'f' at path wf.<result>/);
  assert.throws(() => copy.c.inc(), /Attempted to call 'inc' at path wf.<result>.c/);
  // Array indices come from getOwnPropertyNames, hence `["0"]` (as in the SDK).
  assert.throws(() => copy.list[0].inc(), /Attempted to call 'inc' at path wf.<result>.list\["0"\]/);
  const sdk = await sdkSer.serializeFunctionInputOutputWithSerializer(original, ['wf', '<result>'], sdkSer.DBOSJSON, JS_SUPERJSON);
  const ours = await roundTrip(original, JS_SUPERJSON, { path: ['wf', '<result>'] });
  assert.equal(ours.stringified, sdk.stringified);
  assert.equal(ours.serialization, sdk.sername);
  assert.deepEqual(Object.keys(ours.deserialized), Object.keys(sdk.deserialized));
  // Circular values round-trip with identity.
  const circ: Record<string, unknown> = { a: 1 };
  circ.self = circ;
  const cc = (await roundTrip(circ, JS_SUPERJSON)).deserialized;
  assert.equal(cc.self, cc);
  // Member paths in stub messages: brackets for indices and keys that are not identifiers.
  const odd = (await roundTrip({ 'odd key': { x: new Counter() } }, JS_SUPERJSON, { path: ['wf', '<arguments>', 0] })).deserialized;
  assert.throws(() => odd['odd key'].x.inc(), /Attempted to call 'inc' at path wf\.<arguments>\[0\]\["odd key"\]\.x on/);
});

// ---------------------------------------------------------------------------------------------------------------
// Custom serializers and recipes
// ---------------------------------------------------------------------------------------------------------------

test('a custom serializer is used for the app format and its name recorded', async () => {
  const base64: DBOSSerializer = {
    name: () => 'base64_json',
    stringify: (v) => Buffer.from(JSON.stringify(v ?? null)).toString('base64'),
    parse: (t) => (t === null || t === undefined ? null : (JSON.parse(Buffer.from(t, 'base64').toString()) as unknown)),
  };
  setCustomSerializer(base64);
  try {
    assert.equal(appSerializationName(), 'base64_json');
    assert.equal(serializationNameFor(undefined), 'base64_json');
    assert.equal(serializationNameFor('native'), JS_SUPERJSON);
    assert.equal(serializationNameFor('portable'), PORTABLE_JSON);
    assert.equal((await roundTrip({ a: 1 })).serialization, 'base64_json');
    const text = await serializeValue({ a: 1 });
    assert.equal(text, base64.stringify({ a: 1 }));
    assert.equal(await serializeValue({ a: 1 }, 'base64_json'), text);
    const sdk = await sdkSer.serializeValue({ a: 1 }, base64, undefined);
    assert.deepEqual({ serializedValue: text, serialization: appSerializationName() }, sdk);
    assert.deepEqual(await deserializeValue(text, 'base64_json'), { a: 1 });
    assert.deepEqual(await deserializeValue(text, null), { a: 1 });
    // The built-in formats are still read and written by name.
    assert.equal(await serializeValue(5, JS_SUPERJSON), '{"json":5,"__dbos_serializer":"superjson"}');
    assert.equal(await deserializeValue('{"json":5,"__dbos_serializer":"superjson"}', JS_SUPERJSON), 5);
    assert.throws(() => serializeValue(1, 'other_fmt'), {
      name: 'TypeError',
      message: 'Serializer provided (base64_json) is not compatible with the required serialization (other_fmt)',
    });
    assert.throws(() => deserializeValue('x', 'other_fmt'), { message: 'Value deserialization type other_fmt is not available' });
    // Args and errors through the custom serializer.
    assert.deepEqual(await deserializeArgs(await serializeArgs([1, 'a']), 'base64_json'), [1, 'a']);
    const err = await deserializeError(await serializeError(Object.assign(new Error('x'), { extra: 1 })), 'base64_json');
    assert.equal(err.message, 'x');
    assert.equal((err as Error & { extra?: number }).extra, 1);
    // A per-call serializer (e.g. a DBOSClient's) overrides the global one.
    assert.equal(await serializeValue(5, null, { serializer: DBOSJSON }), '{"json":5,"__dbos_serializer":"superjson"}');
  } finally {
    setCustomSerializer(undefined);
  }
  assert.equal(appSerializationName(), JS_SUPERJSON);
  assert.throws(() => setCustomSerializer({} as DBOSSerializer), TypeError);
});

test('an asynchronous custom serializer gives promises; synchronous serializers give values', async () => {
  const asyncSer: DBOSSerializer = {
    name: () => 'async_json',
    stringify: async (v) => JSON.stringify(v),
    parse: async (t) => (t == null ? null : (JSON.parse(t) as unknown)),
  };
  setCustomSerializer(asyncSer);
  try {
    const text = serializeValue({ a: 1 });
    assert.ok(text instanceof Promise);
    assert.equal(await text, '{"a":1}');
    const value = deserializeValue('{"a":1}', 'async_json');
    assert.ok(value instanceof Promise);
    assert.deepEqual(await value, { a: 1 });
    const args = deserializeArgs('[1]', null);
    assert.ok(args instanceof Promise);
    assert.deepEqual(await args, [1]);
    // The built-in formats stay synchronous: the value itself, no promise (no microtask hop).
    assert.equal(serializeValue(1, PORTABLE_JSON), '1');
    assert.equal(serializeValue(1, JS_SUPERJSON), '{"json":1,"__dbos_serializer":"superjson"}');
  } finally {
    setCustomSerializer(undefined);
  }
});

test('registerSerialization adds a superjson recipe in the SDK format', async () => {
  class Money {
    constructor(
      readonly amount: number,
      readonly currency: string,
    ) {}
  }
  registerSerialization<Money, string>({
    name: 'Money',
    isApplicable: (v: unknown): v is Money => v instanceof Money,
    serialize: (m) => `${m.amount} ${m.currency}`,
    deserialize: (s) => {
      const [a, c] = s.split(' ');
      return new Money(Number(a), c ?? '');
    },
  });
  const text = await serializeValue({ price: new Money(5, 'EUR') }, JS_SUPERJSON);
  assert.equal(text, '{"json":{"price":"5 EUR"},"meta":{"values":{"price":[["custom","Money"]]}},"__dbos_serializer":"superjson"}');
  const back = await deserializeValue(text, JS_SUPERJSON) as { price: Money };
  assert.ok(back.price instanceof Money);
  assert.equal(back.price.currency, 'EUR');
  // The SDK reads it with the same recipe name.
  sdkSer.registerSerializationRecipe<Money, string>({
    name: 'Money',
    isApplicable: (v: unknown): v is Money => v instanceof Money,
    serialize: (m) => `${m.amount} ${m.currency}`,
    deserialize: (s) => new Money(Number(s.split(' ')[0]), s.split(' ')[1] ?? ''),
  });
  assert.equal(sdkJS({ price: new Money(5, 'EUR') }), text);
});

test('DBOSJSON / DBOSPortableJSON objects behave as the SDK ones', async () => {
  assert.equal(DBOSJSON.name(), sdkSer.DBOSJSON.name());
  assert.equal(DBOSPortableJSON.name(), sdkSer.DBOSPortableJSON.name());
  assert.equal(DBOSJSON.parse(null), null);
  assert.equal(DBOSPortableJSON.parse(null), null);
  assert.equal(DBOSPortableJSON.stringify({ d: new Date(0) }), sdkPortable({ d: new Date(0) }));
  assert.ok(ourFromSdk && sdkFromOur);
});

// ---------------------------------------------------------------------------------------------------------------
// Error classes
// ---------------------------------------------------------------------------------------------------------------

type AnyCtor = new (...args: never[]) => Error;
const classCases: Array<{ name: string; code: number; args: unknown[]; setsName: boolean }> = [
  { name: 'DBOSError', code: 1, args: ['generic'], setsName: false },
  { name: 'DBOSInitializationError', code: 3, args: ['init failed', new Error('cause')], setsName: false },
  { name: 'DBOSWorkflowConflictError', code: 5, args: ['wf-1'], setsName: false },
  { name: 'DBOSNotRegisteredError', code: 6, args: ['fn'], setsName: false },
  { name: 'DBOSNotRegisteredError', code: 6, args: ['fn', 'full message'], setsName: false },
  { name: 'DBOSNonExistentWorkflowError', code: 16, args: ['missing'], setsName: false },
  { name: 'DBOSMaxRecoveryAttemptsExceededError', code: 18, args: ['wf-2', 100], setsName: false },
  { name: 'DBOSMaxRecoveryAttemptsExceededError', code: 18, args: ['wf-2'], setsName: false },
  { name: 'DBOSExecutorNotInitializedError', code: 20, args: [], setsName: false },
  { name: 'DBOSInvalidWorkflowTransitionError', code: 21, args: [], setsName: false },
  { name: 'DBOSInvalidWorkflowTransitionError', code: 21, args: ['custom'], setsName: false },
  { name: 'DBOSConflictingWorkflowError', code: 22, args: ['wf-3', 'different name'], setsName: false },
  { name: 'DBOSMaxStepRetriesError', code: 23, args: ['step', 3, [new Error('e1'), new Error('e2')]], setsName: false },
  { name: 'DBOSWorkflowCancelledError', code: 24, args: ['wf-4'], setsName: false },
  { name: 'DBOSConflictingRegistrationError', code: 25, args: ['dup'], setsName: false },
  { name: 'DBOSUnexpectedStepError', code: 26, args: ['wf-5', 3, 'expected', 'recorded'], setsName: false },
  { name: 'DBOSUnexpectedStepError', code: 26, args: ['wf-5', 3, 'expected', 'DBOS.patch-p1'], setsName: false },
  { name: 'DBOSAwaitedWorkflowCancelledError', code: 27, args: ['wf-6'], setsName: false },
  { name: 'DBOSQueueDuplicatedError', code: 28, args: ['wf-7', 'q', 'dedup'], setsName: true },
  { name: 'DBOSInvalidQueuePriorityError', code: 29, args: [-1, 0, 2147483647], setsName: false },
  { name: 'DBOSAwaitedWorkflowExceededMaxRecoveryAttempts', code: 30, args: ['wf-8'], setsName: false },
  { name: 'DBOSStepTimeoutError', code: 31, args: ['step', 500], setsName: false },
  { name: 'DBOSInvalidWorkflowInputError', code: 32, args: ['wf', new TypeError('bad map')], setsName: false },
  { name: 'DBOSInvalidWorkflowInputError', code: 32, args: ['wf', 'plain reason'], setsName: false },
  { name: 'DBOSStreamTimeoutError', code: 33, args: ['wf-9', 'key'], setsName: true },
  { name: 'DBOSStreamTimeoutError', code: 33, args: ['wf-9', 'key', 1000], setsName: true },
  { name: 'DBOSStreamNondeterminismError', code: 34, args: ['wf-10', 'key'], setsName: true },
  { name: 'DBOSQueryTimeoutError', code: 35, args: [30000], setsName: true },
  { name: 'DBOSWorkflowIDInUseError', code: 36, args: ['wf-11', 'PENDING', 'myWf'], setsName: true },
  { name: 'DBOSStepNondeterminismError', code: 37, args: ['wf-12', 4], setsName: true },
];

test('every error class: instanceof, dbosErrorCode, name, message and own properties as in the SDK', async () => {
  const ours = E as unknown as Record<string, AnyCtor>;
  const theirs = sdkErr as unknown as Record<string, AnyCtor>;
  for (const { name, code, args, setsName } of classCases) {
    const Ours = ours[name];
    const Theirs = theirs[name];
    assert.ok(Ours, `missing class ${name}`);
    const a = new Ours(...(args as never[]));
    const b = new Theirs(...(args as never[]));
    assert.ok(a instanceof Ours, name);
    assert.ok(a instanceof E.DBOSError, name);
    assert.ok(a instanceof Error, name);
    assert.equal(a.constructor, Ours, name);
    assert.equal(Ours.name, name);
    assert.equal(E.getDBOSErrorCode(a), code, name);
    assert.equal((a as E.DBOSError).dbosErrorCode, code, name);
    assert.equal(a.message, b.message, name);
    assert.equal(a.name, b.name, name);
    assert.equal(a.name, setsName ? name : 'Error', name);
    assert.deepEqual(Object.keys(a), Object.keys(b), name);
    pinStacks(a);
    pinStacks(b);
    assert.deepEqual(ownProps(a), ownProps(b), name);
    assert.equal(await serializeError(a, JS_SUPERJSON), await sdkError(b, JS_SUPERJSON), name);
    assert.equal(await serializeError(a, PORTABLE_JSON), await sdkError(b, PORTABLE_JSON), name);
  }
  // Exported code constants.
  assert.equal(E.UnexpectedStep, sdkErr.UnexpectedStep);
  assert.equal(E.QueueDedupIDDuplicated, sdkErr.QueueDedupIDDuplicated);
  assert.equal(E.StreamTimeout, sdkErr.StreamTimeout);
  assert.equal(E.StreamNondeterminism, sdkErr.StreamNondeterminism);
  assert.equal(E.QueryTimeout, sdkErr.QueryTimeout);
  assert.equal(E.WorkflowIDInUse, sdkErr.WorkflowIDInUse);
  assert.equal(E.StepNondeterminism, sdkErr.StepNondeterminism);
  // Every class the SDK exports exists here.
  for (const k of Object.keys(sdkErr)) assert.ok(k in E, `missing export ${k}`);
});

test('PortableWorkflowError and the helpers', async () => {
  const p = new E.PortableWorkflowError('msg', 'Custom', 'C', { a: 1 });
  const s = new SdkPortableWorkflowError('msg', 'Custom', 'C', { a: 1 });
  assert.ok(p instanceof E.PortableWorkflowError);
  assert.ok(p instanceof Error);
  assert.ok(!(p instanceof E.DBOSError));
  assert.deepEqual(Object.keys(p), Object.keys(s));
  assert.deepEqual(Object.keys(p), ['name', 'code', 'data']);
  assert.equal(p.name, 'Custom');
  assert.equal(E.getDBOSErrorCode(p), undefined);
  assert.equal(E.getDBOSErrorCode(new Error('x')), undefined);
  assert.equal(E.getDBOSErrorCode(Object.assign(new Error('x'), { dbosErrorCode: '3' })), undefined);
  assert.ok(E.isStreamTimeoutError(new E.DBOSStreamTimeoutError('w', 'k')));
  assert.ok(E.isStreamTimeoutError(new E.PortableWorkflowError('m', 'DBOSStreamTimeoutError')));
  assert.ok(!E.isStreamTimeoutError(new E.PortableWorkflowError('m', 'Other')));
  assert.ok(!E.isStreamTimeoutError(new Error('x')));
  // SDK-made errors are recognized through their code.
  assert.ok(E.isStreamTimeoutError(new sdkErr.DBOSStreamTimeoutError('w', 'k')));
  assert.ok(E.isWorkflowIDInUseError(new sdkErr.DBOSWorkflowIDInUseError('w', 's', 'n')));
  assert.ok(E.isWorkflowIDInUseError(new E.PortableWorkflowError('m', 'DBOSWorkflowIDInUseError')));
  assert.ok(!E.isWorkflowIDInUseError('DBOSWorkflowIDInUseError'));
});
