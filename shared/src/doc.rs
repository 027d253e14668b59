//! A decoded subscription document, shared by the messages routed from it.
//!
//! The messages of a payload are ranges of its decoded document ([`crate::json::Message`]), so
//! each holds a reference to it. With `Arc<String>`, that was one atomic increment when a
//! message was routed and one atomic decrement when it was dropped: two locked instructions per
//! log event, each waiting for the stores before it, about 4 % of the receiver's pipeline by
//! perf. [`SharedDoc`] is the same reference-counted string, with references also taken
//! ([`SharedDoc::refs`]) and given back ([`release`]) many at a time: one atomic operation per
//! payload on the way in and per run of messages on the way out.
//!
//! The counting is `Arc`'s (the standard library's orderings: `Relaxed` to take, `Release` to
//! give back, an `Acquire` fence before freeing), in this one file. Its tests count every
//! reference; run under valgrind's memcheck, they also show every document freed once.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

/// A reference-counted, immutable string: `Arc<String>` with bulk counting.
pub struct SharedDoc {
    ptr: NonNull<Inner>,
}

struct Inner {
    refs: AtomicUsize,
    text: String,
}

// SAFETY: as `Arc<String>`: the text is immutable while shared and `String` is Send + Sync;
// the count is atomic.
unsafe impl Send for SharedDoc {}
// SAFETY: as above.
unsafe impl Sync for SharedDoc {}

/// `Arc`'s limit: past it, a count could overflow through leaked references.
const MAX_REFS: usize = isize::MAX as usize;

impl SharedDoc {
    pub fn new(text: String) -> Self {
        let inner = Box::new(Inner {
            refs: AtomicUsize::new(1),
            text,
        });
        Self {
            ptr: NonNull::from(Box::leak(inner)),
        }
    }

    fn inner(&self) -> &Inner {
        // SAFETY: `ptr` stays valid while any reference, this one included, exists.
        unsafe { self.ptr.as_ref() }
    }

    /// Takes `n` references at once, handed out one by one by [`Refs::take`]; those not taken
    /// are given back when the `Refs` is dropped.
    pub fn refs(&self, n: usize) -> Refs<'_> {
        add_refs(self.inner(), n);
        Refs {
            doc: self,
            remaining: n,
        }
    }

    /// The string, when this is the only reference; otherwise this reference back.
    pub fn try_into_string(self) -> Result<String, Self> {
        if self
            .inner()
            .refs
            .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(self);
        }
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: the count was 1 and is now 0: this was the last reference, and the box
        // came from `Box::leak` in `new`.
        let inner = unsafe { Box::from_raw(ptr.as_ptr()) };
        Ok(inner.text)
    }

    /// Whether both are references to the same document.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// Gives back `n` references whose handles were forgotten, keeping this one.
    fn give_back(&self, n: usize) {
        if n > 0 {
            // Never reaches 0: `self` is still a reference.
            self.inner().refs.fetch_sub(n, Ordering::Release);
        }
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.inner().refs.load(Ordering::SeqCst)
    }
}

fn add_refs(inner: &Inner, n: usize) {
    // Relaxed, as `Arc::clone`: a new reference is made from an existing one, which keeps
    // the document alive meanwhile.
    let before = inner.refs.fetch_add(n, Ordering::Relaxed);
    if before.checked_add(n).is_none_or(|after| after > MAX_REFS) {
        std::process::abort();
    }
}

impl Clone for SharedDoc {
    fn clone(&self) -> Self {
        add_refs(self.inner(), 1);
        Self { ptr: self.ptr }
    }
}

impl Drop for SharedDoc {
    fn drop(&mut self) {
        // As `Arc`'s drop: Release so that this reference's reads happen before the free;
        // the Acquire fence so that the free happens after every other reference's.
        if self.inner().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: the count went from 1 to 0: no other reference exists, and the box came
        // from `Box::leak` in `new`.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

impl Deref for SharedDoc {
    type Target = str;

    fn deref(&self) -> &str {
        &self.inner().text
    }
}

impl fmt::Debug for SharedDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// References taken at once by [`SharedDoc::refs`].
pub struct Refs<'a> {
    doc: &'a SharedDoc,
    remaining: usize,
}

impl Refs<'_> {
    /// One of the references, without an atomic operation; `None` once all are taken.
    pub fn take(&mut self) -> Option<SharedDoc> {
        self.remaining = self.remaining.checked_sub(1)?;
        Some(SharedDoc { ptr: self.doc.ptr })
    }

