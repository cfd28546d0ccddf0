// DBOS.className, the associated-info trio and DBOS.tracer/DBOS.span against a real Postgres.
// className: the class's workflows are registered, recorded and found (by a client's enqueue) under the alias.
// Associated info: what a library attaches to classes and functions comes back from getAssociatedInfo, with
// the function's registration, whose invoke() runs the workflow. Tracing: off (the default), spans are stubs and
// OpenTelemetry is not even loaded; on, spans go to the application's own tracer provider, which stays the
// global one. `@opentelemetry/api` is a devDependency (an optional peer dependency of the package).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DBOS, DBOSClient, ConfiguredInstance, Error as E } from 'dbos-native';
import { freshDatabase, query } from './helpers/db';

@DBOS.className('Renamed')
class Named {
  @DBOS.workflow()
  static async wf(x: string): Promise<string> {
    return `named ${x}`;
  }
}

@DBOS.className('RenamedInstances')
class NamedInstance extends ConfiguredInstance {
  @DBOS.workflow()
  async wf(x: string): Promise<string> {
    return `${this.name} ${x}`;
  }
}
const named = new NamedInstance('cfg');

const RECEIVER = { receiver: 'test' };
const OTHER = 'other-library';
class Handlers {
  @DBOS.workflow()
  static async onEvent(x: string): Promise<string> {
    return `got ${x}`;
  }
  @DBOS.workflow()
  static async unrelated(): Promise<void> {}
}
const classInfo = DBOS.associateClassWithInfo(RECEIVER, Handlers) as { topic?: string };
classInfo.topic = 'events';
const onEvent = DBOS.associateFunctionWithInfo(RECEIVER, Handlers.onEvent, { ctorOrProto: Handlers });
(onEvent.regInfo as { key?: string }).key = 'k';
const lone = DBOS.associateFunctionWithInfo(RECEIVER, async (x: string) => `lone ${x}`, { name: 'lone' });

/** Inside a traced workflow and step, DBOS.span is the current one's. */
const seen: unknown[] = [];
const tracedWorkflow = DBOS.registerWorkflow(
  async () => {
    seen.push(DBOS.span);
    await DBOS.runStep(async () => void seen.push(DBOS.span), { name: 'tracedStep' });
    await DBOS.runStep(async () => Promise.reject(new Error('step failed')), { name: 'failingStep' }).catch(() => undefined);
    return 'traced';
  },
  { name: 'tracedWorkflow' },
);

let url = '';

async function relaunch(tracingEnabled: boolean): Promise<void> {
  await DBOS.shutdown();
  DBOS.setConfig({ name: 'class-info-app', systemDatabaseUrl: url, applicationVersion: 'v1', tracingEnabled });
  await DBOS.launch();
}

before(async () => {
  url = await freshDatabase('dbosn_class_info');
  DBOS.setConfig({ name: 'class-info-app', systemDatabaseUrl: url, applicationVersion: 'v1' });
  await DBOS.launch();
});

after(async () => {
  await DBOS.shutdown();
});

describe('DBOS.className', () => {
  test('workflows are recorded and found under the alias', async () => {
    const h = await DBOS.startWorkflow(Named).wf('a');
    assert.equal(await h.getResult(), 'named a');
    assert.equal((await h.getStatus())?.workflowClassName, 'Renamed');
    const i = await DBOS.startWorkflow(named).wf('b');
    assert.equal(await i.getResult(), 'cfg b');
    const [row] = await query<{ class_name: string; config_name: string }>(url, 'SELECT class_name, config_name FROM dbos.workflow_status WHERE workflow_uuid = $1', [i.workflowID]);
    assert.deepEqual(row, { class_name: 'RenamedInstances', config_name: 'cfg' });
    // A client's enqueue by name reaches it under the alias only.
    await DBOS.registerQueue('class-info-queue');
    const client = await DBOSClient.create({ systemDatabaseUrl: url });
    try {
      const q = await client.enqueue<(x: string) => Promise<string>>({ workflowName: 'wf', workflowClassName: 'Renamed', queueName: 'class-info-queue' }, 'c');
      assert.equal(await q.getResult(), 'named c');
    } finally {
      await client.destroy();
    }
  });

  test('a second, different alias is a conflicting registration (as the SDK)', () => {
    assert.throws(() => DBOS.className('Third')(Named), {
      message: 'Attempt to assign name Third to class Named, which has already been aliased to Renamed',
    });
    assert.throws(() => DBOS.className('Third')(Named), E.DBOSConflictingRegistrationError);
  });
});

