//! Group commit: concurrent callers' writes of one kind are sent as one statement (one round trip,
//! one commit) instead of one each. There is no background task: a caller that finds fewer than
//! `LEADERS` batches in flight leads one, runs what is queued, and after its batch hands the lead to
//! the oldest waiting caller, so no caller runs more than one batch and a write waits at most for
//! the batches in flight. A caller with several writes at once (`submit_many`: the calls of one
//! turn of the JS event loop) queues them together before any leads, so they share one batch
//! rather than the first going alone. Writes of different callers get no order among themselves
//! (a workflow's written-behind checkpoints, which need one, have their own queue: `behind`).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::error::{EngineError, Result};
use super::Engine;

/// Batches of one group in flight at once: writes of different callers need no order among
/// themselves, and a second batch lets Postgres work on one while the other travels.
const LEADERS: usize = 2;

/// One column of a batch, for a statement that takes its rows as arrays (borrowed, not copied).
pub(crate) fn column<'a, T, V>(items: &'a [T], field: impl Fn(&'a T) -> V) -> Vec<V> {
    items.iter().map(field).collect()
}

/// How many writes one statement carries at most.
pub(crate) const MAX_BATCH: usize = 256;

enum Signal<T, R> {
    Done(Result<R>),
    /// Your write was not in the last batch: lead the next one, starting with it.
    Lead(T),
}

struct Waiting<T, R> {
    item: T,
    reply: oneshot::Sender<Signal<T, R>>,
}

struct State<T, R> {
    queue: VecDeque<Waiting<T, R>>,
    /// Batches in flight.
    leaders: usize,
}

pub(crate) struct Group<T, R> {
    state: Mutex<State<T, R>>,
}

impl<T, R> Default for Group<T, R> {
    fn default() -> Self {
        Group {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                leaders: 0,
            }),
        }
    }
}

/// Hands the lead on when a leader finishes, or is dropped mid-batch, so the group never stalls.
struct Lead<'a, T, R> {
    group: &'a Group<T, R>,
}

impl<T, R> Drop for Lead<'_, T, R> {
    fn drop(&mut self) {
        self.group.pass_lead();
    }
}

impl<T, R> Group<T, R> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T, R>> {
        // A panic while holding this lock leaves only a queue behind: keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pass_lead(&self) {
        let mut st = self.lock();
        while let Some(w) = st.queue.pop_front() {
            match w.reply.send(Signal::Lead(w.item)) {
                Ok(()) => return,
                // That caller has gone away: its write is dropped with it, try the next one.
                Err(_) => continue,
            }
        }
        st.leaders -= 1;
    }

    /// Submits one write and returns its own result. The engine runs each batch (`run_batch`: one
    /// result per item, in order; a shorter vector fails the missing items).
    pub(crate) async fn submit(&self, engine: &Engine, item: T) -> Result<R>
    where
        Engine: Batched<T, R>,
    {
        let waiting = {
            let mut st = self.lock();
            if st.leaders >= LEADERS {
                let (tx, rx) = oneshot::channel();
                st.queue.push_back(Waiting { item, reply: tx });
                Err(rx)
            } else {
                st.leaders += 1;
                Ok(item)
            }
        };
        let item = match waiting {
            Ok(item) => item,
            Err(rx) => match rx.await {
                Ok(Signal::Done(result)) => return result,
                Ok(Signal::Lead(item)) => item,
                Err(_) => return Err(EngineError::shutdown()),
            },
        };
        self.lead(engine, item).await
    }

    /// Submits several writes of one caller at once, queued together so that they share a batch
    /// (however many the caller has, not one leading alone while the others arrive): their
    /// results, in order.
    pub(crate) async fn submit_many(&self, engine: &Engine, items: Vec<T>) -> Vec<Result<R>>
    where
        Engine: Batched<T, R>,
    {
        let replies: Vec<_> = {
            let mut st = self.lock();
            let replies = items
                .into_iter()
                .map(|item| {
                    let (tx, rx) = oneshot::channel();
                    st.queue.push_back(Waiting { item, reply: tx });
                    rx
                })
                .collect();
            // A free slot goes to the oldest waiting write (ours, unless others were queued).
            if st.leaders < LEADERS {
                st.leaders += 1;
                drop(st);
                self.pass_lead();
            }
            replies
        };
        futures::future::join_all(replies.into_iter().map(|rx| async move {
            match rx.await {
                Ok(Signal::Done(result)) => result,
                Ok(Signal::Lead(item)) => self.lead(engine, item).await,
                Err(_) => Err(EngineError::shutdown()),
            }
        }))
        .await
    }

    /// Runs one batch, starting with `item`, holding one of the group's slots.
    async fn lead(&self, engine: &Engine, item: T) -> Result<R>
    where
        Engine: Batched<T, R>,
    {
        let _lead = Lead { group: self };
        let mut items = vec![item];
        let mut replies = Vec::new();
        {
            let mut st = self.lock();
            while items.len() < MAX_BATCH {
                match st.queue.pop_front() {
                    Some(w) => {
                        items.push(w.item);
                        replies.push(w.reply);
                    }
                    None => break,
                }
            }
        }
        let mut results = engine.run_batch(items).await.into_iter();
        let own = results
            .next()
            .unwrap_or_else(|| Err(EngineError::Internal("a batch returned no result".into())));
        for reply in replies {
            let r = results
                .next()
                .unwrap_or_else(|| Err(EngineError::too_few_results()));
            // A caller that went away does not need its result.
            let _ = reply.send(Signal::Done(r));
        }
        own
    }
}

/// One kind of write that can go alone or many to a statement.
pub(crate) trait Batched<T, R> {
    /// One statement for the whole batch, one result per item in order.
    async fn many(&self, items: &[T]) -> Result<Vec<Result<R>>>;
    /// The single-write statement, with its own retries.
    async fn one(&self, item: &T) -> Result<R>;
}

impl Engine {
    /// How many batches fell back to one statement per item. Only a bad item should cause one: a
    /// statement that fails for every batch (say, a column the batch SQL lacks) would otherwise go
    /// unnoticed, every write still succeeding one by one at a fraction of the speed.
    pub fn batch_fallbacks(&self) -> u64 {
        self.groups
            .fallbacks
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs a batch as one statement (retried on connection faults), or each item alone when the
    /// batch has one item or its statement failed for another reason: a bad value in one item must
    /// fail that item only, never its neighbours.
    pub(crate) async fn run_batch<T, R>(&self, items: Vec<T>) -> Vec<Result<R>>
    where
        Self: Batched<T, R>,
    {
        if items.len() > 1 {
            match self.retrying(|| self.many(&items)).await {
                Ok(results) if results.len() == items.len() => return results,
                Err(e @ EngineError::Shutdown) => {
                    return items.iter().map(|_| Err(e.clone())).collect()
                }
                _ => {
                    self.groups
                        .fallbacks
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            out.push(self.one(item).await);
        }
        out
    }
}
