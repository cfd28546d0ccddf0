/**
 * Value, argument and error serialization, byte-compatible with `@dbos-inc/dbos-sdk` 5.3.0.
 *
 * Formats (the `serialization` column):
 * - `js_superjson` (DBOSJSON, the default): `{"json":…,"meta":…,"__dbos_serializer":"superjson"}` written with the
 *   default superjson 1.x instance (so classes/recipes registered on it directly are honoured, as in the SDK), plus
 *   the SDK's `Buffer` recipe.
 * - `portable_json`: plain JSON with the cross-language conversions of the SDK's portable replacer.
 * - NULL (or the custom serializer's name): the configured serializer (`setCustomSerializer`, default DBOSJSON).
 *
 * Every entry point exists in a synchronous form and an `…Async` form. They differ only for a custom serializer
 * whose `stringify`/`parse` return Promises (the SDK allows that): the synchronous forms then throw a TypeError.
 * The runtime uses a third form, `…Maybe`: the result itself when the serializer in play is synchronous, a Promise
 * only when it is not, so that the default serializer costs no await (no microtask hop) on the hot paths; callers
 * await only when `isPromiseLike` says so.
 */
import { serializeError as toPlainError, deserializeError as fromPlainError } from 'serialize-error';
import { deserialize as sjDeserialize, registerCustom as sjRegisterCustom, serialize as sjSerialize } from 'superjson';
import type { JSONValue } from 'superjson/dist/types';
import { DBOSError, PortableWorkflowError, type JsonValue } from './error';

export type { JSONValue };

// ---------------------------------------------------------------------------------------------------------------
// Types and constants
// ---------------------------------------------------------------------------------------------------------------

export type SerializationFormat = 'js_superjson' | 'portable_json';
export const JS_SUPERJSON = 'js_superjson' as const;
export const PORTABLE_JSON = 'portable_json' as const;

/** The per-workflow / per-call choice of the public API (`WorkflowConfig.serialization`, `serializationType`). */
export type WorkflowSerializationFormat = undefined | 'native' | 'portable';

/**
 * Generic serializer interface (`DBOSConfig.serializer`); the same shape as the SDK's, so either is assignable to
 * the other. `stringify` and `parse` may return Promises.
 */
export interface DBOSSerializer {
  /** Name of the format, recorded in the `serialization` column. */
  name: () => string;
  stringify(value: unknown): string | Promise<string>;
  parse(text: string | null | undefined): unknown;
}

/** A custom superjson recipe, as taken by `DBOS.registerSerialization`. */
export type SerializationRecipe<T, S extends JSONValue> = {
  name: string;
  isApplicable: (v: unknown) => v is T;
  serialize: (v: T) => S;
  deserialize: (s: S) => T;
};

export const SERIALIZER_MARKER_KEY = '__dbos_serializer';
export const SERIALIZER_MARKER_VALUE = 'superjson';

/** Path of a value inside a workflow's inputs or outputs, used in error messages. */
export type PathToMember = ReadonlyArray<string | number | symbol>;

export interface SerializerOptions {
  /** Serializer to use for NULL / its own name instead of the one set by `setCustomSerializer` (e.g. a client's). */
  serializer?: DBOSSerializer;
}

export interface SerializeOptions extends SerializerOptions {
  /** Where the value sits (e.g. `[workflowName, '<arguments>']`), for error messages. */
  path?: PathToMember;
  /** What the value is (e.g. `the return value of workflow wf`), for error messages; wins over `path`. */
  what?: string;
  /**
   * Reject functions and unregistered symbols nested anywhere in the value (a `DBOSError` naming the path).
   * Off by default, and the API does not use it: as in the SDK, nested ones are dropped as `JSON.stringify`
   * drops them (and `roundTrip` stubs them). Only a value that is itself a function or symbol, which would
   * produce an unreadable record, is always rejected.
   */
  rejectFunctions?: boolean;
}

export interface RoundTripResult<T> {
  /** The value as a reader will see it (with throwing stubs where functions were dropped). */
  deserialized: T;
  /** The stored text. */
  stringified: string;
  /** The stored format name. */
  serialization: string;
}

export type MaybePromise<T> = T | Promise<T>;

/** Whether a `…Maybe` result must be awaited (a thenable a synchronous parse returned is awaited too, as the SDK does). */
export function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function chain<T, U>(v: MaybePromise<T>, f: (t: T) => U | Promise<U>): MaybePromise<U> {
  return isPromiseLike(v) ? Promise.resolve(v).then(f) : f(v);
}

function syncResult<T>(v: MaybePromise<T>, fn: string): T {
  if (isPromiseLike(v)) {
    Promise.resolve(v).catch(() => undefined); // the sync caller cannot observe it
    throw new TypeError(`The configured serializer is asynchronous; use ${fn}Async instead of ${fn}`);
  }
  return v;
}

