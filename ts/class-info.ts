// DBOS.className and the associated-info trio (associateClassWithInfo, associateFunctionWithInfo,
// getAssociatedInfo), as SDK 5.3.0 has them: libraries such as event receivers attach their own configuration
// (`regInfo`, an object they fill in) to a class or a function under a key of theirs (`external`), and read it
// back at launch to find the functions to call. The registrations themselves are registry.ts's.
import { DBOSError } from './error';
import {
  aliasClass,
  allRegistrations,
  assertOpen,
  classNameOf,
  registrationOf,
  type AnyFunction,
  type FunctionName,
  type StepConfig,
  type WorkflowConfig,
} from './registry';
import { describe } from './validation';

/** A key under which a library keeps its information: a class, an object or a string (the SDK's). */
export type ExternalKey = object | string;

/** A function with its registration and the information associated with it (the SDK's `MethodRegistrationBase`). */
export interface MethodRegistrationBase {
  readonly name: string;
  readonly className: string;
  readonly workflowConfig?: WorkflowConfig;
  readonly stepConfig?: StepConfig;
  readonly isInstance: boolean;
  readonly externalRegInfo: Map<ExternalKey, unknown>;
  /** The workflow or step invoker, once the function is registered as one. */
  readonly wrappedFunction: Function | undefined;
  readonly registeredFunction: Function | undefined;
  readonly origFunction: Function;
  /** Calls the function as registered (a workflow or step when it is one) on `pthis`. */
  invoke(pthis: unknown, args: unknown[]): unknown;
}

/** One function `getAssociatedInfo` found, with its own and its class's information (the SDK's `ExternalRegistration`). */
export interface ExternalRegistration {
  classConfig?: unknown;
  methodConfig?: unknown;
  methodReg: MethodRegistrationBase;
}

/** A function given to associateFunctionWithInfo; its workflow or step registration is looked up when read. */
class AssociatedFunction implements MethodRegistrationBase {
  readonly externalRegInfo = new Map<ExternalKey, unknown>();
  constructor(
    readonly origFunction: AnyFunction,
    private readonly target: FunctionName,
  ) {}

  /** The workflow or step registered for this function: it is the invoker, or the function an invoker wraps. */
  private registered() {
    const byInvoker = registrationOf(this.origFunction);
    if (byInvoker) return { reg: byInvoker, invoker: this.origFunction };
    return allRegistrations().find((r) => r.fn === this.origFunction);
  }
  get name(): string {
    return this.target.name ?? this.registered()?.reg.name ?? this.origFunction.name;
  }
  get className(): string {
    return this.target.className ?? this.registered()?.reg.className ?? classNameOf(this.target.ctorOrProto);
  }
  get isInstance(): boolean {
    return typeof this.target.ctorOrProto === 'object' && this.target.ctorOrProto !== null;
  }
  get workflowConfig(): WorkflowConfig | undefined {
    const r = this.registered()?.reg;
    return r?.kind === 'workflow' ? r.config : undefined;
  }
  get stepConfig(): StepConfig | undefined {
    const r = this.registered()?.reg;
    return r?.kind === 'step' ? r.config : undefined;
  }
  get wrappedFunction(): Function | undefined {
    return this.registered()?.invoker as Function | undefined;
  }
  get registeredFunction(): Function {
    return this.wrappedFunction ?? this.origFunction;
  }
  invoke(pthis: unknown, args: unknown[]): unknown {
    return (this.registeredFunction as AnyFunction).apply(pthis, args);
  }
}

/** A workflow or step registered without associated information, as getAssociatedInfo shows it. */
function plainRegistration(entry: ReturnType<typeof allRegistrations>[number]): MethodRegistrationBase {
  const { reg, invoker, fn } = entry;
  return {
    name: reg.name,
    className: reg.className,
    workflowConfig: reg.kind === 'workflow' ? reg.config : undefined,
    stepConfig: reg.kind === 'step' ? reg.config : undefined,
    isInstance: reg.kind === 'workflow' ? reg.defaultThis === undefined && reg.className !== '' : false,
    externalRegInfo: new Map(),
    wrappedFunction: invoker as Function,
    registeredFunction: invoker as Function,
    origFunction: fn,
    invoke: (pthis, args) => (invoker as AnyFunction).apply(pthis, args),
  };
}

