// Public entry point: the DBOS Transact TypeScript API surface.
export {
  DBOS,
  ConfiguredInstance,
  type DBOSConfig,
  type DBOSLaunchOptions,
  type StartWorkflowParams,
  type GetResultOptions,
  type CancelWorkflowsOptions,
  type WorkflowIDReusePolicy,
} from './dbos';
export type { WorkflowHandle, PollingOptions } from './handles';
export type { WorkflowStatus } from './workflow-status';
export type { GetWorkflowsInput, WorkflowStatusString } from './workflow-list';
export type { SetWorkflowDelayOptions } from './management';
export type { StepInfo, ListWorkflowStepsOptions, ForkWorkflowOptions } from './introspection';
export type { WaitFirstOptions, WaitAllOptions } from './wait-many';
export type { VersionInfo } from './app-versions';
export type { SendOptions, RecvOptions, GetEventOptions } from './messages';
export type { SetEventOptions } from './events';
export type { WriteStreamOptions, ReadStreamOptions, ReadStreamOffsetOptions } from './streams';
export { DBOSClient, type DBOSClientConfig, type EnqueueWorkflowOptions } from './client';
export type { WorkflowQueue } from './wfqueue';
export type { StepStatus } from './context';
export type { WorkflowConfig, StepConfig, FunctionName, InputSchema, WorkflowSerializationFormat } from './registry';
export type { DBOSSerializer, SerializationRecipe, JSONValue } from './serialization';
export * as Error from './error';
export {
  DBOSWorkflowConflictError,
  DBOSStepNondeterminismError,
  DBOSShutdownError,
  DBOSConnectionError,
  DBOSDatabaseError,
  PortableWorkflowError,
  isStreamTimeoutError,
  isWorkflowIDInUseError,
  getDBOSErrorCode,
} from './error';
export type { DLogger, ContextualMetadata, StackTrace, DBOSSpan, LogContext } from './logger';
export { StatusString } from './status-string';
// --- debouncer
export { Debouncer, DebouncerClient } from './debouncer';
export type { AlertHandler } from './alerts';
export type { DBOSLifecycleCallback } from './lifecycle-callbacks';
// --- schedules (CRUD)
export type { WorkflowSchedule, ScheduledWorkflowFn, ScheduleOptions } from './schedules';
// --- rest
export type { ApplicationRowCounts, RewindWorkflowOptions } from './rewind';
export type { ExternalRegistration, MethodRegistrationBase } from './class-info';
export type { Tracer } from './tracing';
