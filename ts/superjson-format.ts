/**
 * The `js_superjson` format (the SDK's DBOSJSON, the default): superjson 1.x's `{json, meta}` in the DBOS envelope
 * `{"json":…,"meta":…,"__dbos_serializer":"superjson"}`, byte-identical to what SDK 5.3.0 writes, so SDK
 * processes read our rows and we read theirs.
 *
 * It is written with superjson's default instance, so recipes and classes registered on it directly are honoured
 * as in the SDK. Plain data (what workflows mostly send) is written by one walk of our own that produces
 * superjson's exact output; the first thing in a value that superjson would transform other than a valid Date
 * (undefined, BigInt, NaN/±Infinity/-0, Map, Set, class instances, recipe values, shared or circular references,
 * functions) hands the whole value to superjson.
 */
import SuperJSON, {
  deserialize as sjDeserialize,
  registerCustom as sjRegisterCustom,
  serialize as sjSerialize,
} from 'superjson';
import type { JSONValue } from 'superjson/dist/types';
import { unserializableError, type ValueOrigin } from './function-values';

export type { JSONValue };

export const JS_SUPERJSON = 'js_superjson' as const;
export const SERIALIZER_MARKER_KEY = '__dbos_serializer';
export const SERIALIZER_MARKER_VALUE = 'superjson';

/** A custom superjson recipe, as taken by `DBOS.registerSerialization`. */
export type SerializationRecipe<T, S extends JSONValue> = {
  name: string;
  isApplicable: (v: unknown) => v is T;
  serialize: (v: T) => S;
  deserialize: (s: S) => T;
};

// ---------------------------------------------------------------------------------------------------------------
// Recipes, and whether plain data can be written without superjson
// ---------------------------------------------------------------------------------------------------------------

type Applicability = (v: unknown) => boolean;

/** The `isApplicable` of recipes that only match instances of a class other than Object, Array or Date. */
const instanceOnlyChecks = new WeakSet<Applicability>();

/** Registers a custom superjson recipe (global; affects the `js_superjson` format): `DBOS.registerSerialization`. */
export function registerSerialization<T, S extends JSONValue>(r: SerializationRecipe<T, S>): void {
  sjRegisterCustom<T, S>(
    {
      isApplicable: (v: unknown): v is T => r.isApplicable(v),
      serialize: (v: T) => r.serialize(v),
      deserialize: (s: S) => r.deserialize(s),
    },
    r.name,
  );
}

/**
 * Registers a recipe for the instances of `cls` (a class of our own, or Buffer): it can never apply to plain data,
 * so the plain-data writer need not ask it about every member.
 */
export function registerInstanceRecipe<T extends object, S extends JSONValue>(
  cls: abstract new (...args: never[]) => T,
  name: string,
  serialize: (v: T) => S,
  deserialize: (s: S) => T,
): void {
  const isApplicable = (v: unknown): v is T => v instanceof cls;
  instanceOnlyChecks.add(isApplicable);
  sjRegisterCustom<T, S>({ isApplicable, serialize, deserialize }, name);
}

// The SDK's Buffer recipe: `{"json":[104,105],"meta":{"values":[["custom","Buffer"]]}}`.
registerInstanceRecipe<Buffer, number[]>(
  Buffer,
  'Buffer',
  (v) => Array.from(v),
  (s) => Buffer.from(s),
);

/**
 * superjson 1.13.3's default instance (the one its exported functions use); its registries have no public listing,
 * so their fields are read here. If they are not where expected, every value goes to superjson.
 */
const sjDefault = (SuperJSON as unknown as { defaultInstance?: unknown }).defaultInstance as
  | {
      classRegistry?: { getIdentifier?: (c: unknown) => string | undefined };
      customTransformerRegistry?: { transfomers?: Record<string, { isApplicable?: unknown }> };
    }
  | undefined;

