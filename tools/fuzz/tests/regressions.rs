//! Every target over its corpus (seeds and every input that once crashed something),
//! then over deterministic mutations of it: a bounded fuzz run on every `make test`.
//! Longer, coverage-guided runs: `make fuzz`.

use std::path::PathBuf;

use tradewind_fuzz::TARGETS;

/// Mutations per corpus file (bit flips, truncations, splices, byte runs).
const MUTATIONS: usize = 1_000;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect()
}

/// xorshift64*: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => v.truncate(rng.below(v.len())),
            2 => {
                let i = rng.below(v.len() + 1);
                let from = rng.below(other.len() + 1);
                let to = from + rng.below(other.len() - from + 1);
                v.splice(i..i, other[from..to].iter().copied());
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                // Digits and separators that make numbers huge, negative or malformed.
                let pick = b"9999999999999999999999-0.e+,\"/\\\n:{}[]\xff";
                v[i] = pick[rng.below(pick.len())];
            }
            4 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(64);
                let b = v[i];
                v.splice(i..i, std::iter::repeat_n(b, n));
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
        }
    }
    v
}

#[test]
fn every_target_survives_its_corpus_and_mutations_of_it() {
    for (name, target) in TARGETS {
        let files = corpus(name);
        assert!(!files.is_empty(), "corpus/{name} is empty");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
        for (i, (path, bytes)) in files.iter().enumerate() {
            let run = std::panic::catch_unwind(|| target(bytes));
            assert!(run.is_ok(), "{name}: {} panics", path.display());
            let other = &files[(i + 1) % files.len()].1;
            for m in 0..MUTATIONS {
                let input = mutate(&mut rng, bytes, other);
                if std::panic::catch_unwind(|| target(&input)).is_err() {
                    let out = std::env::temp_dir().join(format!("{name}-crash-{i}-{m}"));
                    let _ = std::fs::write(&out, &input);
                    panic!(
                        "{name}: a mutation of {} panics; input saved to {} (add it to corpus/{name}/)",
                        path.display(),
                        out.display()
                    );
                }
            }
        }
    }
}

/// The `bot_json` seed is the demo bot (as a Paper bot) resolved as the operator writes it, and the
/// worker accepts it (so the mutations start from a valid configuration).
/// `TRADEWIND_FUZZ_UPDATE=1` rewrites it after a change to the resources.
#[test]
fn bot_json_seed_is_the_resolved_demo_bot() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let yaml = root.join("examples/demo/btc-scalper.yaml");
    let loaded = tradewind_crds::bundle::load(&[yaml], None).expect("the demo bot resolves");
    let mut config = loaded.config;
    config.bot.mode = tradewind_crds::Mode::Paper;
    let text = serde_json::to_string_pretty(&config).expect("json") + "\n";
    let seed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/bot_json/btc-scalper.json");
    if std::env::var_os("TRADEWIND_FUZZ_UPDATE").is_some() {
        std::fs::write(&seed, &text).expect("write seed");
    }
    assert_eq!(
        std::fs::read_to_string(&seed).unwrap_or_default(),
        text,
        "{} is stale: rerun with TRADEWIND_FUZZ_UPDATE=1",
        seed.display()
    );
    let path = std::path::Path::new("bot.json");
    let cfg = tradewind_bot::run::config::parse(path, &text).expect("the seed parses");
    tradewind_bot::run::config::check(path, &cfg).expect("the seed is a runnable bot");
}
