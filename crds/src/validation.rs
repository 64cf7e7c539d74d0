//! Client-side validation of Tradewind resources against the generated CRDs: the
//! structural schema with a real JSON-schema validator, unknown fields the API server
//! would prune, and the CEL `x-kubernetes-validations` rules evaluated with kube's CEL
//! support (`kube-cel`). Used by tests, `tradewind-bot backtest` and `tradewind-crds validate`.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use crate::manifests;

/// One reason a resource is invalid, at a JSON path such as `spec.grid.levels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Dotted path to the offending field; empty for the whole object.
    pub path: String,
    /// Why it is invalid.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Errors building validators from CRDs.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A CRD has no served version with an openAPIV3Schema.
    #[error("CRD {crd} has no version with an openAPIV3Schema")]
    NoSchema {
        /// CRD name.
        crd: String,
    },
    /// The schema is not a valid JSON schema.
    #[error("CRD {crd} version {version}: the schema is not a valid JSON schema: {reason}")]
    BadSchema {
        /// CRD name.
        crd: String,
        /// API version.
        version: String,
        /// Why.
        reason: String,
    },
    /// A CEL rule does not compile.
    #[error("CRD {crd} version {version}: CEL rule does not compile: {reason}")]
    BadRule {
        /// CRD name.
        crd: String,
        /// API version.
        version: String,
        /// Why.
        reason: String,
    },
}

struct KindValidator {
    api_version: String,
    kind: String,
    schema: Value,
    json: jsonschema::Validator,
    cel: kube_cel::CompiledSchema,
}

/// The Tradewind kinds a document may be.
const KINDS: [&str; 3] = ["TradingBot", "Strategy", "CommissionPlan"];

/// Why a document that is not a known Tradewind kind looks as if it was meant to be one
/// (its apiVersion is in the `tradewind.dev` group, or its kind is a Tradewind kind or
/// one or two letters from one) — a typo that would otherwise be skipped silently.
/// `None` for other resources (a Secret, a ConfigMap), which tools may skip.
pub fn near_miss(api_version: &str, kind: &str) -> Option<String> {
    let want = format!("{}/{}", crate::GROUP, crate::VERSION);
    let group = api_version.split('/').next().unwrap_or_default();
    let close = KINDS
        .iter()
        .find(|k| edit_distance(&k.to_ascii_lowercase(), &kind.to_ascii_lowercase()) <= 2);
    match close {
        Some(k) if *k == kind => Some(format!(
            "apiVersion {api_version:?} is not {want:?} (kind {kind} is a Tradewind kind)"
        )),
        Some(k) => Some(format!(
            "kind {kind:?} is not a Tradewind kind; did you mean {k}? (apiVersion {api_version:?})"
        )),
        None if group.contains("tradewind") => Some(format!(
            "{api_version:?}/{kind:?} is not a Tradewind kind; the kinds are {} in {want:?}",
            KINDS.join(", ")
        )),
        None => None,
    }
}

/// Levenshtein distance (short strings only: kinds).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// Validators for a set of CRDs, keyed by apiVersion and kind.
pub struct SchemaSet {
    kinds: Vec<KindValidator>,
    cel: kube_cel::Validator,
}

