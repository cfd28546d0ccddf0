// DBOS.logger: the SDK's DLogger contract. Entries go to the application's own logger when the config names
// one (`DBOSConfig.logger`; then `logLevel` does not filter, routing is its job, as in the SDK), else to the
// console filtered by `logLevel`. Each call carries the caller's context: the SDK derives it from an
// OpenTelemetry span only when tracing is on; here the workflow and step are always passed, as `dbos`.
import { currentConfig } from './lifecycle';
import { currentContext } from './context';
import { DBOSJSON } from './superjson-format';

/** Where a log call was made: the running workflow and, inside a step, the step. */
export interface LogContext {
  workflowID: string;
  workflowName: string;
  stepID?: number;
  stepName?: string;
}

// An OpenTelemetry span (the SDK's DBOSSpan), as DBOS.span returns it.
import type { DBOSSpan } from './tracing';
export type { DBOSSpan };

export type ContextualMetadata = {
  includeContextMetadata?: boolean;
  span?: DBOSSpan;
  /** dbos-native: the workflow and step the entry was logged from (absent outside workflows). */
  dbos?: LogContext;
};

export interface StackTrace {
  stack?: string;
  error?: unknown;
}

export interface DLogger {
  info(logEntry: unknown, metadata?: ContextualMetadata): void;
  debug(logEntry: unknown, metadata?: ContextualMetadata): void;
  warn(logEntry: unknown, metadata?: ContextualMetadata): void;
  error(inputError: unknown, metadata?: ContextualMetadata & StackTrace): void;
}

const LEVELS: Readonly<Record<string, number>> = { debug: 0, info: 1, warn: 2, error: 3 };
let warnedLevel: string | undefined;

/** The console sink: the SDK's levels; context appended only when `addContextMetadata` asks for it. */
const consoleLogger = (level: string): DLogger => {
  if (!(level in LEVELS) && warnedLevel !== level) {
    warnedLevel = level;
    console.warn(`Unknown log level '${level}', defaulting to 'info'. Valid levels: ${Object.keys(LEVELS).join(', ')}`);
  }
  const min = LEVELS[level] ?? LEVELS.info;
  const text = (entry: unknown, m?: ContextualMetadata): unknown =>
    m?.includeContextMetadata && m.dbos ? `${String(entry)} ${JSON.stringify(m.dbos)}` : entry;
  return {
    debug: (e, m) => min <= LEVELS.debug && console.debug(text(e, m)),
    info: (e, m) => min <= LEVELS.info && console.log(text(e, m)),
    warn: (e, m) => min <= LEVELS.warn && console.warn(text(e, m)),
    error: (e, m) => {
      if (min > LEVELS.error) return;
      if (m?.stack) console.error(text(e, m), '\n', m.stack);
      else console.error(text(e, m));
    },
  };
};

function logContext(): LogContext | undefined {
  const ctx = currentContext();
  if (!ctx?.workflow) return undefined;
  const { workflowID, workflowName } = ctx.workflow;
  return ctx.step ? { workflowID, workflowName, stepID: ctx.step.stepID, stepName: ctx.step.name } : { workflowID, workflowName };
}

/** As the SDK: strings pass as they are, anything else as DBOSJSON text; errors carry their stack. */
const entryText = (entry: unknown): string => (typeof entry === 'string' ? entry : DBOSJSON.stringify(entry));

function errorStack(error: Error): string {
  const stack = error.stack ?? `${error.name}: ${error.message}`;
  return error.cause === undefined ? stack : `${stack}\n  [cause]: ${String(error.cause)}`;
}

/** The logger DBOS.logger returns: the configured sink, called with the caller's context. */
export function dbosLogger(): DLogger {
  const cfg = currentConfig();
  const sink = cfg?.logger ?? consoleLogger(cfg?.logLevel ?? 'info');
  const meta = (m?: ContextualMetadata): ContextualMetadata => ({ includeContextMetadata: cfg?.addContextMetadata ?? false, dbos: logContext(), ...m });
  return {
    info: (e, m) => sink.info(entryText(e), meta(m)),
    debug: (e, m) => sink.debug(entryText(e), meta(m)),
    warn: (e, m) => sink.warn(entryText(e), meta(m)),
    error: (e, m) => {
      if (e instanceof Error) sink.error(e.message, { ...meta(m), stack: errorStack(e), error: e });
      else sink.error(entryText(e), { ...meta(m), stack: new Error().stack });
    },
  };
}