/** Information by class: a class given by constructor is named when read (DBOS.className may come later). */
const classInfo: { cls: object | string; info: Map<ExternalKey, object> }[] = [];
const functions = new Map<Function, AssociatedFunction>();

function nameOfClass(cls: object | string): string {
  return typeof cls === 'string' ? cls : classNameOf(cls);
}

function checkExternal(external: unknown): asserts external is ExternalKey {
  if (external === null || (typeof external !== 'object' && typeof external !== 'function' && typeof external !== 'string')) {
    throw new DBOSError(`Invalid external ${describe(external)}: it must be a class, an object or a string`);
  }
}

/** `@DBOS.className(name)`: the class's workflows and steps are registered (and recorded) under `name`. */
export function classNameDecorator(name: string): <T extends abstract new (...args: never[]) => object>(ctor: T) => void {
  if (typeof name !== 'string') throw new DBOSError(`Invalid class name ${describe(name)}: it must be a string`);
  return (ctor) => aliasClass(ctor, name);
}

/** The information object (created empty) that `external` keeps for the class `cls` (a constructor or a name). */
export function associateClassWithInfo(external: ExternalKey, cls: object | string): object {
  checkExternal(external);
  if (typeof cls !== 'string' && typeof cls !== 'function') throw new DBOSError(`Invalid class ${describe(cls)}: it must be a class or a class name`);
  let entry = classInfo.find((c) => c.cls === cls);
  if (!entry) classInfo.push((entry = { cls, info: new Map() }));
  const info = entry.info.get(external) ?? {};
  entry.info.set(external, info);
  return info;
}

/** Registers `func` (before launch) and returns its registration and the information object `external` keeps for it. */
export function associateFunctionWithInfo(external: ExternalKey, func: Function, target: FunctionName): { registration: MethodRegistrationBase; regInfo: object } {
  checkExternal(external);
  if (typeof func !== 'function') throw new DBOSError(`Invalid function ${describe(func)}: it must be a function`);
  if (typeof target !== 'object' || target === null) throw new DBOSError(`Invalid target ${describe(target)}: it must be a FunctionName object`);
  assertOpen(`function ${target.name ?? func.name}`);
  const registration = functions.get(func) ?? new AssociatedFunction(func as AnyFunction, target);
  functions.set(func, registration);
  const regInfo = (registration.externalRegInfo.get(external) as object | undefined) ?? {};
  registration.externalRegInfo.set(external, regInfo);
  return { registration, regInfo };
}

/**
 * The functions with information from `external`, of class `cls` (a constructor, an instance or a name; default
 * all) and, with `funcName`, only that one: each with its own information and its class's (`{}` if none).
 */
export function getAssociatedInfo(external: ExternalKey, cls?: object | string, funcName?: string): readonly ExternalRegistration[] {
  const className = cls === undefined || cls === null ? undefined : nameOfClass(cls);
  const classConfig = (name: string): object | undefined => {
    for (const c of classInfo) {
      const info = nameOfClass(c.cls) === name ? c.info.get(external) : undefined;
      if (info) return info;
    }
    return undefined;
  };
  // Associated functions, then registered workflows and steps not among them (each function once).
  const seen = new Set<Function>();
  const regs: MethodRegistrationBase[] = [];
  for (const f of functions.values()) {
    regs.push(f);
    seen.add(f.origFunction);
    if (f.wrappedFunction) seen.add(f.wrappedFunction);
  }
  for (const r of allRegistrations()) if (!seen.has(r.fn) && !seen.has(r.invoker as Function)) regs.push(plainRegistration(r));
  const out: ExternalRegistration[] = [];
  for (const methodReg of regs) {
    if (className !== undefined && methodReg.className !== className) continue;
    if (funcName !== undefined && funcName !== '' && methodReg.name !== funcName) continue;
    const methodConfig = methodReg.externalRegInfo.get(external);
    const cc = classConfig(methodReg.className);
    if (!methodConfig && !cc) continue;
    out.push({ methodReg, methodConfig, classConfig: cc ?? {} });
  }
  return out;
}