describe('associated info', () => {
  test('getAssociatedInfo returns what was attached, with the registrations', async () => {
    const all = DBOS.getAssociatedInfo(RECEIVER);
    const byName = Object.fromEntries(all.map((r) => [`${r.methodReg.className}.${r.methodReg.name}`, r]));
    assert.deepEqual(Object.keys(byName).sort(), ['.lone', 'Handlers.onEvent', 'Handlers.unrelated']);
    assert.deepEqual(byName['Handlers.onEvent'].methodConfig, { key: 'k' });
    assert.deepEqual(byName['Handlers.onEvent'].classConfig, { topic: 'events' });
    assert.equal(byName['Handlers.unrelated'].methodConfig, undefined, 'in the class, with the class information only');
    assert.deepEqual(byName['.lone'].classConfig, {});
    assert.ok(byName['Handlers.onEvent'].methodReg.workflowConfig, 'the workflow registration is found');
    assert.equal(byName['.lone'].methodReg.workflowConfig, undefined);
    assert.equal(onEvent.registration, byName['Handlers.onEvent'].methodReg);
    // Narrowed by class (constructor, instance or name) and function name.
    assert.equal(DBOS.getAssociatedInfo(RECEIVER, Handlers, 'onEvent').length, 1);
    assert.equal(DBOS.getAssociatedInfo(RECEIVER, 'Handlers').length, 2);
    assert.equal(DBOS.getAssociatedInfo(RECEIVER, new Handlers()).length, 2);
    assert.deepEqual(DBOS.getAssociatedInfo(OTHER), []);
    assert.equal(DBOS.associateClassWithInfo(RECEIVER, Handlers), classInfo, 'the same object each time');
    // invoke() runs the function as registered: a workflow, recorded.
    const before = (await query(url, `SELECT 1 FROM dbos.workflow_status WHERE name = 'onEvent'`)).length;
    assert.equal(await byName['Handlers.onEvent'].methodReg.invoke(undefined, ['e']), 'got e');
    assert.equal((await query(url, `SELECT 1 FROM dbos.workflow_status WHERE name = 'onEvent'`)).length, before + 1);
    assert.equal(await lone.registration.invoke(undefined, ['x']), 'lone x');
  });

  test('after launch, associating a function is a conflicting registration; bad keys are DBOSErrors', () => {
    assert.throws(() => DBOS.associateFunctionWithInfo(RECEIVER, async () => 1, { name: 'late' }), E.DBOSConflictingRegistrationError);
    assert.throws(() => DBOS.associateClassWithInfo(null as unknown as string, Handlers), E.DBOSError);
  });
});

/** The part of @opentelemetry/api the test uses (required at run time: the package is an optional peer). */
interface Api {
  trace: {
    setGlobalTracerProvider(p: unknown): boolean;
    getTracerProvider(): { getDelegate(): unknown };
    setSpan(ctx: unknown, span: unknown): unknown;
  };
  context: { setGlobalContextManager(m: unknown): boolean; active(): unknown; with<R>(ctx: unknown, fn: () => R): R };
  ROOT_CONTEXT: unknown;
}

