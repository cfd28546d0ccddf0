// DBOSClient.sendInTransaction: the engine renders the send's one statement and it runs on the caller's
// connection, in the caller's open transaction, so the message commits (and its receivers are notified by
// the schema's trigger) with the caller's own writes, as enqueueInTransaction does for an enqueue.
import type { PgClientBase } from './client-enqueue';
import { DBOSNonExistentWorkflowError } from './error';
import { outgoingMessage, type SendRequest } from './messages';
import type { Engine } from './native';
import type { SerializerOptions } from './serialization';

export async function sendInTransaction(engine: Engine, pg: PgClientBase, req: SendRequest, serializerOpts: SerializerOptions): Promise<void> {
  const outgoing = await outgoingMessage(req, undefined, serializerOpts);
  const statement = await engine.renderSend(outgoing);
  try {
    await pg.query(statement.text, statement.values);
  } catch (e) {
    // A missing destination aborts the caller's transaction, as in the SDK (with its message).
    if ((e as { code?: unknown } | null)?.code === '23503') {
      throw new DBOSNonExistentWorkflowError(`Sent to non-existent destination workflow UUID: ${outgoing.destinationId}`);
    }
    throw e;
  }
}
