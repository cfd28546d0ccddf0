// Engine calls of one kind made in one turn of the event loop go to the engine in one call, so they are written by
// one statement. Callers resumed together (the 32 callers whose enqueues committed in one batch, the workflows a
// claim started) come back in one turn, but they would reach the engine one by one: the first would be written alone
// while the others arrive, a commit (and a disk flush) for one row.
import { errorFromNative, type Completion, type CompletionRequest, type Engine, type NewWorkflow, type StartOutcome } from './native';

interface Waiting<Req, Res> {
  req: Req;
  resolve: (res: Res) => void;
  reject: (error: unknown) => void;
}

/**
 * One call per request, as the caller sees it, sent at the end of the turn (`setImmediate`) with the other requests
 * of that turn through `many` (the engine's many-at-once form: one promise per request, in order).
 */
function together<Req, Res>(many: (engine: Engine, reqs: Req[]) => Promise<Res>[]): (engine: Engine, req: Req) => Promise<Res> {
  const waitingFor = new WeakMap<Engine, Waiting<Req, Res>[]>();
  const send = (engine: Engine, turn: Waiting<Req, Res>[]): void => {
    let outcomes: Promise<Res>[];
    try {
      outcomes = many(engine, turn.map((w) => w.req));
    } catch (e) {
      // A request napi could not convert fails the whole call: send each alone, so it fails alone.
      if (turn.length > 1) for (const w of turn) send(engine, [w]);
      else turn[0].reject(e); // already a DBOS error (native.ts wraps every method)
      return;
    }
    // native.ts maps the rejection of a promise a method returns, not of those inside an array: map them here.
    turn.forEach((w, i) => outcomes[i].then(w.resolve, (e: unknown) => w.reject(errorFromNative(e))));
  };
  return (engine, req) =>
    new Promise<Res>((resolve, reject) => {
      let waiting = waitingFor.get(engine);
      if (waiting === undefined) {
        const turn: Waiting<Req, Res>[] = (waiting = []);
        waitingFor.set(engine, turn);
        setImmediate(() => {
          waitingFor.delete(engine);
          send(engine, turn);
        });
      }
      waiting.push({ req, resolve, reject });
    });
}

/** A client's enqueue of `row`, written with the other client enqueues of this turn. */
export const enqueueTogether = together<NewWorkflow, StartOutcome>((engine, rows) => engine.enqueueManyForClient(rows));

/** A workflow's completion (after its queued writes), written with the other completions of this turn. */
export const completeTogether = together<CompletionRequest, Completion>((engine, dones) =>
  engine.settleAndCompleteMany(dones),
);
