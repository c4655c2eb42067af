//! `roster`: see `roster --help`.

fn main() -> anyhow::Result<()> {
    roster::cli::run()
}
