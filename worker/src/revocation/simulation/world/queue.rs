//! The simulation's events in time order.

use super::*;

/// Queued events in time order (ties in the order they were queued).
#[derive(Default)]
pub(super) struct Queue {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Event>,
    next: u64,
}

impl Queue {
    pub(super) fn push(&mut self, at: u64, event: Event) {
        self.next += 1;
        self.heap.push(Reverse((at, self.next)));
        self.events.insert(self.next, event);
    }

    pub(super) fn next_time(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub(super) fn pop_due(&mut self, by: u64) -> Option<(u64, Event)> {
        let Reverse((at, id)) = *self.heap.peek()?;
        if at > by {
            return None;
        }
        self.heap.pop();
        self.events.remove(&id).map(|event| (at, event))
    }
}
