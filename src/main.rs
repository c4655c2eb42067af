//! `roster`: see `roster --help`.

/// mimalloc instead of glibc's allocator, which gives each thread that allocates its own heap
/// (up to eight per core) and keeps their freed memory: a 1,000,000-row import through the HTTP
/// workers, the blocking pool and the import worker grew past 300 MiB of RSS, most of it in a
/// dozen such heaps (docs/benchmarks-import.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    roster::cli::run()
}
