//! The process's memory allocator: mimalloc instead of glibc's malloc.
//!
//! With glibc, threads share a few locked arenas: memory one thread
//! allocates and another frees (a request built on one async thread and
//! dropped on the other, rows handed over by SQLite's connection threads,
//! a pull's pages parsed on the ingest threads) takes the owning arena's
//! lock. Profiling a search load beside a pull found the async threads
//! asleep on those locks thousands of times in 4 s, the longest waits behind
//! a lower-priority ingest thread holding one. mimalloc keeps a heap per
//! thread and hands frees from other threads over without a lock: search
//! at 110,000 recalls served 20-40 % more requests with the same CPU, and
//! 15-20 % more at a million (`docs/PERFORMANCE.md`, stop 20).
//!
//! The server returns freed pages to the system at once (`purge_delay` 0,
//! not mimalloc's default, 1 s in the v3 this crate builds; `mimalloc.h`
//! still says 10 ms): 20 concurrent 4 MB photo scans peaked at 318 MB with
//! the default and 257 MB without it (target: under 300 MB), and searches
//! at a million recalls measured the same either way. The other commands
//! keep the default: an import frees and takes back its batches' memory over
//! and over, and purging at once made the kernel hand the same pages back,
//! zeroed, at each fault (a 1M import: 4-5 s more system CPU, 1-3 s longer).
//!
//! SQLite's own allocations still go through the C library's malloc. For
//! the batch commands glibc keeps what SQLite frees too: by default it
//! gives the top of its heap back once 128 KiB of it are free, and large
//! blocks are mapped and unmapped one by one, so the full-text index's
//! in-memory segment (tens of MB, freed at every flush) came back as fresh
//! zeroed pages for every batch of a bulk load (a 1M import: 5 s more
//! system CPU, 2.5 s longer).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (`mimalloc.h`; the
/// crate names the option after it, 16, but not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// When freed memory goes back to the system.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Purge {
    /// At once: the server, whose peaks (photo scans) must not linger.
    AtOnce,
    /// After mimalloc's delay: a batch command that reuses what it frees.
    Delayed,
}

/// Applies the options above; call before the command's work starts.
pub fn configure(purge: Purge) {
    match purge {
        Purge::AtOnce => {
            // SAFETY: mi_option_set only stores an option value (read by
            // mimalloc whenever it purges); any thread may call it at any
            // time.
            unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
        }
        Purge::Delayed => keep_c_heap(),
    }
}

/// Free memory glibc's malloc keeps at the top of its heaps, and the size
/// from which it maps a block of its own instead (glibc's largest, 32 MiB
/// on 64-bit systems; the default grows from 128 KiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const C_HEAP_KEPT: (libc::c_int, libc::c_int) = (512 << 20, 32 << 20);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_c_heap() {
    // SAFETY: mallopt only sets malloc's tunables, and is called before the
    // command opens a database (before SQLite allocates anything). A value
    // it refuses leaves its default, which is only slower.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, C_HEAP_KEPT.0);
        libc::mallopt(libc::M_MMAP_THRESHOLD, C_HEAP_KEPT.1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_c_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_pages_are_purged_at_once_by_the_server() {
        // SAFETY: reads an option value.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_ne!(delay, 0, "mimalloc's own delay");
        configure(Purge::Delayed);
        // SAFETY: reads an option value.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, delay);
        configure(Purge::AtOnce);
        // SAFETY: reads an option value.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, 0);
        // The option after it, as the crate defines it: the number is where
        // mimalloc.h puts purge_delay.
        assert_eq!(libmimalloc_sys::mi_option_use_numa_nodes - 1, MI_OPTION_PURGE_DELAY);
    }
}
