//! `roster`: see `roster --help`.

fn main() -> anyhow::Result<()> {
    roster::allocator::configure();
    roster::cli::run()
}
