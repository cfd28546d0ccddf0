// Registration of workflows and steps: the decorators (legacy and standard forms), the register*
// functions, the invokers that replace the registered functions, and ConfiguredInstance. The DBOS
// facade (dbos.ts) exposes them; invokers reach the launched executor through its lookup.
import { currentContext, takeFunctionID, workflowCode } from './context';
import { DBOSError, DBOSInvalidWorkflowTransitionError } from './error';
import type { Executor } from './executor';
import type { WorkflowHandle } from './handles';
import {
  assertCanRegisterStep,
  classNameOf,
  markInvoker,
  registerInstance,
  registerWorkflowFunction,
  registrationOf,
  type AnyFunction,
  type FunctionName,
  type StepConfig,
  type WorkflowConfig,
  type WorkflowRegistration,
} from './registry';
import { runStep } from './steps';
import { checkStepConfig } from './validation';

/**
 * Base for classes whose instances carry configuration (`DBOS.startWorkflow(instance)`). Each instance
 * is registered by class and name: its workflows record the name, and recovery runs them on it.
 */
export abstract class ConfiguredInstance {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
    registerInstance(this, name);
  }
  /** Override to perform async initialization between construction and `DBOS.launch()`. */
  async initialize(): Promise<void> {}
}

type WorkflowFunction = (...args: never[]) => Promise<unknown>;
/** T's workflow methods, each starting its workflow and returning a handle (what `DBOS.startWorkflow` returns). */
type StartingMethods<T> = {
  [P in keyof T]: T[P] extends WorkflowFunction ? (...args: Parameters<T[P]>) => Promise<WorkflowHandle<Awaited<ReturnType<T[P]>>>> : never;
};
export type InvokeFunctionsAsync<T> = T extends Function ? StartingMethods<T> : never;
export type InvokeFunctionsAsyncInst<T> = T extends ConfiguredInstance ? StartingMethods<T> : never;

type AsyncMethod<This, Args extends unknown[], Return> = (this: This, ...args: Args) => Promise<Return>;

/**
 * What `@DBOS.workflow()` and `@DBOS.step()` return: a legacy (experimentalDecorators) method decorator,
 * as DBOS documents it, that also works as a standard (TC39) one.
 */
export interface DBOSMethodDecorator {
  <This, Args extends unknown[], Return>(
    target: object,
    propertyKey: string,
    inDescriptor: TypedPropertyDescriptor<AsyncMethod<This, Args, Return>>,
  ): TypedPropertyDescriptor<AsyncMethod<This, Args, Return>>;
  <This, Args extends unknown[], Return>(
    method: AsyncMethod<This, Args, Return>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, Return>>,
  ): AsyncMethod<This, Args, Return>;
}

/** How an invoker finds the launched executor (dbos.ts owns the runtime); throws if there is none. */
export type ExecutorLookup = (what: string) => Executor;

/** `@DBOS.workflow()`: registers the method as a workflow and replaces it with its invoker. */
export function workflowDecorator(cfg: WorkflowConfig, executor: ExecutorLookup): DBOSMethodDecorator {
  return ((target: object, propertyKey: unknown, descriptor?: unknown) =>
    decorateMethod(target, propertyKey, descriptor, (fn, name, className, defaultThis) => {
      const reg: WorkflowRegistration = {
        kind: 'workflow',
        name: cfg.name ?? name,
        className,
        fn,
        config: cfg,
        defaultThis,
        isInstance: defaultThis === undefined,
      };
      registerWorkflowFunction(reg);
      return makeWorkflowInvoker(reg, executor);
    })) as DBOSMethodDecorator;
}

/** `@DBOS.step()`: replaces the method with a step invoker. */
export function stepDecorator(cfg: StepConfig, executor: ExecutorLookup): DBOSMethodDecorator {
  return ((target: object, propertyKey: unknown, descriptor?: unknown) =>
    decorateMethod(target, propertyKey, descriptor, (fn, name, className) => {
      const stepName = cfg.name ?? name;
      assertCanRegisterStep(stepName);
      return makeStepInvoker(stepName, className, fn, cfg, executor);
    })) as DBOSMethodDecorator;
}

/** DBOS.registerWorkflow: registers a function as a workflow and returns its invoker. */
export function registerWorkflow<This, Args extends unknown[], Return>(
  func: (this: This, ...args: Args) => Promise<Return>,
  cfg: FunctionName & WorkflowConfig,
  executor: ExecutorLookup,
): (this: This, ...args: Args) => Promise<Return> {
  const name = cfg.name ?? func.name;
  const reg: WorkflowRegistration = {
    kind: 'workflow',
    name,
    className: cfg.className ?? classNameOf(cfg.ctorOrProto),
    fn: func as unknown as AnyFunction,
    config: cfg,
    defaultThis: typeof cfg.ctorOrProto === 'function' ? cfg.ctorOrProto : undefined,
    isInstance: typeof cfg.ctorOrProto === 'object' && cfg.ctorOrProto !== null,
  };
  registerWorkflowFunction(reg);
  return makeWorkflowInvoker(reg, executor) as unknown as (this: This, ...args: Args) => Promise<Return>;
}