/** Constructors superjson sees on plain data (`value.constructor`); a class registered under one changes its output. */
const PLAIN_CONSTRUCTORS: readonly unknown[] = [Object, Array, Date, String, Number, Boolean];

/**
 * The checks of the registered recipes that might apply to plain data (superjson asks every recipe about every
 * member), or undefined when plain data cannot be written without superjson.
 */
function plainDataRecipeChecks(): Applicability[] | undefined {
  const getIdentifier = sjDefault?.classRegistry?.getIdentifier;
  const transformers = sjDefault?.customTransformerRegistry?.transfomers;
  if (typeof getIdentifier !== 'function' || typeof transformers !== 'object' || transformers === null) {
    return undefined;
  }
  for (const c of PLAIN_CONSTRUCTORS) {
    if (getIdentifier.call(sjDefault?.classRegistry, c) !== undefined) return undefined;
  }
  const checks: Applicability[] = [];
  for (const name in transformers) {
    const check = transformers[name]?.isApplicable;
    if (typeof check !== 'function') return undefined;
    if (!instanceOnlyChecks.has(check as Applicability)) checks.push(check as Applicability);
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------------------------
// The plain-data writer
// ---------------------------------------------------------------------------------------------------------------

/** superjson's `meta.values` tree for what this writer annotates (Dates only). */
type DateAnnotation = ['Date'];
type Annotations = DateAnnotation | { [path: string]: DateAnnotation };

/** Returned when a member is not plain data: superjson writes the value instead. */
const NOT_PLAIN = Symbol('not plain data');
type Written = Annotations | undefined | typeof NOT_PLAIN;

/** superjson's merge of a member's annotations into its parent's (`key` or `escaped key.path`). */
function nestAnnotations(
  into: Record<string, DateAnnotation> | undefined,
  key: string,
  a: Annotations,
): Record<string, DateAnnotation> {
  const out = into ?? {};
  if (Array.isArray(a)) {
    out[key] = a;
  } else {
    const prefix = key.replace(/\./g, '\\.') + '.';
    for (const path of Object.keys(a)) out[prefix + path] = a[path] as DateAnnotation;
  }
  return out;
}

// What JSON.stringify escapes in a string: quotes, backslashes, control characters, lone surrogates (any
// surrogate here, to keep the test cheap).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(s)`, without its cost for the common string that needs no escaping. */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** Writes superjson's `json` text of plain data into `text`, returning its annotations, in one walk. */
class PlainDataWriter {
  text = '';
  /** Every object met: one met twice (shared or circular) gets superjson's referential-equality metadata. */
  private readonly seen = new Set<object>();

  constructor(private readonly recipeChecks: readonly Applicability[]) {}

  write(v: unknown): Written {
    for (const check of this.recipeChecks) if (check(v)) return NOT_PLAIN;
    switch (typeof v) {
      case 'string':
        this.text += quote(v);
        return undefined;
      case 'number':
        // superjson annotates NaN, ±Infinity and -0.
        if (!Number.isFinite(v) || (v === 0 && 1 / v < 0)) return NOT_PLAIN;
        this.text += String(v);
        return undefined;
      case 'boolean':
        this.text += v ? 'true' : 'false';
        return undefined;
      case 'object':
        if (v === null) {
          this.text += 'null';
          return undefined;
        }
        return this.writeObject(v);
      default:
        return NOT_PLAIN; // undefined, bigint, symbol, function
    }
  }

  private writeObject(o: object): Written {
    if (this.seen.has(o)) return NOT_PLAIN;
    this.seen.add(o);
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto === Object.prototype || proto === null) return this.writeRecord(o as Record<string, unknown>);
    if (proto === Array.prototype && Array.isArray(o)) return this.writeArray(o as unknown[]);
    if (proto === Date.prototype && !Number.isNaN((o as Date).valueOf())) {
      this.text += `"${(o as Date).toISOString()}"`;
      return ['Date'];
    }
    return NOT_PLAIN;
  }

  private writeRecord(o: Record<string, unknown>): Written {
    const keys = Object.keys(o);
    let annotations: Record<string, DateAnnotation> | undefined;
    this.text += '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      // superjson's copy would set the prototype instead of a member.
      if (key === '__proto__') return NOT_PLAIN;
      this.text += i === 0 ? `${quote(key)}:` : `,${quote(key)}:`;
      const a = this.write(o[key]);
      if (a === NOT_PLAIN) return NOT_PLAIN;
      if (a !== undefined) annotations = nestAnnotations(annotations, key, a);
    }
    this.text += '}';
    return annotations;
  }

  private writeArray(o: unknown[]): Written {
    // superjson also walks holes' absence and extra properties (e.g. a RegExp match's `groups`); JSON does not.
    if (Object.keys(o).length !== o.length) return NOT_PLAIN;
    let annotations: Record<string, DateAnnotation> | undefined;
    this.text += '[';
    for (let i = 0; i < o.length; i++) {
      if (i > 0) this.text += ',';
      const a = this.write(o[i]);
      if (a === NOT_PLAIN) return NOT_PLAIN;
      if (a !== undefined) annotations = nestAnnotations(annotations, String(i), a);
    }
    this.text += ']';
    return annotations;
  }
}

