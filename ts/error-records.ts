/**
 * Thrown errors as stored records: serialize-error's plain copy (what the SDK stores for a `js_superjson` or custom
 * format error), extended with `cause` chains and AggregateError entries, and its reverse; and the portable
 * record (`{name, message, code?, data?}`) that DBOS processes in every language read as a PortableWorkflowError.
 */
import { serializeError as toPlainError, deserializeError as fromPlainError } from 'serialize-error';
import { PortableWorkflowError, type JsonValue } from './error';

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

/** The `portable_json` record of a thrown value. */
export function portableErrorRecord(err: unknown): PlainRecord {
  const src: { name?: unknown; message?: unknown; code?: unknown; data?: unknown } =
    (typeof err === 'object' && err !== null) || typeof err === 'function' ? (err as PlainRecord) : {};
  return { name: src.name, message: src.message, code: src.code, data: src.data };
}

/** A `portable_json` error record revived. */
export function portableErrorFrom(parsed: unknown): PortableWorkflowError {
  const rec: PlainRecord = isPlainRecord(parsed) ? parsed : {};
  const message = typeof rec.message === 'string' ? rec.message : rec.message === undefined ? '' : String(rec.message);
  const name = typeof rec.name === 'string' ? rec.name : 'Error';
  const code = typeof rec.code === 'string' || typeof rec.code === 'number' ? rec.code : undefined;
  return new PortableWorkflowError(message, name, code, rec.data as JsonValue | undefined);
}