impl fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaSet")
            .field(
                "kinds",
                &self.kinds.iter().map(|k| &k.kind).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SchemaSet {
    /// Validators for Tradewind's own CRDs, generated from the Rust types.
    pub fn tradewind() -> Result<Self, SetupError> {
        let crds: Vec<_> = manifests::all().into_iter().map(|(_, crd)| crd).collect();
        Self::from_crds(&crds)
    }

    /// Validators for every served version of the given CRDs.
    pub fn from_crds(crds: &[CustomResourceDefinition]) -> Result<Self, SetupError> {
        let mut kinds = Vec::new();
        for crd in crds {
            let crd_name = crd.metadata.name.clone().unwrap_or_default();
            let mut found = false;
            for version in crd.spec.versions.iter().filter(|v| v.served) {
                let Some(schema) = version
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                else {
                    continue;
                };
                found = true;
                let schema = serde_json::to_value(schema).map_err(|e| SetupError::BadSchema {
                    crd: crd_name.clone(),
                    version: version.name.clone(),
                    reason: e.to_string(),
                })?;
                // OpenAPI v3.0 schemas are a superset of draft 4 minus a few keywords we
                // do not emit; x-kubernetes-* extensions are ignored by the JSON validator.
                let json = jsonschema::draft4::new(&schema).map_err(|e| SetupError::BadSchema {
                    crd: crd_name.clone(),
                    version: version.name.clone(),
                    reason: e.to_string(),
                })?;
                let cel = kube_cel::compile_schema(&schema);
                if let Some(reason) = first_compilation_error(&cel) {
                    return Err(SetupError::BadRule {
                        crd: crd_name,
                        version: version.name.clone(),
                        reason,
                    });
                }
                kinds.push(KindValidator {
                    api_version: format!("{}/{}", crd.spec.group, version.name),
                    kind: crd.spec.names.kind.clone(),
                    schema,
                    json,
                    cel,
                });
            }
            if !found {
                return Err(SetupError::NoSchema { crd: crd_name });
            }
        }
        Ok(Self {
            kinds,
            cel: kube_cel::Validator::new(),
        })
    }

    /// Whether this set validates the given apiVersion and kind.
    pub fn knows(&self, api_version: &str, kind: &str) -> bool {
        self.find(api_version, kind).is_some()
    }

    fn find(&self, api_version: &str, kind: &str) -> Option<&KindValidator> {
        self.kinds
            .iter()
            .find(|k| k.api_version == api_version && k.kind == kind)
    }

    /// Validates one object as the API server would on create: metadata.name, schema,
    /// unknown fields, then CEL rules. Returns every issue found, not just the first.
    pub fn validate(&self, object: &Value) -> Result<(), Vec<Issue>> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let Some(v) = self.find(api_version, kind) else {
            return Err(vec![Issue {
                path: String::new(),
                message: format!("unknown apiVersion/kind {api_version:?}/{kind:?}"),
            }]);
        };
        let mut issues = Vec::new();
        check_name(object, &mut issues);
        for error in v.json.iter_errors(object) {
            issues.push(Issue {
                path: pointer_to_path(&error.instance_path().to_string()),
                message: error.to_string(),
            });
        }
        unknown_fields(&v.schema, object, "", true, &mut issues);
        // CEL rules assume a schema-valid object, as on the API server.
        if issues.is_empty()
            && let Err(errors) = self.cel.validate_compiled(&v.cel, object, None)
        {
            for e in errors.into_vec() {
                issues.push(Issue {
                    path: e.field_path.clone(),
                    message: e.message.clone(),
                });
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }
}

fn first_compilation_error(schema: &kube_cel::CompiledSchema) -> Option<String> {
    if let Some(e) = schema.compilation_errors().first() {
        return Some(e.to_string());
    }
    let children = schema
        .properties
        .values()
        .chain(schema.items.as_deref())
        .chain(schema.additional_properties.as_deref());
    children.into_iter().find_map(first_compilation_error)
}

fn check_name(object: &Value, issues: &mut Vec<Issue>) {
    let name = object.pointer("/metadata/name").and_then(Value::as_str);
    match name {
        None => issues.push(Issue {
            path: "metadata.name".into(),
            message: "is required".into(),
        }),
        Some(n) if !is_dns1123_subdomain(n) => issues.push(Issue {
            path: "metadata.name".into(),
            message: format!(
                "{n:?} must be a lowercase RFC 1123 subdomain: at most 253 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit"
            ),
        }),
        Some(_) => {}
    }
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `/spec/tiers/0/makerBps` -> `spec.tiers[0].makerBps`, the spelling CEL errors use.
fn pointer_to_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path = join(&path, &segment.replace("~1", "/").replace("~0", "~"));
        }
    }
    path
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Fields the schema does not declare. The API server prunes them silently, which hides
/// typos such as `fastPeriods`; like `kubectl --validate=strict` we report them.
fn unknown_fields(schema: &Value, value: &Value, path: &str, root: bool, issues: &mut Vec<Issue>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in map {
                // The API server adds apiVersion, kind and ObjectMeta to every CRD schema
                // itself; metadata is checked by its own rules, not the CRD's.
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let child_path = join(path, key);
                match (props.and_then(|p| p.get(key)), additional) {
                    (Some(s), _) | (None, Some(s)) => {
                        unknown_fields(s, child, &child_path, false, issues)
                    }
                    (None, None) if props.is_some() => issues.push(Issue {
                        path: child_path,
                        message: "unknown field (not in the schema; the API server would drop it)"
                            .into(),
                    }),
                    (None, None) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(s, item, &format!("{path}[{i}]"), false, issues);
                }
            }
        }
        _ => {}
    }
}

/// One YAML document read from a file.
#[derive(Clone, Debug)]
pub struct Document {
    /// File it came from.
    pub file: PathBuf,
    /// Position in the file, from 1.
    pub index: usize,
    /// The document as JSON.
    pub value: Value,
}

impl Document {
    /// `Kind/name` for messages.
    pub fn describe(&self) -> String {
        let kind = self
            .value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let name = self
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        format!("{kind}/{name}")
    }
}

/// Errors reading resource files.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{file}: invalid YAML: {reason}")]
    Yaml {
        /// The file.
        file: PathBuf,
        /// Parser message, with line and column.
        reason: String,
    },
}

/// Reads every non-empty YAML document in `file`.
pub fn load_documents(file: &Path) -> Result<Vec<Document>, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|source| LoadError::Io {
        file: file.to_owned(),
        source,
    })?;
    parse_documents(file, &text)
}

/// Parses every non-empty YAML document in `text`, attributing errors to `file`.
pub fn parse_documents(file: &Path, text: &str) -> Result<Vec<Document>, LoadError> {
    let values: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| LoadError::Yaml {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(values
        .into_iter()
        .filter(|v| !v.is_null())
        .enumerate()
        .map(|(i, value)| Document {
            file: file.to_owned(),
            index: i + 1,
            value,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns1123_subdomain("btc-sma.prod"));
        assert!(!is_dns1123_subdomain("BTC"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn pointer_paths() {
        assert_eq!(
            pointer_to_path("/spec/tiers/0/makerBps"),
            "spec.tiers[0].makerBps"
        );
        assert_eq!(pointer_to_path(""), "");
    }
}
