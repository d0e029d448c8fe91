//! The load suite's driver; run it through `bash benches/load.sh`, which installs the peers
//! and builds Strait first. See `strait_benches::load`.

fn main() -> anyhow::Result<()> {
    strait_benches::load::main()
}
