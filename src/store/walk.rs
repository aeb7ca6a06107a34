//! Walks over a sled tree that go on past a stretch sled cannot read.
//!
//! sled 0.34 reads the leaves of a tree from its log when they are first
//! needed. A leaf whose bytes fail their checksum makes every read landing
//! in it fail with `Corruption`, and an iterator that meets such a leaf
//! returns that error again on every call without moving on: one damaged
//! leaf would hide every key after it. A [`Walk`] turns the damaged stretch
//! into one [`Step::Gap`] and goes on from the first readable key past it.
//! sled does not tell where a leaf ends, so the walk looks for it: from the
//! last key it read it tries restart points ever further on (doubling the
//! distance), then halves back to the nearest point from which reading
//! works. An I/O error is a fault of the disk rather than damaged data: it
//! ends the walk as an `Err`.

use std::ops::Bound;

use sled::{IVec, Tree};

/// Restart points are read as big-endian numbers at least this many bytes
/// long, so that a search from a short key (or from no key at all) can
/// still step finely past it.
const MIN_WIDTH: usize = 16;

/// What a [`Walk`] met next.
#[derive(Debug)]
pub enum Step {
    /// A key and its value.
    Entry(IVec, IVec),
    /// A stretch that could not be read, which the walk went past.
    Gap(Gap),
}

/// A stretch of a tree a [`Walk`] could not read: every key between its
/// bounds, none of which the walk returned.
#[derive(Debug, Clone)]
pub struct Gap {
    /// The lower bound of the stretch.
    pub lo: Bound<IVec>,
    /// The upper bound of the stretch.
    pub hi: Bound<IVec>,
    /// What sled said.
    pub error: String,
}

impl Gap {
    /// Whether `key` lies in the stretch.
    pub fn covers(&self, key: &[u8]) -> bool {
        let above = match &self.lo {
            Bound::Unbounded => true,
            Bound::Included(lo) => key >= lo.as_ref(),
            Bound::Excluded(lo) => key > lo.as_ref(),
        };
        let below = match &self.hi {
            Bound::Unbounded => true,
            Bound::Included(hi) => key <= hi.as_ref(),
            Bound::Excluded(hi) => key < hi.as_ref(),
        };
        above && below
    }

    /// The bounds as text, each shown by `show` ("start"/"end" when open).
    pub fn describe(&self, show: impl Fn(&[u8]) -> String) -> String {
        let bound = |b: &Bound<IVec>, open: &str| match b {
            Bound::Unbounded => open.to_owned(),
            Bound::Included(k) | Bound::Excluded(k) => show(k),
        };
        format!(
            "from {} to {}",
            bound(&self.lo, "the start"),
            bound(&self.hi, "the end")
        )
    }
}

/// An iterator over a range of a tree, forward or backward, that yields a
/// [`Step::Gap`] for each stretch it cannot read and goes on after it.
pub struct Walk {
    tree: Tree,
    /// What is left to walk.
    lo: Bound<IVec>,
    hi: Bound<IVec>,
    backward: bool,
    iter: sled::Iter,
    /// Keys read just past a gap, to be yielded before `iter` goes on
    /// (the next one last).
    sliver: Vec<(IVec, IVec)>,
    done: bool,
}

/// Where a walk goes on past damage.
struct Resume {
    /// The nearest point past the damage from which reading works: an
    /// inclusive lower bound going forward, an exclusive upper bound going
    /// backward.
    at: IVec,
    /// The farthest point before it from which reading fails. The keys
    /// between the two can be read only from `at`'s side.
    failed: IVec,
}

impl Walk {
    /// Walks the keys of `tree` between `lo` and `hi`, in key order, or in
    /// reverse with `backward`.
    pub fn new(tree: &Tree, lo: Bound<IVec>, hi: Bound<IVec>, backward: bool) -> Walk {
        Walk {
            iter: tree.range((lo.clone(), hi.clone())),
            tree: tree.clone(),
            lo,
            hi,
            backward,
            sliver: Vec::new(),
            done: false,
        }
    }

    /// Walks all of `tree` in key order.
    pub fn all(tree: &Tree) -> Walk {
        Walk::new(tree, Bound::Unbounded, Bound::Unbounded, false)
    }

