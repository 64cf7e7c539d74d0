//! The CI/CD definitions (ci/azure-pipelines.yml and .github/workflows/deploy.yml) parse
//! and name only what exists: variables, stages, jobs, steps, make targets, cargo
//! packages, twctl subcommands and flags, repository files; and both do the same steps.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    Path::new(&manifest).join("../..")
}

fn load(rel: &str) -> (String, Value) {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let value: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (text, value)
}

/// Every string in a document.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The text between each `open` and the next `close`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(close) else { break };
        out.push(after[..j].trim());
        rest = &after[j + close.len()..];
    }
    out
}

/// The words after `command` on every line that runs it.
fn invocations<'a>(scripts: &'a [String], command: &str) -> Vec<Vec<&'a str>> {
    scripts
        .iter()
        .flat_map(|s| s.split('\n').collect::<Vec<_>>())
        .flat_map(|l| l.split("&&"))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words
                .iter()
                .position(|w| *w == command || w.ends_with(&format!("/{command}")))?;
            Some(words[at + 1..].to_vec())
        })
        .collect()
}

fn make_targets() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("Makefile"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .collect()
}

fn workspace_packages() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![root()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() && !name.starts_with('.') && name != "target" && name != "node_modules" {
                dirs.push(p);
            } else if name == "Cargo.toml" {
                let text = std::fs::read_to_string(&p).unwrap();
                if let Some(n) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("name = \""))
                    .and_then(|l| l.strip_suffix('"'))
                {
                    out.insert(n.to_string());
                }
            }
        }
    }
    out
}

/// Checks shared by both files: make targets, cargo packages, twctl's commands and flags,
/// helm's atomic upgrade and rollback, paths in the repository.
fn check_commands(file: &str, scripts: &[String]) {
    let targets = make_targets();
    for words in invocations(scripts, "make") {
        let t = words.first().expect("make names a target");
        assert!(
            targets.contains(*t),
            "{file}: make target {t} does not exist"
        );
    }
    let packages = workspace_packages();
    for words in invocations(scripts, "cargo") {
        for pair in words.windows(2).filter(|w| w[0] == "-p") {
            assert!(packages.contains(pair[1]), "{file}: no package {}", pair[1]);
        }
    }
    // twctl: only subcommands and flags the real binary's help lists.
    let twctl = invocations(scripts, "twctl");
    assert!(!twctl.is_empty(), "{file}: twctl env apply is not run");
    for words in twctl {
        let sub: Vec<&str> = words
            .iter()
            .take_while(|w| !w.starts_with('-'))
            .copied()
            .collect();
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_twctl"))
            .args(&sub)
            .arg("--help")
            .output()
            .expect("twctl runs");
        assert!(
            help.status.success(),
            "{file}: twctl {sub:?} is not a command"
        );
        let help = String::from_utf8_lossy(&help.stdout);
        for flag in words.iter().filter(|w| w.starts_with('-')) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag},")),
                "{file}: twctl {} has no flag {flag}",
                sub.join(" ")
            );
        }
    }
    // Shell line continuations joined, so a command is one line.
    let joined: Vec<String> = scripts.iter().map(|s| s.replace("\\\n", " ")).collect();
    let helm = invocations(&joined, "helm");
    // The longest `helm upgrade` is the command (step names mention it too).
    let upgrade = helm
        .iter()
        .filter(|w| w.first() == Some(&"upgrade"))
        .max_by_key(|w| w.len())
        .unwrap_or_else(|| panic!("{file}: no helm upgrade"));
    for flag in ["--install", "--atomic", "-f"] {
        assert!(
            upgrade.contains(&flag),
            "{file}: helm upgrade without {flag}"
        );
    }
    let chart = upgrade
        .iter()
        .find(|w| w.starts_with("charts/"))
        .expect("a chart path");
    assert!(
        root().join(chart).join("Chart.yaml").exists(),
        "{file}: {chart}"
    );
    assert!(
        helm.iter().any(|w| w.first() == Some(&"rollback")),
        "{file}: no helm rollback"
    );
    // `--set key=...` names values the chart has.
    let values = std::fs::read_to_string(root().join(chart).join("values.yaml")).unwrap();
    let values: Value = serde_saphyr::from_str(&values).unwrap();
    for pair in upgrade.windows(2).filter(|w| w[0] == "--set") {
        let key = pair[1].split('=').next().unwrap();
        let pointer = format!("/{}", key.replace('.', "/"));
        assert!(
            values.pointer(&pointer).is_some(),
            "{file}: chart has no value {key}"
        );
    }
    // The images make builds are the ones pushed.
    let pushed = scripts
        .iter()
        .any(|s| s.contains("buildah --storage-driver vfs push"));
    assert!(pushed, "{file}: images are not pushed with buildah");
    let dockerfile = std::fs::read_to_string(root().join("images/Dockerfile")).unwrap();
    for image in ["operator", "bot", "platform"] {
        assert!(
            dockerfile.contains(&format!(" AS {image}")),
            "images/Dockerfile has no {image} stage"
        );
    }
}

