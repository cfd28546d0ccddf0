// The SDK's StatusString: the names of a workflow's statuses, as stored in workflow_status.status.
import type { WorkflowStatusString } from './workflow-list';

export const StatusString = {
  /** May be running (or waiting to be recovered). */
  PENDING: 'PENDING',
  /** Completed with a return value. */
  SUCCESS: 'SUCCESS',
  /** Completed with an error thrown. */
  ERROR: 'ERROR',
  /** Exceeded its maximum number of recovery attempts. */
  MAX_RECOVERY_ATTEMPTS_EXCEEDED: 'MAX_RECOVERY_ATTEMPTS_EXCEEDED',
  /** Being, or has been, cancelled. */
  CANCELLED: 'CANCELLED',
  /** On a queue, not started yet. */
  ENQUEUED: 'ENQUEUED',
  /** On a queue, waiting for its delay to expire. */
  DELAYED: 'DELAYED',
} as const satisfies Record<string, WorkflowStatusString>;
