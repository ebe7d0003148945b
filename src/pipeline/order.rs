//! A bounded reorder window: items numbered by the dispatcher arrive from the
//! workers in any order and leave in number order.
//!
//! The bound is not enforced here but by the dispatcher, which only starts
//! job `n` once fewer than `window` jobs are ahead of the next one to leave
//! (it waits for a token that this side returns as each item leaves).

use std::collections::BTreeMap;

pub struct Reorder<T> {
    next: u64,
    pending: BTreeMap<u64, T>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Self {
            next: 0,
            pending: BTreeMap::new(),
        }
    }
}

impl<T> Reorder<T> {
    pub fn push(&mut self, seq: u64, item: T) {
        debug_assert!(seq >= self.next, "item {seq} arrived twice");
        self.pending.insert(seq, item);
    }

    /// The next item in order, if it has arrived.
    pub fn pop(&mut self) -> Option<T> {
        let item = self.pending.remove(&self.next)?;
        self.next += 1;
        Some(item)
    }

    /// Items waiting for an earlier one.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// The number of the next item to leave.
    pub fn next_seq(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_order_whatever_the_arrival_order() {
        let mut r = Reorder::default();
        r.push(2, 'c');
        r.push(1, 'b');
        assert_eq!(r.pop(), None);
        r.push(0, 'a');
        assert_eq!(
            (r.pop(), r.pop(), r.pop(), r.pop()),
            (Some('a'), Some('b'), Some('c'), None)
        );
        assert_eq!(r.next_seq(), 3);
        assert_eq!(r.waiting(), 0);
    }
}
