//! `roster`: see `roster --help`.

fn main() -> anyhow::Result<()> {
    roster::allocator::limit_arenas();
    roster::cli::run()
}
