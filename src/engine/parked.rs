//! recv calls parked in this process between tries, which a send from this process may serve: the
//! sender then consumes for the parked recv in its own transaction, so the message is inserted,
//! consumed and recorded in one round trip instead of three hops (insert, NOTIFY, consume).
//!
//! A parked recv is Waiting until either it leaves (to try on its own: poll, notification, deadline)
//! or one sender claims it. A claimed recv stays parked until the sender finishes: Handed (the
//! sender's transaction committed its consume) or released back to Waiting (it did not; the recv then
//! tries on its own, with the sender's completion time so that a commit whose reply was lost is
//! recognised as its own).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// What recv consumed (both None on timeout).
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub message: Option<String>,
    pub serialization: Option<String>,
}

/// What a sender needs to consume for a parked recv.
#[derive(Debug, Clone)]
pub struct RecvCall {
    pub workflow_id: String,
    pub token: String,
    pub function_id: i32,
    pub topic: String,
    pub started_at: i64,
}

enum State {
    Waiting,
    Claimed,
    Handed(Received),
    /// Released by the sender; the recv must try again on its own with this completion time.
    Released(i64),
}

struct Slot {
    call: RecvCall,
    state: Mutex<State>,
    /// Signalled when a claim ends (a permit is stored if the recv is not yet listening).
    settled: Notify,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The parked recvs by `<workflowID>::<topic>`: at most one per key (a workflow's recvs are sequential).
#[derive(Default)]
pub struct Parked {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// A recv's parking place; dropping it unparks (a claim in progress still completes, unobserved).
pub struct Parking<'a> {
    parked: &'a Parked,
    key: String,
    slot: Arc<Slot>,
}

/// How a recv left its parking place.
pub enum Left {
    /// Nobody claimed it: try on its own.
    Free,
    /// A sender claimed it and did not consume: try on its own, completing at this time.
    Released(i64),
    /// A sender consumed for it: the message, committed and recorded as this recv's.
    Handed(Received),
}

/// A sender's claim on a parked recv; dropping it without `finish` releases the recv.
pub struct Claim {
    slot: Arc<Slot>,
    completed_at: i64,
    done: bool,
}

impl Parked {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Parks a recv on `key`; None if another recv is parked there already.
    pub fn park(&self, key: &str, call: RecvCall) -> Option<Parking<'_>> {
        let mut slots = self.lock();
        if slots.contains_key(key) {
            return None;
        }
        let slot = Arc::new(Slot {
            call,
            state: Mutex::new(State::Waiting),
            settled: Notify::new(),
        });
        slots.insert(key.to_owned(), slot.clone());
        Some(Parking {
            parked: self,
            key: key.to_owned(),
            slot,
        })
    }

    /// Claims the recv parked on `key`, if one is waiting and unclaimed. `completed_at` is the
    /// completion time the consume will record.
    pub fn claim(&self, key: &str, completed_at: i64) -> Option<(Claim, RecvCall)> {
        let slots = self.lock();
        let slot = slots.get(key)?;
        let mut state = slot.lock();
        if !matches!(*state, State::Waiting) {
            return None;
        }
        *state = State::Claimed;
        drop(state);
        Some((
            Claim {
                slot: slot.clone(),
                completed_at,
                done: false,
            },
            slot.call.clone(),
        ))
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Parking<'_> {
    /// Resolves when a claim on this recv has ended (never, if nobody claims it).
    pub async fn settled(&self) {
        self.slot.settled.notified().await
    }

    /// Leaves the parking place, first waiting for a claim in progress to end.
    pub async fn leave(self) -> Left {
        loop {
            // Registered before looking, so that a claim ending in between still wakes us.
            let settled = self.slot.settled.notified();
            {
                let mut slots = self.parked.lock();
                let mut state = self.slot.lock();
                match std::mem::replace(&mut *state, State::Claimed) {
                    State::Waiting => {
                        remove_if_ours(&mut slots, &self.key, &self.slot);
                        return Left::Free;
                    }
                    State::Claimed => {}
                    State::Released(at) => {
                        remove_if_ours(&mut slots, &self.key, &self.slot);
                        return Left::Released(at);
                    }
                    State::Handed(received) => {
                        remove_if_ours(&mut slots, &self.key, &self.slot);
                        return Left::Handed(received);
                    }
                }
            }
            settled.await;
        }
    }
}

fn remove_if_ours(slots: &mut HashMap<String, Arc<Slot>>, key: &str, slot: &Arc<Slot>) {
    if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
        slots.remove(key);
    }
}

impl Drop for Parking<'_> {
    fn drop(&mut self) {
        let mut slots = self.parked.lock();
        remove_if_ours(&mut slots, &self.key, &self.slot);
    }
}

impl Claim {
    pub fn completed_at(&self) -> i64 {
        self.completed_at
    }

    /// Hands the message the sender's transaction consumed and recorded for the recv.
    pub fn finish(mut self, received: Received) {
        self.done = true;
        *self.slot.lock() = State::Handed(received);
        self.slot.settled.notify_one();
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.done {
            *self.slot.lock() = State::Released(self.completed_at);
            self.slot.settled.notify_one();
        }
    }
}
