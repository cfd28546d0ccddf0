// The scenario registry: every scenario runs once per SDK, in this order. To add one, write a module
// exporting a `Scenario` (see ../scenario.ts) and list it here.
import type { Scenario } from '../scenario';
import { clientEventLatency } from './client-event-latency';
import { emptyWorkflow } from './empty-workflow';
import { eventLatency } from './event-latency';
import { pingPong } from './ping-pong';
import { sendRecvLatency } from './send-recv-latency';

export const scenarios: readonly Scenario[] = [sendRecvLatency, eventLatency, clientEventLatency, pingPong, emptyWorkflow];
