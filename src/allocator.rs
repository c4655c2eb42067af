//! The process's memory allocator (glibc malloc on Linux): fewer arenas, and freed memory handed
//! back to the operating system between import batches, so that a long CSV import's resident
//! memory stays flat instead of creeping up with the file (docs/benchmarks-import.md).
//!
//! glibc keeps freed small blocks on the free lists of the arena that allocated them (up to 8
//! arenas per core, one per thread as threads contend), and gives pages back only from the top of
//! the main heap. Measured with `malloc_stats()` on a 1,000,000-row import at row 250,000: 16
//! arenas held 108 MB from the system with 47 MB in use, and RSS kept rising by ~10 MiB per
//! 100,000 rows. Trimming after each batch brought a 100,000-row import from 105 to 92 MiB;
//! two arenas as well, to 72–78 MiB.

/// glibc's `mallopt` parameter for the most arenas (malloc.h).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_ARENA_MAX: std::ffi::c_int = -8;

/// Arenas the process may use: measured on the 2-core VM (a 100,000-row import peaked at 72–78
/// MiB with 2, 92 MiB with glibc's default of 8 per core). Fewer arenas means more contention
/// between threads allocating at once; not measured for the SCIM API's throughput yet.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: std::ffi::c_int = 2;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's allocator functions have no safe binding")]
unsafe extern "C" {
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// Caps the allocator's arenas at [`ARENAS`], unless the environment already chose
/// (`MALLOC_ARENA_MAX`, or `arena_max` in `GLIBC_TUNABLES`). Called first thing in `main`, before
/// any thread starts: arenas made before the call stay.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "mallopt is a glibc function without a safe binding")]
pub fn limit_arenas() {
    let tuned = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|tunables| tunables.contains("arena_max"));
    if !tuned {
        // SAFETY: mallopt takes two integers and no pointer; M_ARENA_MAX accepts any positive value.
        unsafe {
            mallopt(M_ARENA_MAX, ARENAS);
        }
    }
}

/// Returns the allocator's free pages to the system. It locks each arena in turn, so it is called
/// between import batches, about once a second at most, not per row.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "malloc_trim is a glibc function without a safe binding")]
pub fn release_free_memory() {
    // SAFETY: malloc_trim takes no pointer and has no precondition; it is thread-safe (it takes
    // each arena's lock).
    unsafe {
        malloc_trim(0);
    }
}

/// Other allocators (musl, macOS, Windows) keep no such per-thread free lists: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// See [`limit_arenas`].
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
