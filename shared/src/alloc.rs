//! The allocator's settings for a Lambda process.
//!
//! A receiver invocation allocates a few buffers of several MB (the inflated document, the
//! Firehose answer, the runtime's copy of it). glibc's malloc serves blocks that large with
//! `mmap` and gives them back with `munmap` on free, or trims the top of its heap once enough is
//! free; either way the next invocation touches fresh pages and pays a page fault per 4 KiB —
//! measured at about 30% of a Firehose invocation's time. A Lambda container runs one
//! invocation at a time and is billed for its configured memory whatever it touches, so keeping
//! the memory once touched costs nothing: [`keep_freed_memory`] raises the mmap threshold to
//! its maximum and stops trimming.

/// Keeps freed memory in the process for the next invocation (glibc only; elsewhere nothing).
/// Call once at the start of `main`, before anything large is allocated.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's ceiling for `M_MMAP_THRESHOLD` on 64-bit: blocks up to 32 MiB (the decode
        /// limit's default) come from the heap.
        const MMAP_THRESHOLD_MAX: libc::c_int = 32 * 1024 * 1024;
        // SAFETY: mallopt only changes malloc's tunables; it is called before other threads
        // exist. A refused setting (return 0) leaves glibc's default, which is only slower.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX);
            libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    }
}