    /// Finds where reading works again past the damage met at the current
    /// end of what is left, records the stretch in between as a gap and
    /// goes on from there.
    fn skip(&mut self, error: String) -> Gap {
        let resume = if self.backward {
            self.resume_backward()
        } else {
            self.resume_forward()
        };
        let Some(Resume { at, failed }) = resume else {
            self.done = true;
            return Gap {
                lo: self.lo.clone(),
                hi: self.hi.clone(),
                error,
            };
        };
        // The keys between the last failing point and `at` are read from
        // `at` towards the damage, until it is met again.
        let gap = if self.backward {
            let sliver = self
                .tree
                .range::<&[u8], _>((Bound::Included(&at[..]), Bound::Excluded(&failed[..])));
            self.sliver = sliver.map_while(Result::ok).collect();
            let gap = Gap {
                lo: self
                    .sliver
                    .last()
                    .map_or(Bound::Included(at.clone()), |(k, _)| {
                        Bound::Excluded(k.clone())
                    }),
                hi: self.hi.clone(),
                error,
            };
            self.hi = Bound::Excluded(at);
            gap
        } else {
            let sliver = self
                .tree
                .range::<&[u8], _>((Bound::Excluded(&failed[..]), Bound::Excluded(&at[..])));
            self.sliver = sliver.rev().map_while(Result::ok).collect();
            let gap = Gap {
                lo: self.lo.clone(),
                hi: self
                    .sliver
                    .last()
                    .map_or(Bound::Excluded(at.clone()), |(k, _)| {
                        Bound::Excluded(k.clone())
                    }),
                error,
            };
            self.lo = Bound::Included(at);
            gap
        };
        self.iter = self.tree.range((self.lo.clone(), self.hi.clone()));
        gap
    }

    /// Where reading forward works again past `self.lo`; `None` if nowhere
    /// before `self.hi`.
    fn resume_forward(&self) -> Option<Resume> {
        let base = widened(bound_key(&self.lo).unwrap_or_default());
        let readable = |at: &[u8]| {
            !matches!(
                self.tree
                    .range::<&[u8], _>((Bound::Included(at), self.hi.as_ref().map(AsRef::as_ref)))
                    .next(),
                Some(Err(sled::Error::Corruption { .. }))
            )
        };
        let max = sub(&vec![0xff; base.len()], &base)?;
        let (failed, at) = search(&base, &max, |off| add(&base, off), readable)?;
        within(&self.hi, &at, true).then(|| Resume {
            at: at.into(),
            failed: failed.into(),
        })
    }

    /// Where reading backward works again below `self.hi`; `None` if
    /// nowhere above `self.lo`.
    fn resume_backward(&self) -> Option<Resume> {
        let base = match bound_key(&self.hi) {
            Some(k) => widened(k),
            None => vec![0xff; MIN_WIDTH],
        };
        let readable = |at: &[u8]| {
            !matches!(
                self.tree
                    .range::<&[u8], _>((self.lo.as_ref().map(AsRef::as_ref), Bound::Excluded(at)))
                    .next_back(),
                Some(Err(sled::Error::Corruption { .. }))
            )
        };
        let (failed, at) = search(&base, &base, |off| sub(&base, off), readable)?;
        within(&self.lo, &at, false).then(|| Resume {
            at: at.into(),
            failed: failed.into(),
        })
    }
}