/** A span as the application's own provider records it. */
class RecordedSpan {
  attributes: Record<string, unknown> = {};
  ended = false;
  constructor(
    readonly name: string,
    attributes: Record<string, unknown> | undefined,
  ) {
    Object.assign(this.attributes, attributes);
  }
  setAttribute(k: string, v: unknown) {
    this.attributes[k] = v;
    return this;
  }
  setAttributes(a: Record<string, unknown>) {
    Object.assign(this.attributes, a);
    return this;
  }
  status?: { code: number; message?: string };
  setStatus(status: { code: number; message?: string }) {
    this.status = status;
    return this;
  }
  addEvent() {
    return this;
  }
  end() {
    this.ended = true;
  }
  spanContext() {
    return { traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', traceFlags: 1 };
  }
  isRecording() {
    return !this.ended;
  }
  updateName() {
    return this;
  }
  recordException() {}
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
}

describe('DBOS.tracer and DBOS.span', () => {
  test('off by default: stub spans, nothing loaded', async () => {
    const tracer = DBOS.tracer;
    assert.ok(tracer, 'there is a tracer once launched');
    const span = tracer.startSpan('off', { operationUUID: 'x' });
    span.setAttribute('a', 1).addEvent('e');
    tracer.endSpan(span);
    assert.equal(DBOS.span, undefined);
    seen.length = 0;
    assert.equal(await (await DBOS.startWorkflow(tracedWorkflow)()).getResult(), 'traced');
    assert.deepEqual(seen, [undefined, undefined], 'no spans in workflows and steps');
    assert.ok(!Object.keys(require.cache).some((k) => k.includes('@opentelemetry')), 'OpenTelemetry was not loaded');
  });

  test('on: spans go to the application’s provider, which stays the global one', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require('@opentelemetry/api') as Api;
    const spans: RecordedSpan[] = [];
    const provider = {
      getTracer: () => ({
        startSpan: (name: string, o?: { attributes?: Record<string, unknown> }) => {
          const s = new RecordedSpan(name, o?.attributes);
          spans.push(s);
          return s;
        },
      }),
    };
    const store = new AsyncLocalStorage<unknown>();
    const manager = {
      active: () => store.getStore() ?? api.ROOT_CONTEXT,
      with: (ctx: unknown, fn: (...a: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]) => store.run(ctx, () => fn.call(thisArg, ...args)),
      bind: <T>(_ctx: unknown, target: T) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
    assert.ok(api.trace.setGlobalTracerProvider(provider));
    assert.ok(api.context.setGlobalContextManager(manager));
    await relaunch(true);
    const tracer = DBOS.tracer;
    assert.ok(tracer);
    const span = tracer.startSpan('op', { operationUUID: 'wf-1', operationType: 'workflow' });
    tracer.endSpan(span);
    assert.equal(spans.length, 1);
    assert.equal(spans[0].name, 'op');
    assert.ok(spans[0].ended);
    assert.equal(spans[0].attributes.operationUUID, 'wf-1');
    assert.equal(spans[0].attributes.applicationVersion, 'v1');
    assert.equal(typeof spans[0].attributes.executorID, 'string');
    assert.equal(api.trace.getTracerProvider().getDelegate(), provider, 'the application’s provider is still the global one');
    // DBOS.span is the application's active span.
    assert.equal(DBOS.span, undefined);
    assert.equal(api.context.with(api.trace.setSpan(api.context.active(), spans[0]), () => DBOS.span), spans[0]);

    // Workflows and steps get spans as the SDK names them, with the workflow ID, the active span inside.
    seen.length = 0;
    const h = await DBOS.startWorkflow(tracedWorkflow)();
    assert.equal(await h.getResult(), 'traced');
    const of = (name: string) => spans.find((x) => x.name === name);
    const [wf, st, failing] = [of('tracedWorkflow'), of('tracedStep'), of('failingStep')];
    assert.ok(wf && st && failing, spans.map((x) => x.name).join());
    assert.deepEqual([wf.attributes.operationUUID, wf.attributes.operationType, wf.ended, wf.status?.code], [h.workflowID, 'workflow', true, 1]);
    assert.deepEqual([st.attributes.operationUUID, st.attributes.operationType, st.ended, st.status?.code], [h.workflowID, 'step', true, 1]);
    assert.deepEqual(failing.status, { code: 2, message: 'step failed' });
    assert.deepEqual(seen, [wf, st]);
  });
});
