/**
 * Functions and symbols do not survive serialization. As in SDK 5.3.0, those nested in a value are dropped (as
 * `JSON.stringify` drops them) and the reader-side copy gets throwing stubs where the original had functions; a
 * value that is itself a function or an unregistered symbol would leave an unreadable record, so it is refused
 * with an error naming where it came from.
 */
import { serialize as sjSerialize } from 'superjson';
import { DBOSError } from './error';

/** Path of a value inside a workflow's inputs or outputs, used in error messages. */
export type PathToMember = ReadonlyArray<string | number | symbol>;

/** Where a value came from, for the error that refuses it; `what` wins over `path`. */
export interface ValueOrigin {
  /** Where the value sits (e.g. `[workflowName, '<arguments>']`). */
  path?: PathToMember;
  /** What the value is (e.g. `the return value of workflow wf`). */
  what?: string;
}

/** Formats a member path like the SDK: `wf.<arguments>[0].cb`, `["odd key"]`, `(root)` when empty. */
function formatPath(path: PathToMember): string {
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

function describeUnserializable(v: unknown): string {
  if (typeof v === 'function') return v.name ? `function '${v.name}'` : 'a function';
  return `${String(v)}`;
}

/** The error that refuses `value` (a function or symbol) coming from `origin`. */
export function unserializableError(value: unknown, origin: ValueOrigin | undefined): DBOSError {
  const kind = describeUnserializable(value);
  const subject = origin?.what ? `${origin.what} (${kind})` : `${kind} at ${formatPath(origin?.path ?? [])}`;
  return new DBOSError(
    `Cannot serialize ${subject}: functions and symbols are not preserved through ` +
      `serialization; see 'DBOS.registerSerialization'.`,
  );
}

/** A function or unregistered symbol: stored, it would be dropped entirely (an unreadable record). */
export function isUnserializable(value: unknown): boolean {
  // superjson annotates registered symbols (['symbol', id]); it leaves others as-is, which JSON then drops.
  return typeof value === 'function' || (typeof value === 'symbol' && sjSerialize(value).meta === undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Stubs in the reader-side copy
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