impl Iterator for Walk {
    type Item = Result<Step, sled::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((key, value)) = self.sliver.pop() {
            return Some(Ok(Step::Entry(key, value)));
        }
        if self.done {
            return None;
        }
        let item = if self.backward {
            self.iter.next_back()
        } else {
            self.iter.next()
        };
        match item {
            None => {
                self.done = true;
                None
            }
            Some(Ok((key, value))) => {
                if self.backward {
                    self.hi = Bound::Excluded(key.clone());
                } else {
                    self.lo = Bound::Excluded(key.clone());
                }
                Some(Ok(Step::Entry(key, value)))
            }
            Some(Err(e @ sled::Error::Corruption { .. })) => {
                Some(Ok(Step::Gap(self.skip(e.to_string()))))
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn bound_key(b: &Bound<IVec>) -> Option<&[u8]> {
    match b {
        Bound::Unbounded => None,
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
    }
}

/// Whether `at` is still inside the walk's far bound `end` (the upper bound
/// going forward, the lower bound going backward).
fn within(end: &Bound<IVec>, at: &[u8], forward: bool) -> bool {
    match (end, forward) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(e) | Bound::Excluded(e), true) => at <= e.as_ref(),
        (Bound::Included(e) | Bound::Excluded(e), false) => at > e.as_ref(),
    }
}

/// `key` padded with zeros to at least [`MIN_WIDTH`] bytes.
fn widened(key: &[u8]) -> Vec<u8> {
    let mut out = key.to_vec();
    out.resize(key.len().max(MIN_WIDTH), 0);
    out
}

/// For a `base` where `readable` does not hold, the nearest point
/// `step(off)` (0 < off ≤ `max`) where it does, and the point just before
/// it, where it does not: doubling `off` until it holds, then halving back.
/// `None` when it holds nowhere up to `max`.
fn search(
    base: &[u8],
    max: &[u8],
    step: impl Fn(&[u8]) -> Option<Vec<u8>>,
    readable: impl Fn(&[u8]) -> bool,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut one = vec![0u8; base.len()];
    *one.last_mut()? = 1;
    let mut failed = vec![0u8; base.len()];
    let mut off = one.clone();
    let mut ok = loop {
        // Equal widths: byte order is number order.
        if off.as_slice() >= max {
            off = max.to_vec();
            if off == failed || !readable(&step(&off)?) {
                return None;
            }
            break off;
        }
        if readable(&step(&off)?) {
            break off;
        }
        failed = off.clone();
        off = add(&off, &off).unwrap_or_else(|| max.to_vec());
    };
    // Keep `failed` unreadable and `ok` readable, halving the distance.
    while sub(&ok, &failed)? > one {
        let mid = add(&failed, &half(&sub(&ok, &failed)?))?;
        if readable(&step(&mid)?) {
            ok = mid;
        } else {
            failed = mid;
        }
    }
    Some((step(&failed)?, step(&ok)?))
}

/// `a / 2` as a big-endian number.
fn half(a: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut carry = 0u8;
    for &byte in a {
        out.push((byte >> 1) | carry);
        carry = (byte & 1) << 7;
    }
    out
}

/// `a + b` as big-endian numbers of `a`'s width; `None` on overflow.
fn add(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let mut out = a.to_vec();
    let mut carry = 0u16;
    for (i, o) in out.iter_mut().enumerate().rev() {
        let d = b
            .len()
            .checked_sub(a.len() - i)
            .and_then(|j| b.get(j))
            .copied()
            .unwrap_or(0);
        let sum = u16::from(*o) + u16::from(d) + carry;
        *o = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

/// `a - b` as big-endian numbers of `a`'s width; `None` below zero.
fn sub(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let mut out = a.to_vec();
    let mut borrow = 0i16;
    for (i, o) in out.iter_mut().enumerate().rev() {
        let d = b
            .len()
            .checked_sub(a.len() - i)
            .and_then(|j| b.get(j))
            .copied()
            .unwrap_or(0);
        let mut diff = i16::from(*o) - i16::from(d) - borrow;
        borrow = 0;
        if diff < 0 {
            diff += 256;
            borrow = 1;
        }
        *o = diff as u8;
    }
    (borrow == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_arithmetic_carries_and_stops_at_the_width() {
        assert_eq!(add(&[0, 0xff], &[0, 1]), Some(vec![1, 0]));
        assert_eq!(add(&[0xff, 0xff], &[0, 1]), None);
        assert_eq!(sub(&[1, 0], &[0, 1]), Some(vec![0, 0xff]));
        assert_eq!(sub(&[0, 0], &[0, 1]), None);
    }

    /// The search finds the first readable point past a stretch that is
    /// not, however far it reaches, and the last unreadable one before it.
    #[test]
    fn the_search_finds_the_nearest_readable_point() {
        let base = widened(&[0, 5, 0x98, 0xfe]);
        let max = sub(&[0xff; MIN_WIDTH], &base).unwrap();
        let mut one = vec![0; MIN_WIDTH];
        one[MIN_WIDTH - 1] = 1;
        let up = |off: &[u8]| add(&base, off);
        for end in [[0, 5, 0x98, 0xff], [0, 5, 0x99, 0xf8], [0xf0, 0, 0, 1]] {
            let first = widened(&end);
            let (failed, found) = search(&base, &max, up, |at| at >= first.as_slice()).unwrap();
            assert_eq!(found, first);
            assert_eq!(add(&failed, &one), Some(first));
        }
        assert_eq!(search(&base, &max, up, |_| false), None);
        // Backward from the top of the key space to far below its middle.
        let top = vec![0xff; MIN_WIDTH];
        let down = |off: &[u8]| sub(&top, off);
        let (failed, found) = search(&top, &top, down, |at| at < &[0x10][..]).unwrap();
        assert!(found.as_slice() < &[0x10][..] && failed.as_slice() >= &[0x10][..]);
        assert_eq!(half(&[1, 0]), [0, 0x80]);
    }
}