#[test]
fn azure_pipelines_names_only_what_exists() {
    let file = "ci/azure-pipelines.yml";
    let (text, doc) = load(file);
    let mut declared: BTreeSet<String> = doc["variables"]
        .as_array()
        .expect("variables as a list")
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    // Predefined variables the file uses.
    declared.extend(["Build.SourceVersion", "Pipeline.Workspace"].map(String::from));
    for used in between(&text, "$(", ")") {
        // Command substitution in bash ($(python3 ...), $(sed ...)) is not a macro.
        if used.contains(' ') || used.contains('\'') {
            continue;
        }
        assert!(
            declared.contains(used),
            "{file}: variable {used} is not declared"
        );
    }
    let stages = doc["stages"].as_array().unwrap();
    let names: BTreeSet<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    for s in stages {
        if let Some(d) = s.get("dependsOn").and_then(Value::as_str) {
            assert!(
                names.contains(d),
                "{file}: stage {} depends on unknown {d}",
                s["stage"]
            );
        }
        assert!(
            s["jobs"].as_array().is_some_and(|j| !j.is_empty()),
            "{file}: empty stage"
        );
    }
    // Artifacts downloaded are published.
    let mut all = Vec::new();
    strings(&doc, &mut all);
    let mut published = BTreeSet::new();
    let mut downloaded = BTreeSet::new();
    fn walk(v: &Value, published: &mut BTreeSet<String>, downloaded: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if m.contains_key("publish") {
                    published.insert(m["artifact"].as_str().unwrap().to_string());
                }
                if m.contains_key("download") {
                    downloaded.insert(m["artifact"].as_str().unwrap().to_string());
                }
                m.values().for_each(|x| walk(x, published, downloaded));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, published, downloaded)),
            _ => {}
        }
    }
    walk(&doc, &mut published, &mut downloaded);
    assert!(
        downloaded.is_subset(&published),
        "{file}: {downloaded:?} not published"
    );
    let scripts: Vec<String> = all
        .iter()
        .map(|s| {
            s.replace("$(TAG)", "TAG")
                .replace("$(SPEC)", "examples/environments/dev.yaml")
        })
        .map(|s| s.replace("$(OUTPUTS)", "twctl-outputs/dev"))
        .collect();
    check_commands(file, &scripts);
    assert!(root().join("examples/environments/dev.yaml").exists());
}

#[test]
fn github_workflow_names_only_what_exists() {
    let file = ".github/workflows/deploy.yml";
    let (text, doc) = load(file);
    let jobs = doc["jobs"].as_object().expect("jobs");
    for (name, job) in jobs {
        if let Some(n) = job.get("needs").and_then(Value::as_str) {
            assert!(jobs.contains_key(n), "{file}: job {name} needs unknown {n}");
        }
        assert!(job["steps"].as_array().is_some_and(|s| !s.is_empty()));
    }
    let env: BTreeSet<&str> = doc["env"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for expr in between(&text, "${{", "}}") {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
            if let Some(v) = word.strip_prefix("env.") {
                assert!(env.contains(v), "{file}: env.{v} is not declared");
            } else if let Some(v) = word.strip_prefix("vars.") {
                // Repository variables a person sets: the README must say so.
                assert!(
                    readme.contains(v),
                    "{file}: vars.{v} is not documented in README.md"
                );
            } else if let Some(rest) = word.strip_prefix("needs.") {
                let job = rest.split('.').next().unwrap();
                assert!(jobs.contains_key(job), "{file}: needs.{job} is not a job");
            } else if let Some(v) = word.strip_prefix("inputs.") {
                assert!(
                    doc.pointer(&format!("/on/workflow_dispatch/inputs/{v}"))
                        .is_some(),
                    "{file}: inputs.{v} is not declared"
                );
            }
            assert!(
                !word.starts_with("secrets."),
                "{file}: no stored secret is needed"
            );
        }
    }
    // Shell variables the scripts read are the workflow's env.
    let mut all = Vec::new();
    strings(&doc, &mut all);
    for s in &all {
        for var in ["ENVIRONMENT", "RELEASE", "NAMESPACE", "TAG"] {
            if s.contains(&format!("${var}")) || s.contains(&format!("\"${var}")) {
                assert!(env.contains(var));
            }
        }
    }
    let scripts: Vec<String> = all
        .iter()
        .map(|s| s.replace("$ENVIRONMENT", "dev").replace("$TAG", "TAG"))
        .collect();
    check_commands(file, &scripts);
}

#[test]
fn both_pipelines_do_the_same_steps() {
    let key_steps = |file: &str| -> Vec<&'static str> {
        let (text, _) = load(file);
        [
            "make prereqs",
            "cargo nextest run --workspace",
            "make lint",
            "make images",
            "twctl env apply",
            "az acr login",
            "buildah --storage-driver vfs login",
            "buildah --storage-driver vfs push",
            "kubelogin convert-kubeconfig",
            "helm upgrade --install",
            "--atomic",
            "rollout status",
            "helm rollback",
        ]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
    };
    let azure = key_steps("ci/azure-pipelines.yml");
    assert_eq!(azure.len(), 13, "{azure:?}");
    assert_eq!(azure, key_steps(".github/workflows/deploy.yml"));
}
