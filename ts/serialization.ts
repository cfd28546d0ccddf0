/**
 * Value, argument and error serialization, byte-compatible with `@dbos-inc/dbos-sdk` 5.3.0: which format writes
 * and reads a value, and the entry points the runtime calls.
 *
 * Formats (the `serialization` column):
 * - `js_superjson` (DBOSJSON, the default; `superjson-format.ts`).
 * - `portable_json` (`portable-json.ts`).
 * - NULL (or the custom serializer's name): the configured serializer (`setCustomSerializer`, default DBOSJSON).
 *
 * A custom serializer's `stringify`/`parse` may return Promises (the SDK allows that). Each entry point returns
 * the result itself when the serializer in play is synchronous and a Promise only when it is not, so that the
 * default serializer costs no await (no microtask hop) on the hot paths; callers await only when `isPromiseLike`
 * says so (or always, where speed does not matter: awaiting a plain value is fine).
 */
import { errorFromRecord, errorToRecord, portableErrorFrom, portableErrorRecord } from './error-records';
import { attachFunctionStubs, isUnserializable, unserializableError, type ValueOrigin } from './function-values';
import { DBOSPortableJSON, PORTABLE_JSON, portableStringify } from './portable-json';
import { DBOSJSON, JS_SUPERJSON, superjsonStringify } from './superjson-format';

export { PORTABLE_JSON };
export { registerSerialization, type JSONValue, type SerializationRecipe } from './superjson-format';

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

export interface SerializerOptions {
  /** Serializer to use for NULL / its own name instead of the one set by `setCustomSerializer` (e.g. a client's). */
  serializer?: DBOSSerializer;
}

/** Where a value comes from, for the error that refuses a function or symbol (see `function-values.ts`). */
export interface SerializeOptions extends SerializerOptions, ValueOrigin {}

export interface RoundTripResult<T> {
  /** The value as a reader will see it (with throwing stubs where functions were dropped). */
  deserialized: T;
  /** The stored text. */
  stringified: string;
  /** The stored format name. */
  serialization: string;
}

export type MaybePromise<T> = T | Promise<T>;

/** Whether a result must be awaited (a thenable a synchronous parse returned is awaited too, as the SDK does). */
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
// The configured (application) serializer, and which serializer writes or reads a format
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

/** Writes `value`; the built-in formats refuse a value that is itself a function or symbol (see `origin`). */
function write(w: Writer, value: unknown, origin: ValueOrigin | undefined): MaybePromise<string> {
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

// ---------------------------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------------------------

/**
 * Serializes a value. `format`: `'js_superjson'`, `'portable_json'`, or null/undefined (or the custom
 * serializer's name) for the application serializer. Throws a `DBOSError` for a value that is itself a
 * function/symbol (nested ones are dropped, as in the SDK), a `TypeError` for a format no serializer provides.
 */
export function serializeValue(value: unknown, format?: string | null, opts?: SerializeOptions): MaybePromise<string> {
  return write(writerFor(format, opts), value, opts);
}

/**
 * Reads a stored value: `portable_json` → JSON; `js_superjson` → DBOSJSON (rows without the superjson envelope
 * with the legacy reviver); NULL or the custom serializer's name → the configured serializer; anything else →
 * `TypeError("Value deserialization type X is not available")`. NULL text reads as null.
 */
export function deserializeValue(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): MaybePromise<unknown> {
  return readerFor(serialization, opts).parse(text);
}

/**
 * Serializes then deserializes `value` (what a function receives / a caller gets back, exactly as on recovery):
 * the copy (dropped functions become throwing stubs), the stored text and its format name.
 */
export function roundTrip<T>(
  value: T,
  format?: string | null,
  opts?: SerializeOptions,
): MaybePromise<RoundTripResult<T>> {
  const w = writerFor(format, opts);
  const serialization = writerName(w);
  return chain(write(w, value, opts), (stringified) => {
    const reader: DBOSSerializer = 'custom' in w ? w.custom : w.builtin === 'portable' ? DBOSPortableJSON : DBOSJSON;
    return chain(reader.parse(stringified), (parsed) => {
      // As in the SDK, stubs are attached for the built-in formats only (and a custom serializer named js_superjson).
      if (!('custom' in w) || serialization === JS_SUPERJSON) {
        if ((typeof parsed === 'object' && parsed !== null) || typeof parsed === 'function') {
          attachFunctionStubs(value, parsed, opts?.path ?? []);
        }
      }
      return { deserialized: parsed as T, stringified, serialization };
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Workflow inputs
// ---------------------------------------------------------------------------------------------------------------

/**
 * Serializes workflow inputs: the envelope of the positional-args array (`js_superjson` / app serializer), or
 * `{"positionalArgs":[...]}` (`portable_json`, with `"namedArgs"` only when given).
 */
export function serializeArgs(
  args: readonly unknown[],
  format?: string | null,
  namedArgs?: Record<string, unknown>,
  opts?: SerializerOptions,
): MaybePromise<string> {
  const w = writerFor(format, opts);
  // Each argument is a value of its own: one that is itself a function or symbol is refused (JSON would
  // turn it into null), while those nested inside arguments are dropped.
  if (!('custom' in w)) {
    args.forEach((arg, i) => {
      if (isUnserializable(arg)) throw unserializableError(arg, { what: `argument ${i}` });
    });
  }
  if (format === PORTABLE_JSON) {
    // `namedArgs` disappears when undefined: `{"positionalArgs":[...]}`.
    return portableStringify({ positionalArgs: args, namedArgs }, undefined);
  }
  if (namedArgs) {
    throw new TypeError(`Serialization format '${format ?? appSerializationName(opts)}' does not currently support named args.`);
  }
  return write(w, args, undefined);
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

/** Reads workflow inputs back as the positional-args array (NULL text → `[]`). */
export function deserializeArgs(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): MaybePromise<unknown[]> {
  return chain(deserializeValue(text, serialization, opts), (parsed) => toArgs(parsed, serialization));
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * Serializes a thrown error. `js_superjson`/app: the envelope of `errorToRecord(err)`;
 * `portable_json`: `{"name","message","code"?,"data"?}`.
 */
export function serializeError(err: unknown, format?: string | null, opts?: SerializerOptions): MaybePromise<string> {
  const w = writerFor(format, opts);
  if ('builtin' in w && w.builtin === 'portable') return portableStringify(portableErrorRecord(err), undefined);
  return write(w, errorToRecord(err), undefined);
}

/**
 * Revives a stored error: `portable_json` → `PortableWorkflowError(message, name, code, data)`; otherwise a
 * plain `Error` carrying the recorded properties (see `errorFromRecord`).
 */
export function deserializeError(
  text: string | null | undefined,
  serialization: string | null | undefined,
  opts?: SerializerOptions,
): MaybePromise<Error> {
  return chain(deserializeValue(text, serialization, opts), (parsed) =>
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

/** What a checkpoint recorded: its value, or its error thrown (see `throwRevived`). */
export function replayCheckpoint(
  cp: { output?: string | null; error?: string | null; serialization?: string | null },
  opts?: SerializerOptions,
): MaybePromise<unknown> {
  if (cp.error) return throwRevived(deserializeError(cp.error, cp.serialization ?? null, opts));
  return deserializeValue(cp.output ?? null, cp.serialization ?? null, opts);
}
