//! The examples, the deliberately broken resources and the committed CRD manifests,
//! checked against the CRDs generated from the Rust types: JSON schema with a real
//! validator, unknown fields, and every CEL rule evaluated with kube's CEL support.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tradewind_crds::manifests;
use tradewind_crds::validation::{Document, SchemaSet, load_documents};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

const EXPECT_ANNOTATION: &str = "test.tradewind.dev/expect";

fn repo_root() -> PathBuf {
    manifest_dir().parent().unwrap().to_owned()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn documents(dir: &Path) -> Vec<Document> {
    yaml_files(dir)
        .iter()
        .flat_map(|f| load_documents(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn tradewind_docs(dir: &Path, schemas: &SchemaSet) -> Vec<Document> {
    documents(dir)
        .into_iter()
        .filter(|d| {
            schemas.knows(
                d.value["apiVersion"].as_str().unwrap_or(""),
                d.value["kind"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

#[test]
fn committed_manifests_match_the_rust_types() {
    let dir = repo_root().join("crds/manifests");
    for (file, crd) in manifests::all() {
        let expected = manifests::render(&crd).unwrap();
        let committed = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("crds/manifests/{file}: {e}; run `make crds`"));
        assert!(
            committed == expected,
            "crds/manifests/{file} differs from the Rust types; run `make crds` and commit"
        );
    }
}

#[test]
fn every_example_is_valid() {
    let schemas = SchemaSet::tradewind().unwrap();
    let docs = tradewind_docs(&repo_root().join("examples"), &schemas);
    assert!(
        docs.len() >= 12,
        "expected at least 12 examples, found {}",
        docs.len()
    );
    let failures: Vec<String> = docs
        .iter()
        .filter_map(|d| {
            schemas.validate(&d.value).err().map(|issues| {
                let list: Vec<String> = issues.iter().map(ToString::to_string).collect();
                format!("{} {}: {}", d.file.display(), d.describe(), list.join("; "))
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "invalid examples:\n{}",
        failures.join("\n")
    );
}

#[test]
fn examples_cover_every_strategy_mode_and_plan_shape() {
    let schemas = SchemaSet::tradewind().unwrap();
    let docs = tradewind_docs(&repo_root().join("examples"), &schemas);
    fn of<'a>(docs: &'a [Document], kind: &'a str) -> impl Iterator<Item = &'a Document> {
        docs.iter().filter(move |d| d.value["kind"] == kind)
    }
    let of_kind = |k: &'static str| of(&docs, k);

    let types: BTreeSet<&str> = of_kind("Strategy")
        .filter_map(|d| d.value["spec"]["type"].as_str())
        .collect();
    for t in tradewind_crds::StrategyType::ALL {
        let name = serde_json::to_value(t).unwrap();
        assert!(
            types.contains(name.as_str().unwrap()),
            "no example Strategy of type {name}"
        );
    }

    let modes: BTreeSet<&str> = of_kind("TradingBot")
        .filter_map(|d| d.value["spec"]["mode"].as_str())
        .collect();
    assert_eq!(modes, BTreeSet::from(["Backtest", "Live", "Paper"]));

    // The live bot's Secret must exist among the examples, with the keys the bot names.
    let secrets: Vec<Document> = documents(&repo_root().join("examples"))
        .into_iter()
        .filter(|d| d.value["kind"] == "Secret")
        .collect();
    for bot in of_kind("TradingBot").filter(|d| d.value["spec"]["mode"] == "Live") {
        let r = &bot.value["spec"]["credentials"]["secretRef"];
        let secret = secrets
            .iter()
            .find(|s| s.value["metadata"]["name"] == r["name"])
            .unwrap_or_else(|| panic!("{}: Secret {} not in examples", bot.describe(), r["name"]));
        for key in ["apiKeyKey", "apiSecretKey"] {
            let k = r[key].as_str().unwrap();
            assert!(
                !secret.value["stringData"][k].is_null(),
                "Secret lacks key {k}"
            );
        }
    }

    // Every referenced Strategy and CommissionPlan exists among the examples.
    let names = |k: &'static str| -> BTreeSet<String> {
        of_kind(k)
            .map(|d| d.value["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (strategies, plans) = (names("Strategy"), names("CommissionPlan"));
    for bot in of_kind("TradingBot") {
        let s = bot.value["spec"]["strategyRef"]["name"].as_str().unwrap();
        assert!(
            strategies.contains(s),
            "{}: Strategy {s} missing",
            bot.describe()
        );
        if let Some(p) = bot.value["spec"]["commissionPlanRef"]["name"].as_str() {
            assert!(
                plans.contains(p),
                "{}: CommissionPlan {p} missing",
                bot.describe()
            );
        }
    }

    // One flat plan (a single tier) and one tiered plan with two referral levels.
    let plans: Vec<&Value> = of_kind("CommissionPlan")
        .map(|d| &d.value["spec"])
        .collect();
    assert!(
        plans
            .iter()
            .any(|p| p["tradingFees"]["tiers"].as_array().unwrap().len() == 1)
    );
    assert!(plans.iter().any(|p| {
        let levels: BTreeSet<u64> = p["distribution"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["recipient"] == "Referral")
            .filter_map(|s| s["level"].as_u64())
            .collect();
        p["tradingFees"]["tiers"].as_array().unwrap().len() > 1 && levels == BTreeSet::from([1, 2])
    }));
}

fn broken_docs() -> Vec<Document> {
    documents(&repo_root().join("crds/tests/broken"))
}

fn expectation(doc: &Document) -> String {
    doc.value["metadata"]["annotations"][EXPECT_ANNOTATION]
        .as_str()
        .unwrap_or_else(|| panic!("{} has no {EXPECT_ANNOTATION} annotation", doc.describe()))
        .to_owned()
}

#[test]
fn every_broken_resource_is_rejected_with_its_message() {
    let schemas = SchemaSet::tradewind().unwrap();
    let docs = broken_docs();
    assert!(
        docs.len() >= 40,
        "expected the full broken set, found {}",
        docs.len()
    );
    let mut failures = Vec::new();
    for doc in &docs {
        let expected = expectation(doc);
        match schemas.validate(&doc.value) {
            Ok(()) => failures.push(format!(
                "{}: accepted, expected {expected:?}",
                doc.describe()
            )),
            Err(issues) => {
                let got: Vec<String> = issues.iter().map(ToString::to_string).collect();
                if !got.iter().any(|m| m.contains(&expected)) {
                    failures.push(format!(
                        "{}: expected {expected:?}, got {got:?}",
                        doc.describe()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `x-kubernetes-validations` rule in a schema: (path with `[]` for list items, rule, message).
fn rule_sites(schema: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    if let Some(rules) = schema["x-kubernetes-validations"].as_array() {
        for r in rules {
            out.push((
                path.to_owned(),
                r["rule"].as_str().unwrap().to_owned(),
                r["message"].as_str().unwrap().to_owned(),
            ));
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, s) in props {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            rule_sites(s, &p, out);
        }
    }
    if schema["items"].is_object() {
        rule_sites(&schema["items"], &format!("{path}[]"), out);
    }
}

/// Whether `value` has something at `path` (a `[]` segment means "any item").
fn present(value: &Value, path: &str) -> bool {
    if path.is_empty() {
        return !value.is_null();
    }
    let (head, rest) = match path.find(['.', '[']) {
        Some(0) if path.starts_with("[]") => {
            let rest = path[2..].trim_start_matches('.');
            return value
                .as_array()
                .is_some_and(|a| a.iter().any(|v| present(v, rest)));
        }
        Some(i) => (&path[..i], path[i..].trim_start_matches('.')),
        None => (path, ""),
    };
    value.get(head).is_some_and(|v| present(v, rest))
}

/// `spec.distribution[1]` -> `spec.distribution[]`, the spelling of [`rule_sites`].
fn normalise_indices(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

fn crd_schemas() -> Vec<(String, Value)> {
    manifests::all()
        .into_iter()
        .map(|(_, crd)| {
            let schema = crd.spec.versions[0]
                .schema
                .clone()
                .unwrap()
                .open_api_v3_schema
                .unwrap();
            (crd.spec.names.kind, serde_json::to_value(schema).unwrap())
        })
        .collect()
}

#[test]
fn every_cel_rule_has_a_valid_and_an_invalid_case() {
    let schemas = SchemaSet::tradewind().unwrap();
    let mut valid = tradewind_docs(&repo_root().join("examples"), &schemas);
    valid.extend(documents(&repo_root().join("crds/tests/valid")));
    for doc in &valid {
        schemas
            .validate(&doc.value)
            .unwrap_or_else(|e| panic!("{} should be valid: {e:?}", doc.describe()));
    }
    let broken = broken_docs();
    let mut missing = Vec::new();
    let mut count = 0;
    for (kind, schema) in crd_schemas() {
        let mut sites = Vec::new();
        rule_sites(&schema, "", &mut sites);
        count += sites.len();
        for (path, rule, _) in &sites {
            let exercised = valid
                .iter()
                .any(|d| d.value["kind"] == kind && present(&d.value, path));
            if !exercised {
                missing.push(format!(
                    "{kind} {path}: no valid object reaches rule {rule:?}"
                ));
            }
        }
        // A rule shared by many fields (e.g. the decimal format) needs one broken case at
        // any of its sites; the case's path must be one of them and its message the rule's.
        let rules: BTreeSet<(&str, &str)> = sites
            .iter()
            .map(|(_, r, m)| (r.as_str(), m.as_str()))
            .collect();
        for (rule, message) in rules {
            let rejected = broken.iter().filter(|d| d.value["kind"] == kind).any(|d| {
                let expected = expectation(d);
                let (path, text) = expected.split_once(": ").unwrap_or(("", &expected));
                let path = normalise_indices(path);
                message.contains(text) && sites.iter().any(|(p, r, _)| r == rule && *p == path)
            });
            if !rejected {
                missing.push(format!(
                    "{kind}: no broken case expects {message:?} (rule {rule:?})"
                ));
            }
        }
    }
    assert!(
        count >= 30,
        "expected the full rule set, found {count} rules"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Fields a rule iterates over (`self.tiers.map(...)`) or matches a regex on.
fn iterated_and_matched(rule: &str) -> (Vec<Vec<String>>, bool) {
    let mut lists = Vec::new();
    for mac in [".map(", ".filter(", ".exists(", ".all(", ".exists_one("] {
        for (pos, _) in rule.match_indices(mac) {
            let chain: String = rule[..pos]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if let Some(path) = chain.strip_prefix("self.") {
                lists.push(path.split('.').map(str::to_owned).collect());
            }
        }
    }
    (lists, rule.contains("self.matches("))
}

/// The API server refuses a CRD whose rules' estimated cost exceeds its budget; it
/// estimates unbounded lists and strings at the maximum request size. So every list a
/// rule iterates needs maxItems and every string a rule matches needs maxLength.
#[test]
fn cel_rules_only_walk_bounded_lists_and_strings() {
    let mut checked = 0;
    for (kind, schema) in crd_schemas() {
        let mut nodes = Vec::new();
        collect_rule_nodes(&schema, "", &mut nodes);
        for (path, node) in nodes {
            for rule in node["x-kubernetes-validations"].as_array().unwrap() {
                let rule = rule["rule"].as_str().unwrap();
                let (lists, matches) = iterated_and_matched(rule);
                for list in lists {
                    let field = list
                        .iter()
                        .fold(node, |n, seg| &n["properties"][seg.as_str()]);
                    assert!(
                        field["maxItems"].is_u64(),
                        "{kind} {path}: rule {rule:?} iterates {} which has no maxItems",
                        list.join(".")
                    );
                    checked += 1;
                }
                if matches {
                    assert!(
                        node["maxLength"].is_u64(),
                        "{kind} {path}: rule {rule:?} matches a string with no maxLength"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} bounded fields checked");
}

fn collect_rule_nodes<'a>(schema: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    if schema["x-kubernetes-validations"].is_array() {
        out.push((path.to_owned(), schema));
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, s) in props {
            collect_rule_nodes(s, &format!("{path}.{k}"), out);
        }
    }
    if schema["items"].is_object() {
        collect_rule_nodes(&schema["items"], &format!("{path}[]"), out);
    }
}
