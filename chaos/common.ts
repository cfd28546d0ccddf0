// Shared between the chaos driver (chaos.ts) and its worker processes (worker.ts).

/** The application name and version every worker runs under (recovery only picks up its own version). */
export const APP_NAME = 'chaos';
export const APP_VERSION = 'chaos-v1';
/** Message topic, event key and stream key of the account workflows. */
export const TOPIC = 'op';
export const EVENT_KEY = 'balance';
export const STREAM_KEY = 'applied';
/** The registered names of the workflow and its step (checkpoint `function_name`). */
export const WORKFLOW_NAME = 'account';
export const STEP_NAME = 'apply';

/** A message to an account workflow. `seq` runs 1..k per account; the stop message has seq k+1. */
export interface Op {
  seq: number;
  amount: number;
  stop?: boolean;
}

/** What an account workflow returns. */
export interface AccountResult {
  balance: number;
  applied: number;
  lastSeq: number;
  /** recv calls that timed out (no message within the recv timeout). */
  idle: number;
}

/** One entry of the `applied` stream, written from workflow code. */
export interface Applied {
  seq: number;
  amount: number;
}

export function accountID(i: number): string {
  return `chaos-acct-${String(i).padStart(3, '0')}`;
}

export function executorID(w: number): string {
  return `chaos-w${w}`;
}

/**
 * A step-log line, appended (synchronously) by the `apply` step when it starts running:
 * `<workflowID> <functionID> <seq> <epoch ms>`.
 */
export function stepLogLine(workflowID: string, functionID: number, seq: number, at: number): string {
  return `${workflowID} ${functionID} ${seq} ${at}\n`;
}

export interface StepLogEntry {
  workflowID: string;
  functionID: number;
  seq: number;
  at: number;
}

export function parseStepLog(text: string): StepLogEntry[] {
  const out: StepLogEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    if (parts.length !== 4) continue; // a torn last line of a killed process
    const [workflowID, fid, seq, at] = parts as [string, string, string, string];
    const e = { workflowID, functionID: Number(fid), seq: Number(seq), at: Number(at) };
    if (Number.isInteger(e.functionID) && Number.isInteger(e.seq) && Number.isFinite(e.at)) out.push(e);
  }
  return out;
}

/** Worker -> driver protocol: one JSON object per stdout line. */
export type WorkerMessage =
  | { kind: 'ready'; pid: number }
  | { kind: 'started'; count: number }
  | { kind: 'done'; workflows: number; failed: string[] };

/** The limited queue (chaos/queue-job.ts, chaos/queue-check.ts): the driver enqueues jobs onto it during the window. */
export const QUEUE_NAME = 'chaos-limited';
export const QUEUE_GLOBAL = 3;
export const QUEUE_WORKER = 2;
export const QUEUE_JOB_NAME = 'queueJob';

export function queueJobID(i: number): string {
  return `chaos-job-${String(i).padStart(4, '0')}`;
}

/** Each worker process's log of its queue job step runs, next to its step log: `<workflowID> start|end <epoch ms>`. */
export function queueLogOf(stepLog: string): string {
  return stepLog.replace(/\.steps\.log$/, '.queue.log');
}