const ENVELOPE_END = `,"${SERIALIZER_MARKER_KEY}":"${SERIALIZER_MARKER_VALUE}"}`;

/** The stored text of plain data, or undefined when superjson must write the value. */
function writePlainData(value: unknown): string | undefined {
  const checks = plainDataRecipeChecks();
  if (checks === undefined) return undefined;
  const w = new PlainDataWriter(checks);
  const annotations = w.write(value);
  if (annotations === NOT_PLAIN) return undefined;
  if (annotations === undefined) return `{"json":${w.text}${ENVELOPE_END}`;
  return `{"json":${w.text},"meta":{"values":${JSON.stringify(annotations)}}${ENVELOPE_END}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Writer and reader
// ---------------------------------------------------------------------------------------------------------------

/** The stored text of `value`; one that is itself a function or unregistered symbol is refused. */
export function superjsonStringify(value: unknown, origin: ValueOrigin | undefined): string {
  const plain = writePlainData(value);
  if (plain !== undefined) return plain;
  const { json, meta } = sjSerialize(value);
  // A function or unregistered symbol comes back as-is; JSON.stringify would then drop the `json` key.
  if (json === undefined || typeof json === 'function' || typeof json === 'symbol') {
    throw unserializableError(value, origin);
  }
  // Key order matters (byte-compatibility): json, meta (only if any), marker.
  const envelope: Record<string, unknown> = { json };
  if (meta !== undefined) envelope.meta = meta;
  envelope[SERIALIZER_MARKER_KEY] = SERIALIZER_MARKER_VALUE;
  return JSON.stringify(envelope);
}

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
function legacyReviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const rec = value as Record<string, unknown>;
  if (rec.type === 'Buffer' && Array.isArray(rec.data)) return Buffer.from(rec.data as number[]);
  if (rec.dbos_type === 'dbos_Date') return new Date(rec.dbos_data as string);
  if (rec.dbos_type === 'dbos_BigInt') return BigInt(rec.dbos_data as string);
  return value;
}

function superjsonParse(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  const parsed: unknown = JSON.parse(text);
  if (isBrandedRecord(parsed)) {
    return sjDeserialize(parsed as Parameters<typeof sjDeserialize>[0]);
  }
  if (!legacyParsing) {
    throw new TypeError(`Value carries no ${SERIALIZER_MARKER_VALUE} marker, so it was not written by this serializer`);
  }
  return JSON.parse(text, legacyReviver) as unknown;
}

/** The default format: SuperJSON in the DBOS envelope. */
export const DBOSJSON = {
  name: (): string => JS_SUPERJSON,
  parse: (text: string | null | undefined): unknown => superjsonParse(text),
  stringify: (value: unknown): string => superjsonStringify(value, undefined),
};
