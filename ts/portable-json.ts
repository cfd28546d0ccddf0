/**
 * The `portable_json` format: plain JSON that DBOS processes in other languages read and write, with the SDK's
 * portable conversions (Date → ISO string, BigInt → decimal string, Map with string keys → object, Set → array,
 * Error → `{name, message}`).
 */
import { unserializableError, type ValueOrigin } from './function-values';

export const PORTABLE_JSON = 'portable_json' as const;

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

/** The portable text of `value`; a value JSON cannot write at all (a function, a symbol) is refused. */
export function portableStringify(value: unknown, origin: ValueOrigin | undefined): string {
  const text = JSON.stringify(value ?? null, portableReplacer) as string | undefined;
  if (text === undefined) throw unserializableError(value, origin);
  return text;
}

/** The cross-language format. */
export const DBOSPortableJSON = {
  name: (): string => PORTABLE_JSON,
  parse: (text: string | null | undefined): unknown =>
    text === null || text === undefined ? null : (JSON.parse(text) as unknown),
  stringify: (value: unknown): string => portableStringify(value, undefined),
};
