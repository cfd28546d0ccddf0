//! A send rendered for the caller's own transaction (`DBOSClient.sendInTransaction`): the statement a
//! plain send runs, with its values as text, for the caller's `pg` client. The message becomes visible,
//! and the schema's notifications trigger NOTIFYs its receivers, only when the caller commits.

use super::OutgoingMessage;
use crate::engine::Engine;

impl Engine {
    /// Transactions, locks: the caller's transaction; the insert takes the notification's key and
    /// (through its foreign key) `FOR KEY SHARE` on the destination's status row, held to the caller's
    /// commit. A missing destination fails with SQLSTATE 23503 and aborts the caller's transaction.
    pub fn render_send(&self, msg: &OutgoingMessage) -> (String, Vec<Option<String>>) {
        let values = vec![
            Some(msg.destination_id.clone()),
            Some(msg.topic.clone()),
            Some(msg.message.clone()),
            msg.serialization.clone(),
            Some(msg.message_uuid.clone()),
        ];
        (self.sql.messages.send.clone(), values)
    }
}