/** `f()`, or `fallback(error)` if it throws or its promise rejects; synchronous when `f` is. */
export function withFallback<T, F>(f: () => MaybePromise<T>, fallback: (e: unknown) => F): MaybePromise<T | F> {
  try {
    const r = f();
    return isPromiseLike(r) ? Promise.resolve(r).then((x) => x, fallback) : r;
  } catch (e) {
    return fallback(e);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Recipes
// ---------------------------------------------------------------------------------------------------------------

const registeredRecipes: Array<{ isApplicable: (v: unknown) => boolean }> = [];

/** Registers a custom superjson recipe (global; affects the `js_superjson` format). Same as `registerSerialization`. */
export function registerSerializationRecipe<T, S extends JSONValue>(r: SerializationRecipe<T, S>): void {
  sjRegisterCustom<T, S>(
    {
      isApplicable: (v: unknown): v is T => r.isApplicable(v),
      serialize: (v: T) => r.serialize(v),
      deserialize: (s: S) => r.deserialize(s),
    },
    r.name,
  );
  registeredRecipes.push({ isApplicable: (v) => r.isApplicable(v) });
}

/** The module-level form of `DBOS.registerSerialization` (the launch check belongs to the caller). */
export function registerSerialization<T, S extends JSONValue>(serReg: SerializationRecipe<T, S>): void {
  registerSerializationRecipe(serReg);
}

// The SDK's Buffer recipe: `{"json":[104,105],"meta":{"values":[["custom","Buffer"]]}}`.
registerSerializationRecipe<Buffer, number[]>({
  name: 'Buffer',
  isApplicable: (v: unknown): v is Buffer => Buffer.isBuffer(v),
  serialize: (v) => Array.from(v),
  deserialize: (s) => Buffer.from(s),
});

// ---------------------------------------------------------------------------------------------------------------
// Paths and unserializable values
// ---------------------------------------------------------------------------------------------------------------

/** Formats a member path like the SDK: `wf.<arguments>[0].cb`, `["odd key"]`, `(root)` when empty. */
export function formatPath(path: PathToMember): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'symbol') out += `[${String(seg)}]`;
    else if (/^<?[A-Za-z_$][A-Za-z0-9_$]*>?$/.test(seg)) out += `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out.startsWith('.') ? out.slice(1) : out;
}

/** Where a value came from, for the error that refuses it. */
type Origin = Pick<SerializeOptions, 'path' | 'what'> | undefined;

function unserializableError(kind: string, origin: Origin): DBOSError {
  const subject = origin?.what ? `${origin.what} (${kind})` : `${kind} at ${formatPath(origin?.path ?? [])}`;
  return new DBOSError(
    `Cannot serialize ${subject}: functions and symbols are not preserved through ` +
      `serialization; see 'DBOS.registerSerialization'.`,
  );
}

function describeUnserializable(v: unknown): string {
  if (typeof v === 'function') return v.name ? `function '${v.name}'` : 'a function';
  return `${String(v)}`;
}

function isRegisteredSymbol(s: symbol): boolean {
  // superjson annotates registered symbols (['symbol', id]); it leaves others as-is, which JSON then drops.
  return sjSerialize(s).meta !== undefined;
}

function isRecipeValue(v: unknown): boolean {
  return registeredRecipes.some((r) => {
    try {
      return r.isApplicable(v);
    } catch {
      return false;
    }
  });
}

const OPAQUE_TYPES: ReadonlyArray<abstract new (...args: never[]) => unknown> = [
  Date,
  RegExp,
  Error,
  WeakMap,
  WeakSet,
  ArrayBuffer,
  DataView,
  URL,
];

/**
 * The path of the first function or unregistered symbol inside `value` (own enumerable properties, array
 * items, Map keys/values, Set items), or undefined if there is none. Values handled by a registered recipe
 * are not entered.
 */
export function findUnserializablePath(
  value: unknown,
  path: PathToMember = [],
): { path: PathToMember; value: unknown } | undefined {
  const seen = new WeakSet<object>();
  const todo: Array<{ v: unknown; p: PathToMember }> = [{ v: value, p: path }];
  while (todo.length > 0) {
    const { v, p } = todo.pop()!;
    if (typeof v === 'function') return { path: p, value: v };
    if (typeof v === 'symbol') {
      if (!isRegisteredSymbol(v)) return { path: p, value: v };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (seen.has(v)) continue;
    seen.add(v);
    if (isRecipeValue(v) || ArrayBuffer.isView(v) || OPAQUE_TYPES.some((t) => v instanceof t)) continue;
    const children: Array<{ v: unknown; p: PathToMember }> = [];
    if (v instanceof Map) {
      let i = 0;
      for (const [k, val] of v) {
        const step = typeof k === 'string' || typeof k === 'number' ? String(k) : `<key ${i}>`;
        children.push({ v: k, p: [...p, `<key ${i}>`] }, { v: val, p: [...p, step] });
        i++;
      }
    } else if (v instanceof Set) {
      let i = 0;
      for (const item of v) children.push({ v: item, p: [...p, i++] });
    } else if (Array.isArray(v)) {
      v.forEach((item: unknown, i) => children.push({ v: item, p: [...p, i] }));
    } else {
      for (const key of Object.keys(v)) {
        let child: unknown;
        try {
          child = (v as Record<string, unknown>)[key];
        } catch {
          continue;
        }
        children.push({ v: child, p: [...p, key] });
      }
    }
    // Depth-first, in document order.
    for (const child of children.reverse()) todo.push(child);
  }
  return undefined;
}

/** A function or unregistered symbol: stored, it would be dropped entirely (an unreadable record). */
function isUnserializable(value: unknown): boolean {
  return typeof value === 'function' || (typeof value === 'symbol' && !isRegisteredSymbol(value));
}

function checkSerializable(value: unknown, opts: SerializeOptions | undefined): void {
  if (opts?.rejectFunctions) {
    const bad = findUnserializablePath(value, opts.path ?? []);
    if (bad) throw unserializableError(describeUnserializable(bad.value), bad.value === value ? opts : { path: bad.path });
  } else if (isUnserializable(value)) {
    throw unserializableError(describeUnserializable(value), opts);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// js_superjson (DBOSJSON)
// ---------------------------------------------------------------------------------------------------------------

let legacyParsing = true;

/**
 * Whether DBOSJSON also reads unbranded text (rows written before the superjson envelope) with the legacy
 * reviver. On by default. SDK 5.3.0 itself no longer does: it throws
 * `TypeError: Value carries no superjson marker, so it was not written by this serializer`; turn this off to
 * match that exactly.
 */
export function setLegacyParsing(enabled: boolean): void {
  legacyParsing = enabled;
}

function isBrandedRecord(v: unknown): v is { json: JSONValue; meta?: Record<string, unknown> } {
  return (
    typeof v === 'object' &&
    v !== null &&
    SERIALIZER_MARKER_KEY in v &&
    (v as Record<string, unknown>)[SERIALIZER_MARKER_KEY] === SERIALIZER_MARKER_VALUE &&
    'json' in v
  );
}

/** The pre-superjson reviver: Buffer JSON, `dbos_Date`, `dbos_BigInt`. */
export function legacyReviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const rec = value as Record<string, unknown>;
  if (rec.type === 'Buffer' && Array.isArray(rec.data)) return Buffer.from(rec.data as number[]);
  if (rec.dbos_type === 'dbos_Date') return new Date(rec.dbos_data as string);
  if (rec.dbos_type === 'dbos_BigInt') return BigInt(rec.dbos_data as string);
  return value;
}

function superjsonStringify(value: unknown, origin: Origin): string {
  const { json, meta } = sjSerialize(value);
  // A function or unregistered symbol comes back as-is; JSON.stringify would then drop the `json` key.
  if (json === undefined || typeof json === 'function' || typeof json === 'symbol') throw unserializableError(describeUnserializable(value), origin);
  // Key order matters (byte-compatibility): json, meta (only if any), marker.
  const envelope: Record<string, unknown> = { json };
  if (meta !== undefined) envelope.meta = meta;
  envelope[SERIALIZER_MARKER_KEY] = SERIALIZER_MARKER_VALUE;
  return JSON.stringify(envelope);
}

function superjsonParse(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  const parsed: unknown = JSON.parse(text);
  if (isBrandedRecord(parsed)) {
    return sjDeserialize(parsed as Parameters<typeof sjDeserialize>[0]);
  }
  if (!legacyParsing) {
    throw new TypeError(
      `Value carries no ${SERIALIZER_MARKER_VALUE} marker, so it was not written by this serializer`,
    );
  }
  return JSON.parse(text, legacyReviver) as unknown;
}

/** The default format: SuperJSON in the DBOS envelope. */
export const DBOSJSON: {
  name: () => string;
  parse: (text: string | null | undefined) => unknown;
  stringify: (value: unknown) => string;
} = {
  name: () => JS_SUPERJSON,
  parse: (text) => superjsonParse(text),
  stringify: (value) => superjsonStringify(value, undefined),
};

// ---------------------------------------------------------------------------------------------------------------
// portable_json
// ---------------------------------------------------------------------------------------------------------------

// JSON.stringify has already applied toJSON (so Dates normally arrive as ISO strings, invalid ones as null).
function portableReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString(10);
  if (value instanceof Map) {
    const obj: Record<string, unknown> = {};
    for (const k of value.keys()) {
      if (typeof k !== 'string') {
        throw new TypeError('Attempt to do portable JSON serialization of a map with non-string keys');
      }
    }
    for (const [k, v] of value as Map<string, unknown>) {
      Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return obj;
  }
  if (value instanceof Set) return Array.from(value as Set<unknown>);
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

function portableStringify(value: unknown, origin: Origin): string {
  const text = JSON.stringify(value ?? null, portableReplacer) as string | undefined;
  if (text === undefined) throw unserializableError(describeUnserializable(value), origin);
  return text;
}

function portableParse(text: string | null | undefined): unknown {
  return text === null || text === undefined ? null : (JSON.parse(text) as unknown);
}

/** The cross-language format. */
export const DBOSPortableJSON: {
  name: () => string;
  parse: (text: string | null | undefined) => unknown;
  stringify: (value: unknown) => string;
} = {
  name: () => PORTABLE_JSON,
  parse: (text) => portableParse(text),
  stringify: (value) => portableStringify(value, undefined),
};

// ---------------------------------------------------------------------------------------------------------------
// The configured (application) serializer
// ---------------------------------------------------------------------------------------------------------------

let configuredSerializer: DBOSSerializer = DBOSJSON;

/** Sets the application serializer (`DBOSConfig.serializer`); `undefined` restores DBOSJSON. */
export function setCustomSerializer(s: DBOSSerializer | undefined): void {
  if (s !== undefined) {
    if (typeof s.name !== 'function' || typeof s.stringify !== 'function' || typeof s.parse !== 'function') {
      throw new TypeError('A custom serializer must provide name(), stringify() and parse()');
    }
    if (typeof s.name() !== 'string' || s.name() === '') {
      throw new TypeError('A custom serializer name() must return a non-empty string');
    }
  }
  configuredSerializer = s ?? DBOSJSON;
}

/** The application serializer (DBOSJSON unless `setCustomSerializer` was called). */
export function getSerializer(): DBOSSerializer {
  return configuredSerializer;
}

/** The name recorded for values written in the application format. */
export function appSerializationName(opts?: SerializerOptions): string {
  return (opts?.serializer ?? configuredSerializer).name();
}

/** Maps the API's `'portable' | 'native' | undefined` choice to the stored format name. */
export function serializationNameFor(kind: WorkflowSerializationFormat, opts?: SerializerOptions): string {
  if (kind === 'portable') return PORTABLE_JSON;
  if (kind === 'native') return JS_SUPERJSON;
  return appSerializationName(opts);
}

type Writer = { builtin: 'portable' | 'superjson' } | { custom: DBOSSerializer };

function writerFor(format: string | null | undefined, opts: SerializerOptions | undefined): Writer {
  if (format === PORTABLE_JSON) return { builtin: 'portable' };
  if (format === JS_SUPERJSON) return { builtin: 'superjson' };
  const ser = opts?.serializer ?? configuredSerializer;
  const name = ser.name();
  if (!format || format === name) {
    if (name === JS_SUPERJSON && ser === DBOSJSON) return { builtin: 'superjson' };
    return { custom: ser };
  }
  throw new TypeError(`Serializer provided (${name}) is not compatible with the required serialization (${format})`);
}

function writerName(w: Writer): string {
  if ('custom' in w) return w.custom.name();
  return w.builtin === 'portable' ? PORTABLE_JSON : JS_SUPERJSON;
}

function write(w: Writer, value: unknown, origin: Origin): MaybePromise<string> {
  if ('custom' in w) return w.custom.stringify(value);
  return w.builtin === 'portable' ? portableStringify(value, origin) : superjsonStringify(value, origin);
}

function readerFor(serialization: string | null | undefined, opts: SerializerOptions | undefined): DBOSSerializer {
  if (serialization === PORTABLE_JSON) return DBOSPortableJSON;
  if (serialization === JS_SUPERJSON) return DBOSJSON;
  const ser = opts?.serializer ?? configuredSerializer;
  // A value recorded without a format was written by the configured serializer.
  if (!serialization || serialization === ser.name()) return ser;
  throw new TypeError(`Value deserialization type ${serialization} is not available`);
}

/** The stored format name `serializeValue(_, format)` records (NULL/undefined → the app serializer's name). */
export function resolveSerialization(format: string | null | undefined, opts?: SerializerOptions): string {
  return writerName(writerFor(format, opts));
}

// ---------------------------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------------------------

/** `serializeValue`, asynchronous only when the serializer in play is (see the module comment). */
export function serializeValueMaybe(
  value: unknown,
  format: string | null | undefined,
  opts?: SerializeOptions,
): MaybePromise<string> {
  const w = writerFor(format, opts);
  if (!('custom' in w) || opts?.rejectFunctions) checkSerializable(value, opts);
  return write(w, value, opts);
}

/**
 * Serializes a value. `format`: `'js_superjson'`, `'portable_json'`, or null/undefined (or the custom
 * serializer's name) for the application serializer. Throws a `DBOSError` for a top-level function/symbol
 * (and, with `rejectFunctions`, for any nested one), a `TypeError` for a format no serializer provides.
 */
export function serializeValue(
  value: unknown,
  format?: SerializationFormat | string | null,
  opts?: SerializeOptions,
): string {
  return syncResult(serializeValueMaybe(value, format, opts), 'serializeValue');
}

export async function serializeValueAsync(
  value: unknown,
  format?: SerializationFormat | string | null,
  opts?: SerializeOptions,
): Promise<string> {
  return await serializeValueMaybe(value, format, opts);
}

/** `deserializeValue`, asynchronous only when the serializer in play is. */
export function deserializeValueMaybe(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): MaybePromise<unknown> {
  return readerFor(serialization, opts).parse(text);
}

/**
 * Reads a stored value: `portable_json` → JSON; `js_superjson` → DBOSJSON (plus the legacy reviver, see
 * `setLegacyParsing`); NULL or the custom serializer's name → the configured serializer; anything else →
 * `TypeError("Value deserialization type X is not available")`. NULL text reads as null.
 */
export function deserializeValue(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): unknown {
  return syncResult(deserializeValueMaybe(text, serialization, opts), 'deserializeValue');
}

export async function deserializeValueAsync(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Promise<unknown> {
  return await deserializeValueMaybe(text, serialization, opts);
}

/** Like `deserializeValue`, but returns the raw text when it cannot be read (for listing APIs). */
export function safeDeserializeValue(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): unknown {
  return syncResult(
    withFallback(
      () => deserializeValueMaybe(text, serialization, opts),
      () => text,
    ),
    'safeDeserializeValue',
  );
}

export async function safeDeserializeValueAsync(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Promise<unknown> {
  return await withFallback(
    () => deserializeValueMaybe(text, serialization, opts),
    () => text,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Round trips (what a function receives / a caller gets back, exactly as on recovery)
// ---------------------------------------------------------------------------------------------------------------

const STUB_SKIP_TYPES: ReadonlyArray<abstract new (...args: never[]) => unknown> = [
  Date,
  RegExp,
  WeakMap,
  WeakSet,
  ArrayBuffer,
  DataView,
];

function ownKeys(o: object): Array<string | symbol> {
  return [...Object.getOwnPropertyNames(o), ...Object.getOwnPropertySymbols(o)];
}

function functionKeys(o: object): Array<string | symbol> {
  const keys = new Set<string | symbol>();
  for (const k of ownKeys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k);
    if (d && 'value' in d && typeof d.value === 'function') keys.add(k);
  }
  for (let proto: object | null = Object.getPrototypeOf(o) as object | null; proto && proto !== Object.prototype; ) {
    for (const k of Object.getOwnPropertyNames(proto)) {
      if (k === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(proto, k);
      if (d && 'value' in d && typeof d.value === 'function') keys.add(k);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return [...keys];
}

function bothEnterable(a: unknown, b: unknown): a is object {
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return false;
  return !STUB_SKIP_TYPES.some((t) => a instanceof t);
}

function defineStub(target: object, key: string | symbol, path: PathToMember): void {
  const stub = (): never => {
    throw new Error(
      `Attempted to call '${String(key)}' at path ${formatPath(path)} on an object that is a serialized function ` +
        `input our output value. Functions are not preserved through serialization; see 'DBOS.registerSerialization'. `,
    );
  };
  try {
    Object.defineProperty(target, key, { value: stub, configurable: true, writable: false, enumerable: false });
  } catch {
    try {
      (target as Record<string | symbol, unknown>)[key] = stub;
    } catch {
      // frozen or exotic target: leave it
    }
  }
}

/**
 * Walks the original and its deserialized copy together and, wherever the original had a function (own
 * property or prototype method) that the copy lacks, defines a non-enumerable stub that throws a clear error.
 */
export function attachFunctionStubs(original: unknown, deserialized: unknown, path: PathToMember = []): void {
  const objectish = (v: unknown): v is object => (typeof v === 'object' && v !== null) || typeof v === 'function';
  if (!objectish(original) || !objectish(deserialized)) return;
  const seen = new WeakSet<object>();
  const todo: Array<{ o: object; d: object; p: PathToMember }> = [{ o: original, d: deserialized, p: path }];
  while (todo.length > 0) {
    const { o, d, p } = todo.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    for (const key of functionKeys(o)) {
      if (!(key in d)) defineStub(d, key, p);
    }
    for (const key of ownKeys(o)) {
      try {
        const co: unknown = (o as Record<string | symbol, unknown>)[key];
        const cd: unknown = (d as Record<string | symbol, unknown>)[key];
        if (bothEnterable(co, cd)) todo.push({ o: co, d: cd as object, p: [...p, key] });
      } catch {
        // throwing accessor
      }
    }
    if (o instanceof Map && d instanceof Map) {
      for (const [k, vo] of o as Map<unknown, unknown>) {
        const vd: unknown = (d as Map<unknown, unknown>).get(k);
        if (bothEnterable(vo, vd)) {
          const step = typeof k === 'string' || typeof k === 'number' ? String(k) : '[MapValue]';
          todo.push({ o: vo, d: vd as object, p: [...p, step] });
        }
      }
    }
    if (o instanceof Set && d instanceof Set) {
      const ao = [...(o as Set<unknown>)];
      const ad = [...(d as Set<unknown>)];
      for (let i = 0; i < Math.min(ao.length, ad.length); i++) {
        const vo = ao[i];
        const vd = ad[i];
        if (bothEnterable(vo, vd)) todo.push({ o: vo, d: vd as object, p: [...p, i] });
      }
    }
  }
}

function roundTripCore<T>(
  value: T,
  format: string | null | undefined,
  opts: SerializeOptions | undefined,
): MaybePromise<RoundTripResult<T>> {
  const w = writerFor(format, opts);
  const path = opts?.path ?? [];
  if (!('custom' in w) || opts?.rejectFunctions) checkSerializable(value, opts);
  const serialization = writerName(w);
  return chain(write(w, value, opts), (stringified) => {
    const reader: DBOSSerializer = 'custom' in w ? w.custom : w.builtin === 'portable' ? DBOSPortableJSON : DBOSJSON;
    return chain(reader.parse(stringified), (parsed) => {
      // As in the SDK, stubs are attached for the built-in formats only (and a custom serializer named js_superjson).
      if (!('custom' in w) || serialization === JS_SUPERJSON) {
        if ((typeof parsed === 'object' && parsed !== null) || typeof parsed === 'function') {
          attachFunctionStubs(value, parsed, path);
        }
      }
      return { deserialized: parsed as T, stringified, serialization };
    });
  });
}

/** Serializes then deserializes `value`, returning the copy, the stored text and its format name. */
export function roundTripWithText<T>(
  value: T,
  format?: SerializationFormat | string | null,
  opts?: SerializeOptions,
): RoundTripResult<T> {
  return syncResult(roundTripCore(value, format, opts), 'roundTripWithText');
}

/** `roundTripWithText`, as a promise only when the serializer is asynchronous. */
export function roundTripWithTextMaybe<T>(
  value: T,
  format?: SerializationFormat | string | null,
  opts?: SerializeOptions,
): MaybePromise<RoundTripResult<T>> {
  return roundTripCore(value, format, opts);
}

export async function roundTripWithTextAsync<T>(
  value: T,
  format?: SerializationFormat | string | null,
  opts?: SerializeOptions,
): Promise<RoundTripResult<T>> {
  return await roundTripCore(value, format, opts);
}

/** `deserialize(serialize(value))`: the copy a reader gets (dropped functions become throwing stubs). */
export function roundTrip<T>(value: T, format?: SerializationFormat | string | null, opts?: SerializeOptions): T {
  return syncResult(roundTripCore(value, format, opts), 'roundTrip').deserialized;
}

export async function roundTripAsync<T>(
  value: T,
  format?: SerializationFormat | string | null,
  opts?: SerializeOptions,
): Promise<T> {
  return (await roundTripCore(value, format, opts)).deserialized;
}

// ---------------------------------------------------------------------------------------------------------------
// Workflow inputs
// ---------------------------------------------------------------------------------------------------------------

/** `serializeArgs`, asynchronous only when the serializer in play is. */
export function serializeArgsMaybe(
  args: readonly unknown[],
  format?: string | null,
  namedArgs?: Record<string, unknown>,
  opts?: SerializeOptions,
): MaybePromise<string> {
  // Each argument is a value of its own: one that is itself a function or symbol is refused (JSON would
  // turn it into null), while those nested inside arguments are dropped.
  if (format === PORTABLE_JSON || !('custom' in writerFor(format, opts))) {
    args.forEach((arg, i) => {
      if (isUnserializable(arg)) throw unserializableError(describeUnserializable(arg), { what: `argument ${i}` });
    });
  }
  if (format === PORTABLE_JSON) {
    if (opts?.rejectFunctions) checkSerializable({ positionalArgs: args, namedArgs }, opts);
    // `namedArgs` disappears when undefined: `{"positionalArgs":[...]}`.
    return portableStringify({ positionalArgs: args, namedArgs }, opts);
  }
  if (namedArgs) {
    throw new TypeError(`Serialization format '${format ?? appSerializationName(opts)}' does not currently support named args.`);
  }
  return serializeValueMaybe(args, format, opts);
}

/**
 * Serializes workflow inputs: the envelope of the positional-args array (`js_superjson` / app serializer), or
 * `{"positionalArgs":[...]}` (`portable_json`, with `"namedArgs"` only when given).
 */
export function serializeArgs(
  args: readonly unknown[],
  format?: SerializationFormat | string | null,
  namedArgs?: Record<string, unknown>,
  opts?: SerializeOptions,
): string {
  return syncResult(serializeArgsMaybe(args, format, namedArgs, opts), 'serializeArgs');
}

export async function serializeArgsAsync(
  args: readonly unknown[],
  format?: SerializationFormat | string | null,
  namedArgs?: Record<string, unknown>,
  opts?: SerializeOptions,
): Promise<string> {
  return await serializeArgsMaybe(args, format, namedArgs, opts);
}

function toArgs(parsed: unknown, serialization: string | null | undefined): unknown[] {
  if (serialization === PORTABLE_JSON) {
    // Both `{"positionalArgs":[…]}` and the SQL function's `{"positionalArgs" : […], "namedArgs" : {}}`.
    if (parsed === null || parsed === undefined) return [];
    const positional = (parsed as { positionalArgs?: unknown }).positionalArgs;
    if (positional === undefined || positional === null) return [];
    if (!Array.isArray(positional)) throw new TypeError('Portable workflow inputs have no positionalArgs array');
    return positional as unknown[];
  }
  if (parsed === null || parsed === undefined) return [];
  if (!Array.isArray(parsed)) throw new TypeError('Workflow inputs are not an array');
  return parsed as unknown[];
}

/** `deserializeArgs`, asynchronous only when the serializer in play is. */
export function deserializeArgsMaybe(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): MaybePromise<unknown[]> {
  return chain(deserializeValueMaybe(text, serialization, opts), (parsed) => toArgs(parsed, serialization));
}

/** Reads workflow inputs back as the positional-args array (NULL text → `[]`). */
export function deserializeArgs(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): unknown[] {
  return syncResult(deserializeArgsMaybe(text, serialization, opts), 'deserializeArgs');
}

export async function deserializeArgsAsync(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Promise<unknown[]> {
  return await deserializeArgsMaybe(text, serialization, opts);
}

/** For listing APIs: the args, null for NULL text, or the raw text when unreadable. */
export function safeDeserializeArgs(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): unknown[] | string | null {
  if (text === null || text === undefined) return null;
  return syncResult(
    withFallback(
      () => deserializeArgsMaybe(text, serialization, opts),
      () => text,
    ),
    'safeDeserializeArgs',
  );
}

export async function safeDeserializeArgsAsync(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Promise<unknown[] | string | null> {
  if (text === null || text === undefined) return null;
  return await withFallback(
    () => deserializeArgsMaybe(text, serialization, opts),
    () => text,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

type PlainRecord = Record<string, unknown>;

function isPlainRecord(v: unknown): v is PlainRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * serialize-error's plain copy (own enumerable properties, then name, message, stack), extended with the
 * non-enumerable `cause` (appended) and the entries of `AggregateError.errors`, recursively; a cause that is
 * one of its own ancestors becomes `'[Circular]'`.
 */
export function errorToRecord(value: unknown, ancestors: Set<unknown> = new Set()): unknown {
  if (!(value instanceof Error)) return toPlainError(value);
  if (ancestors.has(value)) return '[Circular]';
  const out: unknown = toPlainError(value);
  if (isPlainRecord(out)) addNestedErrorRecords(out, value, ancestors);
  return out;
}

function addNestedErrorRecords(record: PlainRecord, value: Error, ancestors: Set<unknown>): void {
  ancestors.add(value);
  const cause: unknown = (value as { cause?: unknown }).cause;
  if (cause !== undefined) record.cause = errorToRecord(cause, ancestors);
  const errors: unknown = (value as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    const copied = record.errors;
    if (Array.isArray(copied)) {
      // An enumerable `errors` (e.g. DBOSMaxStepRetriesError) keeps serialize-error's copy; entries gain causes.
      errors.forEach((e: unknown, i) => {
        const entry: unknown = copied[i];
        if (e instanceof Error && !ancestors.has(e) && typeof entry === 'object' && entry !== null) {
          addNestedErrorRecords(entry as PlainRecord, e, ancestors);
        }
      });
    } else if (value instanceof AggregateError) {
      record.errors = errors.map((e: unknown) => errorToRecord(e, ancestors));
    }
  }
  ancestors.delete(value);
}

function isSerializedErrorLike(v: unknown): v is PlainRecord {
  return isPlainRecord(v) && (typeof v.message === 'string' || typeof v.name === 'string');
}

function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: false, writable: true, configurable: true });
}

function reviveNested(value: unknown): unknown {
  return isSerializedErrorLike(value) ? errorFromRecord(value) : value;
}

function reviveNestedInto(target: object, value: PlainRecord): void {
  if (value.cause !== undefined) defineHidden(target, 'cause', reviveNested(value.cause));
  if (!Array.isArray(value.errors)) return;
  if (value.name === 'AggregateError') {
    defineHidden(target, 'errors', (value.errors as unknown[]).map(reviveNested));
    return;
  }
  const revived: unknown = (target as { errors?: unknown }).errors;
  if (!Array.isArray(revived)) return;
  (value.errors as unknown[]).forEach((raw, i) => {
    const entry: unknown = revived[i];
    if (isSerializedErrorLike(raw) && typeof entry === 'object' && entry !== null) reviveNestedInto(entry, raw);
  });
}

/**
 * Revives a plain error record as serialize-error does: a plain `Error` (constructor `Error`, not the original
 * class, even for DBOS errors, which keep only their `dbosErrorCode` etc.) with the record's properties and
 * `name`/`message`/`stack`; `cause` and AggregateError entries are revived too (non-enumerable).
 */
export function errorFromRecord(value: unknown): Error {
  const err = fromPlainError(value);
  if (value instanceof Error || !isSerializedErrorLike(value)) return err;
  reviveNestedInto(err, value);
  return err;
}

function portableErrorRecord(err: unknown): PlainRecord {
  const src: { name?: unknown; message?: unknown; code?: unknown; data?: unknown } =
    (typeof err === 'object' && err !== null) || typeof err === 'function' ? (err as PlainRecord) : {};
  return { name: src.name, message: src.message, code: src.code, data: src.data };
}

/** `serializeError`, asynchronous only when the serializer in play is. */
export function serializeErrorMaybe(
  err: unknown,
  format?: string | null,
  opts?: SerializerOptions,
): MaybePromise<string> {
  const w = writerFor(format, opts);
  if ('builtin' in w && w.builtin === 'portable') return portableStringify(portableErrorRecord(err), undefined);
  return write(w, errorToRecord(err), undefined);
}

/**
 * Serializes a thrown error. `js_superjson`/app: the envelope of `errorToRecord(err)`;
 * `portable_json`: `{"name","message","code"?,"data"?}`.
 */
export function serializeError(
  err: unknown,
  format?: SerializationFormat | string | null,
  opts?: SerializerOptions,
): string {
  return syncResult(serializeErrorMaybe(err, format, opts), 'serializeError');
}

export async function serializeErrorAsync(
  err: unknown,
  format?: SerializationFormat | string | null,
  opts?: SerializerOptions,
): Promise<string> {
  return await serializeErrorMaybe(err, format, opts);
}

function portableErrorFrom(parsed: unknown): PortableWorkflowError {
  const rec: PlainRecord = isPlainRecord(parsed) ? parsed : {};
  const message = typeof rec.message === 'string' ? rec.message : rec.message === undefined ? '' : String(rec.message);
  const name = typeof rec.name === 'string' ? rec.name : 'Error';
  const code = typeof rec.code === 'string' || typeof rec.code === 'number' ? rec.code : undefined;
  return new PortableWorkflowError(message, name, code, rec.data as JsonValue | undefined);
}

/** `deserializeError`, asynchronous only when the serializer in play is. */
export function deserializeErrorMaybe(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): MaybePromise<Error> {
  return chain(deserializeValueMaybe(text, serialization, opts), (parsed) =>
    serialization === PORTABLE_JSON ? portableErrorFrom(parsed) : errorFromRecord(parsed),
  );
}

/**
 * Throws a revived error: at once when it is ready, else as the rejection of the returned promise (so an async
 * function can `return throwRevived(…)` either way).
 */
export function throwRevived(err: MaybePromise<Error>): Promise<never> {
  if (isPromiseLike(err)) {
    return Promise.resolve(err).then((e) => {
      throw e;
    });
  }
  throw err;
}

/** What a checkpoint recorded: its value, or its error thrown (see `throwRevived`); asynchronous only when the serializer is. */
export function replayCheckpoint(
  cp: { output?: string | null; error?: string | null; serialization?: string | null },
  opts?: SerializerOptions,
): MaybePromise<unknown> {
  if (cp.error) return throwRevived(deserializeErrorMaybe(cp.error, cp.serialization ?? null, opts));
  return deserializeValueMaybe(cp.output ?? null, cp.serialization ?? null, opts);
}

/**
 * Revives a stored error: `portable_json` → `PortableWorkflowError(message, name, code, data)`; otherwise a
 * plain `Error` carrying the recorded properties (see `errorFromRecord`).
 */
export function deserializeError(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Error {
  return syncResult(deserializeErrorMaybe(text, serialization, opts), 'deserializeError');
}

export async function deserializeErrorAsync(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Promise<Error> {
  return await deserializeErrorMaybe(text, serialization, opts);
}

// The SDK's listing APIs revive errors through a path that throws for portable errors, so they come back as
// `new Error(<raw text>)`; mirrored here.
function safeErrorCore(
  text: string,
  serialization: string | null | undefined,
  opts: SerializerOptions | undefined,
): MaybePromise<Error> {
  if (serialization === PORTABLE_JSON) return new Error(text);
  return withFallback(
    () => deserializeErrorMaybe(text, serialization, opts),
    () => new Error(text),
  );
}

/** For listing APIs (as the SDK's `safeParseError`): unreadable text, and any portable error, → `new Error(text)`. */
export function safeDeserializeError(
  text: string,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Error {
  return syncResult(safeErrorCore(text, serialization, opts), 'safeDeserializeError');
}

export async function safeDeserializeErrorAsync(
  text: string,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): Promise<Error> {
  return await safeErrorCore(text, serialization, opts);
}
