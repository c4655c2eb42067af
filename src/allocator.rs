//! The process's memory allocators, tuned so that a long CSV import is fast and its resident
//! memory stays flat instead of creeping up with the file (docs/benchmarks-import.md).
//!
//! Rust's allocations go to mimalloc: an import allocates and frees a few JSON documents per row,
//! and glibc malloc spent ~30% of the server's CPU on it (profile of a 20,000-row import); with
//! mimalloc the same import needs ~20-30% less CPU. mimalloc returns freed pages after 100 ms
//! and commits its arenas on demand (`.cargo/config.toml`), so pages an import freed leave the
//! resident set (with its defaults, a 1 s delay and eagerly committed arenas, a 100,000-row
//! import peaked at 138 MiB instead of ~100).
//!
//! The C libraries (SQLite's page caches, libpq) still allocate with glibc malloc, which keeps
//! freed small blocks on the free lists of the arena that allocated them (up to 8 arenas per core,
//! one per thread as threads contend) and gives pages back only from the top of the main heap.
//! So glibc gets at most two arenas and is trimmed after each import batch (measured with glibc
//! for everything: a 100,000-row import went from 105 to 92 MiB with the trim, to 72–78 with the
//! two arenas).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option number for the purge delay (mimalloc.h `mi_option_e`; the crate does not
/// name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed pages before returning them, in ms. Measured on the 2-core VM,
/// 100,000-row import's peak RSS / a 20,000-row preview's CPU: 0 ms 91 MiB / 5.0 s (a syscall
/// per freed page), 100 ms 101 MiB / 3.9 s, its default of 1,000 ms 115 MiB / 4.5 s.
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// glibc's `mallopt` parameter for the most arenas (malloc.h).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_ARENA_MAX: std::ffi::c_int = -8;

/// glibc arenas the process may use: measured on the 2-core VM (a 100,000-row import peaked at
/// 72–78 MiB with 2, 92 MiB with glibc's default of 8 per core).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: std::ffi::c_int = 2;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's allocator functions have no safe binding")]
unsafe extern "C" {
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// Sets the allocators up: mimalloc's purge delay is [`PURGE_DELAY_MS`], unless the environment
/// chose (`MIMALLOC_PURGE_DELAY`); glibc gets at most
/// [`ARENAS`] arenas, unless the environment chose (`MALLOC_ARENA_MAX`, or `arena_max` in
/// `GLIBC_TUNABLES`). Called first thing in `main`, before any thread starts: arenas made before
/// the call stay.
#[expect(unsafe_code, reason = "the allocators' option setters have no safe binding")]
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set takes two integers and no pointer; the delay is any number of ms.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tuned = std::env::var_os("MALLOC_ARENA_MAX").is_some()
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|tunables| tunables.contains("arena_max"));
        if !tuned {
            // SAFETY: mallopt takes two integers and no pointer; M_ARENA_MAX accepts any positive value.
            unsafe {
                mallopt(M_ARENA_MAX, ARENAS);
            }
        }
    }
}

/// Returns the allocators' free pages to the system. glibc's trim locks each arena in turn, so
/// it is called between import batches, about once a second at most, not per row.
#[expect(unsafe_code, reason = "the allocators' collection functions have no safe binding")]
pub fn release_free_memory() {
    // SAFETY: mi_collect takes no pointer and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(false) };
    // SAFETY: malloc_trim takes no pointer and has no precondition; it is thread-safe (it takes
    // each arena's lock).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        malloc_trim(0);
    }
}
