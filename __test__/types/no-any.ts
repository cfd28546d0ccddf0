// Compiled by types.test.ts: fails to compile if a public type of dbos-native is `any`.
import { DBOS, type WorkflowStatus } from 'dbos-native';

type IsAny<T> = 0 extends 1 & T ? true : false;
type Expect<T extends false> = T;

// Nothing public is `any`.
type _a1 = Expect<IsAny<ReturnType<typeof DBOS.getResult>>>;
type _a2 = Expect<IsAny<Parameters<typeof DBOS.startWorkflow>[0]>>;
type _a3 = Expect<IsAny<Awaited<ReturnType<typeof DBOS.getWorkflowStatus>>>>;
type _a4 = Expect<IsAny<NonNullable<Awaited<ReturnType<typeof DBOS.getWorkflowStatus>>>['output']>>;
type _a5 = Expect<IsAny<Parameters<typeof DBOS.setConfig>[0]['serializer']>>;
type _a6 = Expect<IsAny<ReturnType<typeof DBOS.retrieveWorkflow>>>;
type _a7 = Expect<IsAny<Parameters<typeof DBOS.runStep>[1]>>;
type _a8 = Expect<IsAny<ReturnType<typeof DBOS.workflow>>>;
type _a9 = Expect<IsAny<WorkflowStatus['input']>>;
export {};
