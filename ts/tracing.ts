// DBOS.tracer and DBOS.span. OpenTelemetry is an optional peer dependency: `@opentelemetry/api` is loaded only when
// the configuration enables tracing (`tracingEnabled` or `enableOTLP`, as in the SDK) and the application has it
// installed. Spans then go to whatever tracer provider the application registered globally; dbos-native never
// registers or replaces one (with none registered, the API's own no-op tracer takes them). Otherwise spans are
// stubs that record nothing, and nothing is loaded. The types here are our own, so the .d.ts compiles for an
// application without OpenTelemetry.
import { currentAuth } from './auth-context';
import { currentConfig, isInitialized, executor } from './lifecycle';

/** Span attributes (OpenTelemetry's shape). */
export interface Attributes {
  [attributeKey: string]: AttributeValue | undefined;
}
export type AttributeValue = string | number | boolean | Array<null | undefined | string> | Array<null | undefined | number> | Array<null | undefined | boolean>;

/** OpenTelemetry's span status codes. */
export enum SpanStatusCode {
  UNSET = 0,
  OK = 1,
  ERROR = 2,
}

export interface SpanStatus {
  code: SpanStatusCode;
  message?: string;
}

/** A tracing span as DBOS code uses it (the SDK's `DBOSSpan`); with OpenTelemetry, an OpenTelemetry span. */
export type DBOSSpan = {
  setStatus(status: SpanStatus): DBOSSpan;
  attributes: Attributes;
  setAttribute(key: string, attribute: AttributeValue): DBOSSpan;
  addEvent(name: string, attributesOrStartTime?: Attributes, timeStamp?: number): DBOSSpan;
};

/** The part of `@opentelemetry/api` used here. */
interface OtelSpan extends DBOSSpan {
  setAttributes(attributes: Attributes): unknown;
  end(endTime?: number): void;
}
interface OtelApi {
  trace: {
    getTracer(name: string): { startSpan(name: string, options: { attributes?: Attributes }, context?: unknown): OtelSpan };
    getActiveSpan(): OtelSpan | undefined;
    setSpan(context: unknown, span: DBOSSpan): unknown;
  };
  context: { active(): unknown; with<R>(context: unknown, fn: () => R): R };
}

class StubSpan implements DBOSSpan {
  attributes: Attributes = {};
  setStatus(): DBOSSpan {
    return this;
  }
  setAttribute(): DBOSSpan {
    return this;
  }
  addEvent(): DBOSSpan {
    return this;
  }
}

// The SDK's legacy-to-semantic-conventions attribute names (`otelAttributeFormat: 'semconv'`).
const SEMCONV: Record<string, string> = {
  operationUUID: 'dbos.operation.workflow_id',
  operationType: 'dbos.operation.type',
  operationName: 'dbos.operation.name',
  applicationID: 'dbos.application.id',
  applicationVersion: 'dbos.application.version',
  executorID: 'dbos.executor.id',
  queueName: 'dbos.queue.name',
  authenticatedUser: 'dbos.user.name',
  authenticatedRoles: 'dbos.user.roles',
  assumedRole: 'dbos.user.assumed_role',
};

/** `@opentelemetry/api` when tracing is enabled and the application has it; loaded once. */
let otel: OtelApi | null | undefined;
function api(): OtelApi | undefined {
  const cfg = currentConfig();
  if (!(cfg?.tracingEnabled || cfg?.enableOTLP)) return undefined;
  if (otel === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      otel = require('@opentelemetry/api') as OtelApi;
    } catch {
      otel = null; // not installed: tracing stays off
    }
  }
  return otel ?? undefined;
}

function semconv(): boolean {
  return (currentConfig() as { otelAttributeFormat?: unknown } | undefined)?.otelAttributeFormat === 'semconv';
}

/** Starts and ends spans for application code (the SDK's `Tracer`): DBOS.tracer, once launched. */
export class Tracer {
  readonly applicationID = process.env.DBOS__APPID ?? '';
  constructor(readonly executorID: string) {}

  /** The name an attribute is emitted under: its semantic-conventions name with `otelAttributeFormat: 'semconv'`. */
  resolveAttributeName(key: string): string {
    return semconv() ? (SEMCONV[key] ?? key) : key;
  }

  /** A span named `name` (a child of `inputSpan` if given); a stub when tracing is off. */
  startSpan(name: string, attributes?: Attributes, inputSpan?: DBOSSpan): DBOSSpan {
    const o = api();
    if (!o) return new StubSpan();
    const named = attributes && Object.fromEntries(Object.entries(attributes).map(([k, v]) => [this.resolveAttributeName(k), v]));
    const tracer = o.trace.getTracer('dbos-tracer');
    return inputSpan ? tracer.startSpan(name, { attributes: named }, o.trace.setSpan(o.context.active(), inputSpan)) : tracer.startSpan(name, { attributes: named });
  }

  /** Ends a span from startSpan, stamping the application and executor as the SDK does. */
  endSpan(inputSpan: DBOSSpan): void {
    if (!api() || inputSpan instanceof StubSpan) return;
    const span = inputSpan as OtelSpan;
    span.setAttributes({
      [this.resolveAttributeName('applicationID')]: this.applicationID,
      [this.resolveAttributeName('applicationVersion')]: isInitialized() ? executor('DBOS.tracer').appVersion : '',
    });
    const executorKey = this.resolveAttributeName('executorID');
    if (!span.attributes || !(executorKey in span.attributes)) span.setAttribute(executorKey, this.executorID);
    span.end();
  }
}

let tracerOf: { executorID: string; tracer: Tracer } | undefined;

/** DBOS.tracer: undefined before launch. */
export function currentTracer(): Tracer | undefined {
  if (!isInitialized()) return undefined;
  const id = executor('DBOS.tracer').executorID;
  if (tracerOf?.executorID !== id) tracerOf = { executorID: id, tracer: new Tracer(id) };
  return tracerOf.tracer;
}

/** DBOS.span: the active OpenTelemetry span (the application's context), when tracing is on. */
export function activeSpan(): DBOSSpan | undefined {
  return api()?.trace.getActiveSpan();
}

/**
 * Runs a workflow or step body (`kind`) in its own span, named and attributed as the SDK names them, when tracing
 * is on: the span is the active one inside (DBOS.span), OK or ERROR by the outcome. Off, it only calls `fn`.
 */
export function traced<R>(kind: 'workflow' | 'step', name: string, workflowID: string, fn: () => Promise<R>): Promise<R> {
  const o = api();
  const tracer = o && currentTracer();
  // Off: the body itself, not wrapped in another promise.
  return o && tracer ? inSpan(o, tracer, kind, name, workflowID, fn) : fn();
}

async function inSpan<R>(o: OtelApi, tracer: Tracer, kind: 'workflow' | 'step', name: string, workflowID: string, fn: () => Promise<R>): Promise<R> {
  const auth = currentAuth();
  const span = tracer.startSpan(name, {
    ...(kind === 'workflow' ? { status: 'PENDING' } : {}),
    operationUUID: workflowID,
    operationType: kind,
    operationName: name,
    authenticatedUser: auth?.user ?? '',
    authenticatedRoles: auth?.roles ?? [],
    assumedRole: auth?.assumedRole ?? '',
  });
  try {
    const result = await o.context.with(o.trace.setSpan(o.context.active(), span), fn);
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    tracer.endSpan(span);
  }
}
