// The checkout workflow of DBOS's "Communicating with Workflows" guide, as the shop runs it: it reserves the
// item, publishes the payment URL with setEvent (the HTTP handler that started it is waiting for it), waits for
// the payment provider's notification with recv (a timeout cancels the order), then packs and ships. Every stage
// goes to the order's `progress` stream, which the page shows live over Server-Sent Events.
import { DBOS } from 'dbos-native';

export const PAYMENT_URL = 'payment_url';
export const PAYMENT_STATUS = 'payment_status';
export const PROGRESS = 'progress';

export type Stage = 'reserved' | 'awaiting_payment' | 'paid' | 'declined' | 'timed_out' | 'packed' | 'shipped' | 'cancelled';

/** One value of an order's progress stream. */
export interface Progress {
  stage: Stage;
  /** Shown next to the stage: the payment link, the tracking number, why it was cancelled. */
  detail?: string;
  at: string;
}

/** What the webhook forwards to the workflow. */
export type PaymentStatus = 'paid' | 'declined';

export interface Order {
  item: string;
  /** How long to wait for the payment before cancelling (the workflow's recv timeout). */
  paymentTimeoutS: number;
  /** How long packing and then shipping each take: durable sleeps, long enough to kill the server meanwhile. */
  stageDelayMs: number;
}

export class Shop {
  @DBOS.step()
  static async reserveInventory(item: string): Promise<void> {
    console.log(`  [${DBOS.workflowID}] reserved one ${item}`);
  }

  @DBOS.step()
  static async undoReserveInventory(item: string): Promise<void> {
    console.log(`  [${DBOS.workflowID}] released the ${item}`);
  }

  @DBOS.step()
  static async packOrder(item: string): Promise<void> {
    console.log(`  [${DBOS.workflowID}] packed the ${item}`);
  }

  @DBOS.step()
  static async shipOrder(): Promise<string> {
    const tracking = `TRK-${Math.floor(Math.random() * 1e8).toString().padStart(8, '0')}`; // recorded: the same after a crash
    console.log(`  [${DBOS.workflowID}] shipped, tracking ${tracking}`);
    return tracking;
  }

  static async report(stage: Stage, detail?: string): Promise<void> {
    const value: Progress = { stage, at: new Date().toISOString(), ...(detail !== undefined ? { detail } : {}) };
    await DBOS.writeStream<Progress>(PROGRESS, value); // exactly once: a recovered workflow does not write it again
  }

  @DBOS.workflow()
  static async checkoutWorkflow(order: Order): Promise<string> {
    await Shop.reserveInventory(order.item);
    await Shop.report('reserved', order.item);
    const paymentURL = `/pay/${encodeURIComponent(DBOS.workflowID ?? '')}`;
    await DBOS.setEvent(PAYMENT_URL, paymentURL);
    await Shop.report('awaiting_payment', paymentURL);
    const notification = await DBOS.recv<PaymentStatus>(PAYMENT_STATUS, order.paymentTimeoutS);
    if (notification === 'paid') {
      await Shop.report('paid');
      await DBOS.sleep(order.stageDelayMs);
      await Shop.packOrder(order.item);
      await Shop.report('packed');
      await DBOS.sleep(order.stageDelayMs);
      const tracking = await Shop.shipOrder();
      await Shop.report('shipped', tracking);
      await DBOS.closeStream(PROGRESS);
      return `shipped (${tracking})`;
    }
    // Declined, or no notification in time.
    const why = notification === null ? 'timed_out' : 'declined';
    await Shop.report(why);
    await Shop.undoReserveInventory(order.item);
    await Shop.report('cancelled', why === 'timed_out' ? 'no payment in time' : 'payment declined');
    await DBOS.closeStream(PROGRESS);
    return `cancelled (${why === 'timed_out' ? 'no payment in time' : 'payment declined'})`;
  }
}
