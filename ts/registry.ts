// Registered workflows and steps: what recovery looks up by (class name, name), and what the
// invokers returned by registerWorkflow/registerStep and the decorators point at.
import { DBOSConflictingRegistrationError } from './error';

import type { WorkflowSerializationFormat } from './serialization';
export type { WorkflowSerializationFormat };

export interface InputSchema {
  parse(args: unknown): unknown;
}

export interface WorkflowConfig {
  /** Maximum number of recovery attempts to make on workflow function, before sending to dead-letter queue */
  maxRecoveryAttempts?: number;
  /** Name to use */
  name?: string;
  /** Default serialization to use */
  serialization?: WorkflowSerializationFormat;
  /** Validates and transforms the argument array before every execution (direct, dispatch, recovery). */
  inputSchema?: InputSchema;
}

export interface StepConfig {
  /** If `true`, the step will be retried if it throws an exception (default false) */
  retriesAllowed?: boolean;
  /** seconds to wait before the first retry attempt (default 1). */
  intervalSeconds?: number;
  /** If `retriesAllowed` is true: maximum number of retry attempts (default 3). */
  maxAttempts?: number;
  /** If `retriesAllowed` is true: the multiplier applied to the interval after every retry (default 2) */
  backoffRate?: number;
  /** If `retriesAllowed` is true: decides whether an error is retried. Defaults to retrying every error. */
  shouldRetry?: (error: unknown) => boolean | Promise<boolean>;
  /** Maximum duration in milliseconds of a single attempt of this step. */
  timeoutMS?: number;
  /** If specified, override step function name */
  name?: string;
}

export interface FunctionName {
  /** Function name; if not provided, this will be taken from the function's `name` */
  name?: string;
  /** Class name; if not provided, the class constructor or prototype's `name` will be used, or blank otherwise */
  className?: string;
  /** For member functions, class constructor (for `static` methods) or prototype (for instance methods) */
  ctorOrProto?: object;
}

// The registry stores functions of any signature; callers are typed at the public API.
export type AnyFunction = (this: unknown, ...args: unknown[]) => Promise<unknown>;

export interface WorkflowRegistration {
  readonly kind: 'workflow';
  readonly name: string;
  /** Mutable only through `aliasClass` (DBOS.className, a class decorator, runs after the method decorators). */
  className: string;
  readonly fn: AnyFunction;
  readonly config: WorkflowConfig;
  /** `this` for recovery of static methods: the class. */
  defaultThis?: unknown;
  /** A method of instances (a schedule refuses one, as the SDK does). */
  readonly isInstance?: boolean;
}

export interface StepRegistration {
  readonly kind: 'step';
  readonly name: string;
  className: string;
  readonly fn: AnyFunction;
  readonly config: StepConfig;
}

/** What the registry needs of a `ConfiguredInstance` (the class itself lives in dbos.ts). */
export interface RegisteredInstance {
  readonly name: string;
  initialize(): Promise<void>;
}

const workflows = new Map<string, WorkflowRegistration>();
const invokers = new WeakMap<object, WorkflowRegistration | StepRegistration>();
/** Configured instances by class name, then instance name: recovery finds a workflow's `this` here. */
const instances = new Map<string, Map<string, { instance: RegisteredInstance; registeredAt: string }>>();
/** The name each instance was registered under (its `config_name`). */
const instanceNames = new WeakMap<object, string>();
let frozen = false;

function key(className: string, name: string): string {
  return `${className}\u0000${name}`;
}

/** Names given with DBOS.className, by class. */
const aliases = new WeakMap<object, string>();
/** The latest invoker of each registered function (a standard decorator's instance method makes one per construction). */
const byFn = new Map<AnyFunction, { invoker: object; reg: WorkflowRegistration | StepRegistration }>();

export function classNameOf(ctorOrProto: object | undefined): string {
  if (!ctorOrProto) return '';
  const ctor = typeof ctorOrProto === 'function' ? ctorOrProto : (ctorOrProto as { constructor?: unknown }).constructor;
  if (typeof ctor !== 'function') return '';
  return aliases.get(ctor) ?? ctor.name;
}

/**
 * DBOS.className: `ctor` is named `name`; the workflows and steps its method decorators registered (already,
 * under the constructor's name) move to it. Throws DBOSConflictingRegistrationError, as the SDK, if the class
 * already has another alias or a workflow of that name exists.
 */
