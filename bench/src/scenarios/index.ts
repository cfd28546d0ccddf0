// The scenario registry: every scenario runs once per SDK, in this order. To add one, write a module
// exporting a `Scenario` (see ../scenario.ts) and list it here.
import type { Scenario } from '../scenario';
import { clientEventLatency } from './client-event-latency';
import { clientSendC32 } from './client-send-c32';
import { emptyWorkflow, emptyWorkflowC32 } from './empty-workflow';
import { eventLatency } from './event-latency';
import { messagesC32 } from './messages-c32';
import { pingPong } from './ping-pong';
import { clientEnqueueC32, queueEmptyC32, queueLatency, queueLatency4Proc, queueTenStepC32 } from './queues';
import { sendRecvLatency } from './send-recv-latency';
import { streamFirstValueClient } from './stream-first-value-client';
import { streamLatency } from './stream-latency';
import { streamLatencyClient } from './stream-latency-client';
import { streamWriteThroughput } from './stream-write-throughput';
import { tenStepC1, tenStepC32 } from './ten-step';

export const scenarios: readonly Scenario[] = [
  sendRecvLatency,
  eventLatency,
  clientEventLatency,
  pingPong,
  messagesC32,
  clientSendC32,
  emptyWorkflow,
  emptyWorkflowC32,
  tenStepC1,
  tenStepC32,
  streamWriteThroughput,
  streamLatency,
  streamLatencyClient,
  streamFirstValueClient,
  queueLatency,
  queueEmptyC32,
  queueTenStepC32,
  clientEnqueueC32,
  queueLatency4Proc,
];
