//! `twctl`: provisions Tradewind environments on Azure.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("twctl: not built yet")
}