    pub fn doc(&self) -> &SharedDoc {
        self.doc
    }
}

impl Drop for Refs<'_> {
    fn drop(&mut self) {
        self.doc.give_back(self.remaining);
    }
}

/// Drops references, one atomic operation per run of references to the same document (the
/// messages of a batch come in long runs from the same payload) instead of one each.
pub fn release(refs: impl IntoIterator<Item = SharedDoc>) {
    let mut run: Option<(SharedDoc, usize)> = None;
    for doc in refs {
        match &mut run {
            Some((held, n)) if SharedDoc::ptr_eq(held, &doc) => {
                // `held` keeps the document alive; this reference is counted and given back
                // with the run.
                std::mem::forget(doc);
                *n += 1;
            }
            _ => {
                if let Some((held, n)) = run.replace((doc, 0)) {
                    held.give_back(n);
                }
            }
        }
    }
    if let Some((held, n)) = run {
        held.give_back(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_as_arc_does() {
        let a = SharedDoc::new("doc".into());
        assert_eq!((&*a, a.count()), ("doc", 1));
        let b = a.clone();
        assert!(SharedDoc::ptr_eq(&a, &b));
        assert_eq!(a.count(), 2);
        let a = a.try_into_string().expect_err("shared");
        drop(b);
        assert_eq!(a.count(), 1);
        assert_eq!(a.try_into_string().unwrap(), "doc");
        assert!(!SharedDoc::ptr_eq(
            &SharedDoc::new("x".into()),
            &SharedDoc::new("x".into())
        ));
    }

    #[test]
    fn references_taken_at_once_and_given_back_in_runs() {
        let a = SharedDoc::new("a".into());
        let b = SharedDoc::new("b".into());
        let mut handles = Vec::new();
        {
            let mut ra = a.refs(5);
            let mut rb = b.refs(3);
            assert_eq!((a.count(), b.count()), (6, 4));
            for _ in 0..3 {
                handles.push(ra.take().unwrap());
                handles.push(rb.take().unwrap());
            }
            assert!(rb.take().is_none(), "three were taken");
            handles.push(ra.take().unwrap());
            handles.push(ra.take().unwrap());
            assert!(ra.take().is_none());
            assert!(SharedDoc::ptr_eq(ra.doc(), &a));
        }
        assert_eq!(
            (a.count(), b.count()),
            (6, 4),
            "all taken: nothing given back"
        );
        {
            let mut unused = a.refs(10);
            handles.push(unused.take().unwrap());
        }
        assert_eq!(a.count(), 7, "nine given back");
        // Interleaved, in runs, and a document whose only reference is in the list.
        let c = SharedDoc::new("c".into());
        handles.push(c);
        handles.push(b.clone());
        handles.push(b.clone());
        release(handles);
        assert_eq!((a.count(), b.count()), (1, 1));
        release([a.clone(), a.clone(), a]);
        assert_eq!(b.try_into_string().unwrap(), "b");
        release(Vec::new());
    }

    #[test]
    fn counted_across_threads() {
        let doc = SharedDoc::new("shared".into());
        std::thread::scope(|s| {
            for _ in 0..4 {
                let mine: Vec<SharedDoc> = {
                    let mut refs = doc.refs(1000);
                    std::iter::from_fn(|| refs.take()).collect()
                };
                s.spawn(move || {
                    let clones: Vec<SharedDoc> = mine.iter().map(SharedDoc::clone).collect();
                    assert!(mine.iter().all(|d| &**d == "shared"));
                    drop(mine);
                    release(clones);
                });
            }
        });
        assert_eq!(doc.count(), 1);
        let last = doc.clone();
        drop(doc);
        assert_eq!(last.try_into_string().unwrap(), "shared");
    }
}
