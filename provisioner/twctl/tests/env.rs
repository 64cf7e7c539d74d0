//! The real `twctl` binary against the Azure fake (tests/azure): plan, apply and destroy of
//! both example environments, zero writes on a second apply, plan exit codes, throttling
//! and transient failures, a failed long-running operation, names refused before any
//! request, an interrupted apply that resumes, destroy confirmation, no leaked secret.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, TestServer};

static DIRS: AtomicU32 = AtomicU32::new(0);

struct Fixture {
    fake: TestServer,
    dir: PathBuf,
}

fn example(name: &str) -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    Path::new(&manifest)
        .join("../../examples/environments")
        .join(format!("{name}.yaml"))
}

impl Fixture {
    fn start() -> Self {
        let fake = TestServer::start().expect("fake starts");
        let dir = std::env::temp_dir().join(format!(
            "twctl-env-test-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        fake.write_ca(&dir.join("ca.pem")).unwrap();
        Self { fake, dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_twctl"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env("TRADEWIND_AZURE_AUTH", "client-secret")
            .env("AZURE_TENANT_ID", DEFAULT_TENANT)
            .env("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("TRADEWIND_ARM_ENDPOINT", self.fake.arm_endpoint())
            .env("AZURE_AUTHORITY_HOST", self.fake.authority_host())
            .env("TRADEWIND_EXTRA_CA_FILE", self.dir.join("ca.pem"))
            .env("TWCTL_POLL_INTERVAL_MS", "10")
            .env_remove("TWCTL_LOG")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("twctl runs");
        Run::from(out)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // Whatever happened, the client secret is never printed.
        assert!(
            !run.stdout.contains(DEFAULT_CLIENT_SECRET)
                && !run.stderr.contains(DEFAULT_CLIENT_SECRET),
            "client secret leaked"
        );
        run
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn outcomes(report: &Value) -> HashMap<String, String> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn full_cycle(name: &str) {
    let fx = Fixture::start();
    let spec = example(name);
    let spec = spec.to_str().unwrap();
    let out_dir = fx.dir.join("out");
    let out_dir = out_dir.to_str().unwrap();

    // Nothing exists: plan says everything is created, exit code 2.
    let plan = fx
        .run(&["env", "plan", "-f", spec, "--output", "json"])
        .expect(2)
        .json();
    let steps = plan["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["action"] == "create"), "{plan:#}");
    let total = steps.len();
    assert_eq!(fx.fake.writes(), 0, "plan only reads");

    let apply = fx
        .run(&[
            "env",
            "apply",
            "-f",
            spec,
            "--outputs",
            out_dir,
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    assert_eq!(apply["summary"]["created"], total as u64, "{apply:#}");
    assert!(
        outcomes(&apply).values().all(|o| o == "created"),
        "{apply:#}"
    );

    // Outputs: the Helm values the chart consumes, with the identities' real client IDs.
    let helm: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(fx.dir.join("out/helm-values.yaml")).unwrap(),
    )
    .unwrap();
    let outputs: Value =
        serde_json::from_str(&std::fs::read_to_string(fx.dir.join("out/outputs.json")).unwrap())
            .unwrap();
    let worker_id = outputs["resourceIds"]["workerIdentity"].as_str().unwrap();
    let operator_id = outputs["resourceIds"]["operatorIdentity"].as_str().unwrap();
    let worker = fx.fake.resource(worker_id).expect("worker identity exists");
    let operator = fx
        .fake
        .resource(operator_id)
        .expect("operator identity exists");
    assert_eq!(helm["azure"]["enabled"], true);
    assert_eq!(
        helm["azure"]["workerIdentity"]["clientId"],
        worker["properties"]["clientId"]
    );
    assert_eq!(
        helm["serviceAccount"]["annotations"]["azure.workload.identity/client-id"],
        operator["properties"]["clientId"]
    );
    assert_eq!(helm["podLabels"]["azure.workload.identity/use"], "true");
    // The chart's ServiceAccount is the one the operator identity federates.
    assert_eq!(helm["serviceAccount"]["name"], "tradewind-operator");
    // The operator reads credential Secrets in the bots' namespace only.
    assert_eq!(
        helm["credentialNamespaces"],
        serde_json::json!(["tradewind-bots"])
    );
    // What the operator needs to federate each bot's ServiceAccount with the worker identity.
    assert_eq!(
        helm["azure"]["workerIdentity"]["name"].as_str(),
        worker_id.rsplit('/').next()
    );
    let aks = fx
        .fake
        .resource(outputs["resourceIds"]["aks"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        helm["azure"]["oidcIssuer"],
        aks["properties"]["oidcIssuerProfile"]["issuerURL"]
    );
    assert_eq!(helm["azure"]["cosmos"]["database"], "tradewind");
    assert!(
        helm["image"]["registry"]
            .as_str()
            .unwrap()
            .contains(&format!("{name}acr"))
    );
    for key in ["subscriptionId", "tenantId", "resourceGroup"] {
        assert!(helm["azure"][key].is_string(), "{key}");
    }
    assert!(
        outputs["aksCredentialsCommand"]
            .as_str()
            .unwrap()
            .starts_with("az aks get-credentials")
    );

    // Federated credentials carry the cluster's issuer; no role assignment was duplicated.
    let aks = fx
        .fake
        .resource(outputs["resourceIds"]["aks"].as_str().unwrap())
        .unwrap();
    let issuer = aks["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .unwrap();
    let fic = fx
        .fake
        .resource(&format!(
            "{worker_id}/federatedIdentityCredentials/tradewind-bots-tradewind-worker"
        ))
        .expect("worker federated credential");
    assert_eq!(fic["properties"]["issuer"], issuer);

    // A second apply reads, finds everything as declared, and writes nothing.
    let writes = fx.fake.writes();
    let again = fx
        .run(&[
            "env",
            "apply",
            "-f",
            spec,
            "--outputs",
            out_dir,
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    assert_eq!(fx.fake.writes(), writes, "second apply wrote");
    assert_eq!(again["summary"]["writes"], 0);
    assert_eq!(again["summary"]["unchanged"], total as u64);
    fx.run(&["env", "plan", "-f", spec]).expect(0);

    // Status shows every resource provisioned.
    let status = fx
        .run(&["env", "status", "-f", spec, "--output", "json"])
        .expect(0)
        .json();
    for row in status["resources"].as_array().unwrap() {
        assert_ne!(row["state"], "Absent", "{row}");
    }

    // Destroy: refused without a terminal and without --yes, then one group delete.
    let plan = fx
        .run(&["env", "plan", "--destroy", "-f", spec, "--output", "json"])
        .expect(2)
        .json();
    assert_eq!(plan["steps"].as_array().unwrap().len(), 1, "{plan:#}");
    assert_eq!(plan["steps"][0]["kind"], "ResourceGroup");
    let refused = fx.run(&["env", "destroy", "-f", spec]).expect(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(fx.fake.writes(), writes, "refused destroy wrote");
    fx.run(&["env", "destroy", "-f", spec, "--yes"]).expect(0);
    assert!(
        fx.fake
            .resource(outputs["resourceIds"]["resourceGroup"].as_str().unwrap())
            .is_none()
    );
    assert!(fx.fake.resource(worker_id).is_none());
    fx.run(&["env", "plan", "-f", spec]).expect(2);
    let _ = std::fs::remove_dir_all(&fx.dir);
}

#[test]
fn dev_environment_plan_apply_reapply_destroy() {
    full_cycle("dev");
}

#[test]
fn prod_environment_plan_apply_reapply_destroy() {
    full_cycle("prod");
}

#[test]
fn throttling_and_transient_failures_are_survived() {
    let fx = Fixture::start();
    let spec = example("dev");
    fx.fake.throttle_next(2, 1);
    fx.fake.fail_next(503, 2);
    fx.fake.fail_next(500, 1);
    let apply = fx
        .run(&[
            "env",
            "apply",
            "-f",
            spec.to_str().unwrap(),
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    assert_eq!(apply["summary"]["failed"], 0);
    assert_eq!(
        apply["summary"]["created"],
        apply["resources"].as_array().unwrap().len()
    );
    // The faults were consumed (so they really were met and retried).
    let writes = fx.fake.writes();
    fx.run(&["env", "apply", "-f", spec.to_str().unwrap()])
        .expect(0);
    assert_eq!(fx.fake.writes(), writes);
}

#[test]
fn failed_long_running_operation_is_reported_with_resource_and_code() {
    let fx = Fixture::start();
    let spec = example("dev");
    fx.fake.fail_operation(
        "managedClusters/tradewind-dev-aks",
        "QuotaExceeded",
        "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota.",
    );
    let run = fx
        .run(&["env", "apply", "-f", spec.to_str().unwrap()])
        .expect(1);
    assert!(
        run.stderr.contains("ManagedCluster tradewind-dev-aks"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("QuotaExceeded"), "{}", run.stderr);
    assert!(
        run.stderr.contains("re-run apply to resume"),
        "{}",
        run.stderr
    );
    // Independent resources finished; the cluster's dependents were not attempted.
    assert!(
        run.stderr.contains("skipped    FederatedCredential"),
        "{}",
        run.stderr
    );
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/tradewind-dev-rg";
    assert!(
        fx.fake
            .resource(&format!(
                "{sub}/providers/Microsoft.KeyVault/vaults/tradewind-dev-kv"
            ))
            .is_some()
    );
    // The fault was one-shot: a re-run completes.
    fx.run(&["env", "apply", "-f", spec.to_str().unwrap()])
        .expect(0);
}

#[test]
fn invalid_names_are_refused_before_any_request() {
    let fx = Fixture::start();
    let text = std::fs::read_to_string(example("dev"))
        .unwrap()
        .replace("name: tradewind-dev-kv", "name: kv_not_valid!");
    let path = fx.dir.join("bad.yaml");
    std::fs::write(&path, text).unwrap();
    for cmd in ["plan", "apply", "status"] {
        let run = fx
            .run(&["env", cmd, "-f", path.to_str().unwrap()])
            .expect(1);
        assert!(run.stderr.contains("spec.keyVault.name"), "{}", run.stderr);
        assert!(run.stderr.contains("kv_not_valid!"), "{}", run.stderr);
    }
    assert!(fx.fake.requests().is_empty(), "{:?}", fx.fake.requests());
}

#[test]
fn plan_shows_field_level_diff_after_a_spec_change() {
    let fx = Fixture::start();
    let spec = example("dev");
    fx.run(&["env", "apply", "-f", spec.to_str().unwrap()])
        .expect(0);
    let changed = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("retentionDays: 30", "retentionDays: 60");
    let path = fx.dir.join("changed.yaml");
    std::fs::write(&path, changed).unwrap();
    let run = fx
        .run(&["env", "plan", "-f", path.to_str().unwrap()])
        .expect(2);
    assert!(
        run.stdout
            .contains("~ update  LogAnalyticsWorkspace tradewind-dev-logs"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("/properties/retentionInDays: 30 → 60"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0 to create, 1 to update"),
        "{}",
        run.stdout
    );
    let writes = fx.fake.writes();
    let apply = fx
        .run(&[
            "env",
            "apply",
            "-f",
            path.to_str().unwrap(),
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    assert_eq!(apply["summary"]["updated"], 1);
    assert_eq!(fx.fake.writes(), writes + 1);
}

#[test]
fn interrupted_apply_resumes_without_duplicates() {
    let fx = Fixture::start();
    let spec = example("dev");
    let spec = spec.to_str().unwrap();
    let total = fx
        .run(&["env", "plan", "-f", spec, "--output", "json"])
        .expect(2)
        .json()["steps"]
        .as_array()
        .unwrap()
        .len();
    // The cluster and what needs its outputs (three federated credentials: operator,
    // worker, platform; the kubelet's AcrPull) cannot finish while the cluster's
    // operation is held.
    let blocked = 5;
    fx.fake.hold("managedClusters");
    let mut child = fx
        .command(&["env", "apply", "-f", spec])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut done = 0;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        assert!(!line.contains(DEFAULT_CLIENT_SECRET));
        if line.contains("] created ") {
            done += 1;
            if done == total - blocked {
                break;
            }
        }
    }
    assert_eq!(
        done,
        total - blocked,
        "everything independent of the held cluster finished"
    );
    assert!(
        fx.fake
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("managedClusters")),
        "the cluster PUT was sent"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    fx.fake.release();

    let resumed = fx
        .run(&["env", "apply", "-f", spec, "--output", "json"])
        .expect(0)
        .json();
    let outcomes = outcomes(&resumed);
    let count = |o: &str| outcomes.values().filter(|v| *v == o).count();
    assert_eq!(count("unchanged"), total - blocked, "{resumed:#}");
    assert_eq!(count("created"), blocked - 1, "{resumed:#}");
    // The cluster's operation never finished, so it is re-sent (idempotent PUT).
    assert_eq!(count("updated"), 1, "{resumed:#}");

    // Every resource was PUT once, the cluster twice; nothing duplicated.
    let mut puts: HashMap<String, usize> = HashMap::new();
    for r in fx.fake.requests().iter().filter(|r| r.method == "PUT") {
        *puts.entry(r.path.to_ascii_lowercase()).or_default() += 1;
    }
    for (path, n) in &puts {
        let expected = if path.contains("managedclusters") {
            2
        } else {
            1
        };
        assert_eq!(*n, expected, "{path}");
    }
    assert_eq!(puts.len(), total);
    let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/tradewind-dev-rg";
    let assignments = fx
        .fake
        .resources_under(rg)
        .into_iter()
        .filter(|(id, _)| id.to_ascii_lowercase().contains("/roleassignments/"))
        .count();
    let expected = resumed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "RoleAssignment")
        .count();
    assert_eq!(assignments, expected);
    // And a further apply is a no-op.
    let writes = fx.fake.writes();
    fx.run(&["env", "apply", "-f", spec]).expect(0);
    assert_eq!(fx.fake.writes(), writes);
}

#[test]
fn destroy_of_a_group_the_spec_does_not_own_deletes_resources_one_by_one() {
    let fx = Fixture::start();
    let text = std::fs::read_to_string(example("dev"))
        .unwrap()
        .replace("owned: true", "owned: false");
    let path = fx.dir.join("shared-group.yaml");
    std::fs::write(&path, text).unwrap();
    let spec = path.to_str().unwrap();
    // The group must exist: twctl does not create or retag a group it does not own.
    let run = fx.run(&["env", "apply", "-f", spec]).expect(1);
    assert!(
        run.stderr.contains("spec.resourceGroup.owned is false"),
        "{}",
        run.stderr
    );
    fx.run(&["env", "apply", "-f", example("dev").to_str().unwrap()])
        .expect(0);
    fx.run(&["env", "apply", "-f", spec]).expect(0);

    let plan = fx
        .run(&["env", "plan", "--destroy", "-f", spec, "--output", "json"])
        .expect(2)
        .json();
    let steps = plan["steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .all(|s| s["kind"] != "ResourceGroup" && s["action"] == "delete")
    );
    // Dependents first: every role assignment before the vault it is scoped to.
    let pos = |kind: &str| steps.iter().position(|s| s["kind"] == kind).unwrap();
    assert!(pos("RoleAssignment") < pos("KeyVault"));
    assert!(pos("FederatedCredential") < pos("UserAssignedIdentity"));
    let destroyed = fx
        .run(&["env", "destroy", "-f", spec, "--yes", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(destroyed["deleted"], steps.len() as u64);
    let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/tradewind-dev-rg";
    assert!(fx.fake.resource(rg).is_some(), "the group stays");
    assert!(
        fx.fake.resources_under(&format!("{rg}/")).is_empty(),
        "{:?}",
        fx.fake.resources_under(&format!("{rg}/"))
    );
}