/** DBOS.registerStep: returns the step invoker to call instead of the function. */
export function registerStep<This, Args extends unknown[], Return>(
  func: (this: This, ...args: Args) => Promise<Return>,
  cfg: StepConfig & FunctionName,
  executor: ExecutorLookup,
): (this: This, ...args: Args) => Promise<Return> {
  const name = cfg.name ?? func.name;
  assertCanRegisterStep(name);
  return makeStepInvoker(
    name,
    cfg.className ?? classNameOf(cfg.ctorOrProto),
    func as unknown as AnyFunction,
    cfg,
    executor,
  ) as unknown as (this: This, ...args: Args) => Promise<Return>;
}

function makeWorkflowInvoker(reg: WorkflowRegistration, executor: ExecutorLookup): AnyFunction {
  const invoker = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const exec = executor('workflows');
    checkWorkflowThis(this, 'Attempt to call a `workflow` function on an object that is not a `ConfiguredInstance`');
    const wf = workflowCode();
    // A direct call from workflow code takes two IDs: the child start and its getResult.
    const startID = wf ? takeFunctionID(wf, 2) : undefined;
    const handle = await exec.startWorkflow(reg, this ?? reg.defaultThis, args, {}, startID);
    return handle.resultAt(startID !== undefined ? startID + 1 : undefined);
  };
  Object.defineProperty(invoker, 'name', { value: reg.name });
  markInvoker(invoker, reg);
  return invoker;
}

function makeStepInvoker(name: string, className: string, fn: AnyFunction, cfg: StepConfig, executor: ExecutorLookup): AnyFunction {
  checkStepConfig(cfg, name);
  const invoker = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const exec = executor('steps');
    const ctx = currentContext();
    // Outside a workflow a step is a plain call; a pending withNextWorkflowID is for the next workflow only.
    if (!ctx?.workflow) return fn.apply(this, args);
    return runStep(exec.engine, () => fn.apply(this, args), name, cfg);
  };
  Object.defineProperty(invoker, 'name', { value: name });
  markInvoker(invoker, { kind: 'step', name, className, fn, config: cfg });
  return invoker;
}

/** Standard (TC39) decorator context, for apps compiled without experimentalDecorators. */
interface StandardMethodContext {
  kind: string;
  name: string | symbol;
  static: boolean;
  addInitializer(init: (this: unknown) => void): void;
}

function isStandardContext(x: unknown): x is StandardMethodContext {
  return typeof x === 'object' && x !== null && 'kind' in x && 'addInitializer' in x;
}

/**
 * A workflow runs on its class (static), on nothing (a function), or on a `ConfiguredInstance`: any
 * other object could not be found again at recovery, so DBOS refuses it.
 */
export function checkWorkflowThis(thisArg: unknown, message: string): void {
  if (typeof thisArg === 'object' && thisArg !== null && !(thisArg instanceof ConfiguredInstance)) {
    throw new DBOSInvalidWorkflowTransitionError(message);
  }
}

export function isClass(f: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(f)) || Object.getOwnPropertyNames(f).some((p) => registrationOf((f as unknown as Record<string, unknown>)[p]) !== undefined);
}

/**
 * Applies a method decorator in either form: legacy (target, key, descriptor) from
 * experimentalDecorators, or standard (method, context).
 */
function decorateMethod(
  target: object,
  propertyKey: unknown,
  descriptor: unknown,
  wrap: (fn: AnyFunction, name: string, className: string, defaultThis: unknown) => AnyFunction,
): unknown {
  if (typeof target === 'function' && isStandardContext(propertyKey)) {
    // Standard decorators: `target` is the method itself; the class is only known at initialization.
    const ctx = propertyKey;
    const method = target as AnyFunction;
    const name = String(ctx.name);
    let invoker: AnyFunction | undefined;
    const pending: AnyFunction = function (this: unknown, ...args: unknown[]) {
      if (!invoker) throw new DBOSError(`Workflow or step ${name} was used before its class finished initializing`);
      return invoker.apply(this, args);
    };
    ctx.addInitializer(function (this: unknown) {
      const owner = this as object;
      invoker = wrap(method, name, classNameOf(owner), ctx.static ? owner : undefined);
      if (ctx.static) Object.defineProperty(owner, name, { value: invoker, writable: true, configurable: true });
    });
    return pending;
  }
  const desc = descriptor as unknown as TypedPropertyDescriptor<AnyFunction>;
  const method = desc.value;
  if (typeof method !== 'function') {
    throw new DBOSError(`@DBOS decorators apply to methods; ${String(propertyKey)} is not one`);
  }
  const isStatic = typeof target === 'function';
  desc.value = wrap(method, String(propertyKey), classNameOf(target), isStatic ? target : undefined);
  return descriptor;
}
