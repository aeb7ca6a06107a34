//! Fuzzes `kurz::store::Link::decode`, the reader of every record that comes off the disk.
//!
//! A damaged record must be an error for its slug, never a panic or a huge
//! allocation (a corrupted length prefix must not be trusted). The input is
//! the raw value bytes of a `links` entry. Invariants checked:
//! - decoding never panics, and no single allocation it makes exceeds
//!   [`MAX_ALLOC`] (measured by a counting global allocator);
//! - the empty input is an error;
//! - a record that decodes round-trips: encoding the `Link` and decoding that
//!   gives the same `Link`, and the re-encoding is stable (encoding the
//!   decoded copy gives the same bytes again).

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kurz::store::Link;
use libfuzzer_sys::fuzz_target;

/// Largest single allocation a decode may make. Records are a few hundred
/// bytes (targets are capped at 8 KiB, records at 16 KiB); an allocation of a
/// mebibyte could only come from believing a damaged length prefix.
const MAX_ALLOC: usize = 1 << 20;

/// The system allocator, remembering the largest request since the last reset.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to `System` unchanged; the only addition is a
// relaxed atomic store of the requested size.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    LARGEST.store(0, Ordering::Relaxed);
    let decoded = Link::decode(data);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= MAX_ALLOC,
        "decoding {} bytes allocated {largest} bytes at once",
        data.len()
    );
    if data.is_empty() {
        assert!(decoded.is_err());
    }
    let Ok(link) = decoded else {
        return;
    };
    let bytes = link.encode();
    let again = Link::decode(&bytes).unwrap_or_else(|e| panic!("{link:?} re-decodes to {e}"));
    assert_eq!(again, link);
    assert_eq!(again.encode(), bytes, "encoding {link:?} is not stable");
});
