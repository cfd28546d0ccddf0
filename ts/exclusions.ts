// The documented gaps between dbos-native's public API and @dbos-inc/dbos-sdk 5.3.0's. One list, read by
// __test__/api-coverage.test.ts (which fails on any other gap) and by the README's API table.
// Keys: `DBOS.member`, `DBOSClient.member`, `WorkflowQueue.member`, `Debouncer.member`,
// `DebouncerClient.member`, or a bare top-level export name.

/** SDK members that dbos-native deliberately does not provide, each with the reason. */
export const API_EXCLUSIONS: Readonly<Record<string, string>> = {
  // The SDK exports WorkflowQueue as a type only; these statics are its internal validation helpers and
  // cannot be reached by an application (instances come from registerQueue/retrieveQueue/listQueues).
  'WorkflowQueue.validateQueueRegistration': 'internal helper of a type-only export; unreachable from applications',
  'WorkflowQueue.validateQueueParams': 'internal helper of a type-only export; unreachable from applications',
  'WorkflowQueue.recordFromParams': 'internal helper of a type-only export; unreachable from applications',
};

// --- rest (the README's API table)
/** Members that exist with a caveat, shown in the README's API table after their status. */
export const API_NOTES: Readonly<Record<string, string>> = {
  'DBOS.setAlertHandler': 'Conductor-only: accepted as in the SDK but never called; alerts come from DBOS Conductor, which dbos-native does not connect to',
  'DBOS.tracer': 'spans are stubs unless `tracingEnabled`; then they go to the application’s own OpenTelemetry provider (`@opentelemetry/api`, an optional peer dependency)',
  'DBOS.span': 'the active OpenTelemetry span when tracing is enabled, else undefined',
  'DBOS.rewindWorkflow': 'no transactional data sources to rewind: the system database’s history only',
};