export function aliasClass(ctor: Function, name: string): void {
  const earlier = aliases.get(ctor);
  if (earlier !== undefined && earlier !== name && earlier !== ctor.name) {
    throw new DBOSConflictingRegistrationError(`Attempt to assign name ${name} to class ${ctor.name}, which has already been aliased to ${earlier}`);
  }
  const from = classNameOf(ctor);
  aliases.set(ctor, name);
  const owners: object[] = [ctor, (ctor as { prototype?: object }).prototype ?? {}];
  const regs = owners.flatMap((o) => Object.getOwnPropertyNames(o).map((p) => registrationOf(Object.getOwnPropertyDescriptor(o, p)?.value)));
  for (const reg of regs) {
    if (!reg || reg.className !== from) continue;
    if (reg.kind === 'workflow') {
      workflows.delete(key(from, reg.name));
      reg.className = name;
      registerWorkflowFunction(reg);
    } else {
      reg.className = name;
    }
  }
}

/** Every registered workflow and step, with its invoker (for DBOS.getAssociatedInfo). */
export function allRegistrations(): { fn: AnyFunction; invoker: object; reg: WorkflowRegistration | StepRegistration }[] {
  return [...byFn].map(([fn, v]) => ({ fn, ...v }));
}

export function assertOpen(what: string): void {
  if (frozen) {
    throw new DBOSConflictingRegistrationError(`Cannot register ${what} after DBOS.launch()`);
  }
}

export function registerWorkflowFunction(reg: WorkflowRegistration): void {
  assertOpen(`workflow ${reg.name}`);
  const k = key(reg.className, reg.name);
  const existing = workflows.get(k);
  if (existing && existing.fn !== reg.fn) {
    throw new DBOSConflictingRegistrationError(
      `Workflow ${reg.className ? reg.className + '.' : ''}${reg.name} is already registered`,
    );
  }
  workflows.set(k, reg);
}

export function assertCanRegisterStep(name: string): void {
  assertOpen(`step ${name}`);
}

export function findWorkflow(className: string | null | undefined, name: string): WorkflowRegistration | undefined {
  return workflows.get(key(className ?? '', name));
}

export function allWorkflows(): WorkflowRegistration[] {
  return [...workflows.values()];
}

/**
 * Registers a configured instance under its class's name, as DBOS does: the name must be unique per
 * class. One constructed after launch still works but was not there for the launch's recovery.
 */
export function registerInstance(instance: RegisteredInstance, name: string): void {
  const className = classNameOf(instance);
  const byName = instances.get(className) ?? new Map<string, { instance: RegisteredInstance; registeredAt: string }>();
  const earlier = byName.get(name);
  if (earlier) {
    throw new DBOSConflictingRegistrationError(
      `An instance of class '${className}' with name '${name}' was already registered.  Earlier registration occurred at:\n${earlier.registeredAt}`,
    );
  }
  if (frozen) {
    console.warn(`ConfiguredInstance '${name}' is being created after DBOS initialization and was not available for recovery.`);
  }
  // The stack without its message line and the two frames of this function and the constructor.
  const registeredAt = (new Error().stack ?? '').split('\n').slice(3).join('\n');
  byName.set(name, { instance, registeredAt });
  instances.set(className, byName);
  instanceNames.set(instance, name);
}

/** The instance recovery runs a workflow on, from the row's class and config names. */
export function findInstance(className: string | null | undefined, configName: string): RegisteredInstance | undefined {
  return instances.get(className ?? '')?.get(configName)?.instance;
}

/** The config name to record for a workflow started with `thisArg`: set only for a configured instance. */
export function configNameOf(thisArg: unknown): string | undefined {
  return typeof thisArg === 'object' && thisArg !== null ? instanceNames.get(thisArg) : undefined;
}

export function allInstances(): RegisteredInstance[] {
  return [...instances.values()].flatMap((byName) => [...byName.values()].map((e) => e.instance));
}

export function markInvoker(invoker: object, reg: WorkflowRegistration | StepRegistration): void {
  invokers.set(invoker, reg);
  byFn.set(reg.fn, { invoker, reg });
}

export function registrationOf(invoker: unknown): WorkflowRegistration | StepRegistration | undefined {
  return typeof invoker === 'function' ? invokers.get(invoker) : undefined;
}

export function freezeRegistry(): void {
  frozen = true;
}

export function unfreezeRegistry(): void {
  frozen = false;
}
