//! Allocator settings for a service that handles multi-megabyte photos.
//!
//! glibc raises its mmap threshold each time a large mmapped block is
//! freed (up to 32 MiB), so after a few photos every 4-12 MiB image buffer
//! comes from the heap arenas instead, and freed arena memory is rarely
//! returned to the system: resident memory climbs with each burst of
//! uploads and stays there. A fixed threshold keeps large buffers in their
//! own mappings, returned to the system as soon as they are freed.

/// Large allocations (photo bodies, decoded pixels) at or above this size
/// are always their own mapping.
const MMAP_THRESHOLD: i32 = 1024 * 1024;
/// Free memory at the top of a heap arena kept for reuse instead of being
/// returned to the system. Fixing the mmap threshold also fixes this one at
/// glibc's 128 KiB, and a search's working sets (a bitset of 128 KiB per
/// set at a million recalls, `storage/src/recalls/index/bits.rs`) were
/// returned and faulted back in on every request: 250 page faults per
/// search. Blocks above the mmap threshold are unaffected.
const TRIM_THRESHOLD: i32 = 64 * 1024 * 1024;

/// Applies the settings; a no-op where the allocator is not glibc's.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; it is safe to call at
    // any time, from any thread, and a refusal (return 0) changes nothing.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
