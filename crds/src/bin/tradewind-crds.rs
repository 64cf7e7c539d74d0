//! `tradewind-crds`: writes the CRD manifests and validates resource files against them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tradewind_crds::manifests;
use tradewind_crds::validation::{SchemaSet, load_documents};

#[derive(Parser)]
#[command(version, about = "Tradewind CRD tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write one YAML file per CRD into DIR (what `make crds` runs).
    Manifests {
        /// Output directory.
        #[arg(long, default_value = "crds/manifests")]
        out: PathBuf,
    },
    /// Validate Tradewind resources in YAML files against the CRD schemas and CEL rules.
    Validate {
        /// YAML files (multi-document allowed). Non-Tradewind kinds are listed and skipped.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Manifests { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (file, crd) in manifests::all() {
                let path = out.join(file);
                std::fs::write(&path, manifests::render(&crd)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => validate(&files),
    }
}

fn validate(files: &[PathBuf]) -> Result<ExitCode> {
    let schemas = SchemaSet::tradewind()?;
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for file in files {
        for doc in load_documents(file)? {
            let api_version = doc
                .value
                .get("apiVersion")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let kind = doc.value.get("kind").and_then(|v| v.as_str()).unwrap_or("");
            if !schemas.knows(api_version, kind) {
                skipped += 1;
                println!(
                    "skip     {}  {}  (not a Tradewind kind)",
                    file.display(),
                    doc.describe()
                );
                continue;
            }
            match schemas.validate(&doc.value) {
                Ok(()) => {
                    valid += 1;
                    println!("valid    {}  {}", file.display(), doc.describe());
                }
                Err(issues) => {
                    invalid += 1;
                    println!("INVALID  {}  {}", file.display(), doc.describe());
                    for issue in issues {
                        println!("         - {issue}");
                    }
                }
            }
        }
    }
    println!("{valid} valid, {invalid} invalid, {skipped} skipped");
    Ok(if invalid == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
