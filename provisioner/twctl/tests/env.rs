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
    // No shared worker identity any more: each bot gets its own from the operator.
    assert!(
        outputs["resourceIds"].get("workerIdentity").is_none(),
        "{outputs:#}"
    );
    assert!(
        outputs["identityClientIds"].get("worker").is_none(),
        "{outputs:#}"
    );
    let operator_id = outputs["resourceIds"]["operatorIdentity"].as_str().unwrap();
    let operator = fx
        .fake
        .resource(operator_id)
        .expect("operator identity exists");
    // Helm would refuse values its schema does not allow.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/tradewind/values.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the chart's schema compiles");
    // Helm validates the chart's defaults with the given values merged over them.
    fn merge(base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Object(b), Value::Object(o)) => {
                for (k, v) in o {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (b, o) => *b = o.clone(),
        }
    }
    let mut merged: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/tradewind/values.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    merge(&mut merged, &helm);
    let errors: Vec<String> = validator
        .iter_errors(&merged)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "helm-values.yaml breaks the chart's schema: {errors:#?}"
    );
    assert_eq!(helm["azure"]["enabled"], true);
    assert!(helm["azure"].get("workerIdentity").is_none(), "{helm:#}");
    // Only a private environment puts the API behind an internal load balancer.
    assert_eq!(
        helm["platform"]["serve"]["api"]["internalLoadBalancer"]["enabled"].as_bool(),
        (name == "prod").then_some(true)
    );
    assert_eq!(
        helm["serviceAccount"]["annotations"]["azure.workload.identity/client-id"],
        operator["properties"]["clientId"]
    );
    assert_eq!(helm["podLabels"]["azure.workload.identity/use"], "true");
    // The chart's ServiceAccount is the one the operator identity federates.
    assert_eq!(helm["serviceAccount"]["name"], "tradewind-operator");
    // The operator reads credential Secrets in the bots' namespaces only
    // (`spec.botNamespaces`).
    assert_eq!(
        helm["credentialNamespaces"],
        serde_json::json!(["tradewind-bots"])
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
            "{operator_id}/federatedIdentityCredentials/tradewind-system-tradewind-operator"
        ))
        .expect("operator federated credential");
    assert_eq!(fic["properties"]["issuer"], issuer);

    // The feeds' identity: federated with their ServiceAccount, named in the chart's values,
    // and allowed to write the market-data container and the archive container only.
    let feed_id = outputs["resourceIds"]["feedIdentity"]
        .as_str()
        .expect("the feed identity");
    let feed = fx.fake.resource(feed_id).expect("the feed identity exists");
    assert_eq!(
        helm["azure"]["feedIdentity"]["clientId"],
        feed["properties"]["clientId"]
    );
    assert_eq!(
        helm["azure"]["feedIdentity"]["serviceAccount"],
        "tradewind-feed"
    );
    let feed_fic = fx
        .fake
        .resource(&format!(
            "{feed_id}/federatedIdentityCredentials/tradewind-system-tradewind-feed"
        ))
        .expect("the feed's federated credential");
    assert_eq!(feed_fic["properties"]["issuer"], issuer);
    assert_eq!(
        feed_fic["properties"]["subject"],
        "system:serviceaccount:tradewind-system:tradewind-feed"
    );

    // The collector's identity: federated with its ServiceAccount, named in the chart's
    // values, and allowed to read the Application Insights connection string only (a
    // role assignment scoped to that one secret, none on the vault).
    let collector_id = outputs["resourceIds"]["collectorIdentity"]
        .as_str()
        .expect("the collector identity");
    let collector = fx
        .fake
        .resource(collector_id)
        .expect("the collector identity exists");
    assert_eq!(
        helm["azure"]["collectorIdentity"]["clientId"],
        collector["properties"]["clientId"]
    );
    assert_eq!(
        helm["azure"]["collectorIdentity"]["serviceAccount"],
        "tradewind-otel-collector"
    );
    assert_eq!(
        outputs["identityClientIds"]["collector"],
        collector["properties"]["clientId"]
    );
    // The chart deploys the collector reading the vault secret, and the cluster has the
    // Secrets Store CSI driver's Azure provider it mounts the secret with.
    assert_eq!(
        helm["telemetry"],
        serde_json::json!({"collector": {"enabled": true, "keyVault": {"enabled": true}}})
    );
    assert_eq!(
        aks["properties"]["addonProfiles"]["azureKeyvaultSecretsProvider"]["enabled"],
        true
    );
    let collector_fic = fx
        .fake
        .resource(&format!(
            "{collector_id}/federatedIdentityCredentials/tradewind-system-tradewind-otel-collector"
        ))
        .expect("the collector's federated credential");
    assert_eq!(collector_fic["properties"]["issuer"], issuer);
    assert_eq!(
        collector_fic["properties"]["subject"],
        "system:serviceaccount:tradewind-system:tradewind-otel-collector"
    );
    let vault = outputs["resourceIds"]["keyVault"].as_str().unwrap();
    let collector_grants: Vec<(String, Value)> = fx
        .fake
        .resources_under(vault)
        .into_iter()
        .filter(|(id, r)| {
            id.contains("/providers/Microsoft.Authorization/roleAssignments/")
                && r["properties"]["principalId"] == collector["properties"]["principalId"]
        })
        .collect();
    assert_eq!(collector_grants.len(), 1, "{collector_grants:#?}");
    let (grant_id, grant) = &collector_grants[0];
    assert!(
        grant_id.starts_with(&format!(
            "{vault}/secrets/appinsights-connection-string/providers/Microsoft.Authorization/roleAssignments/"
        )),
        "{grant_id}"
    );
    assert!(
        grant["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with("/4633458b-17de-408a-b874-0445c86b69e6"),
        "Key Vault Secrets User: {grant:#?}"
    );
    let principal = &feed["properties"]["principalId"];
    let grants: Vec<(String, Value)> = fx
        .fake
        .resources_under(outputs["resourceIds"]["resourceGroup"].as_str().unwrap())
        .into_iter()
        .filter(|(id, v)| {
            (id.contains("/roleAssignments/") || id.contains("/sqlRoleAssignments/"))
                && &v["properties"]["principalId"] == principal
        })
        .collect();
    assert_eq!(grants.len(), 2, "{grants:#?}");
    let blob = grants
        .iter()
        .find(|(id, _)| id.contains("/roleAssignments/"))
        .expect("the archive grant");
    let storage = outputs["resourceIds"]["storage"].as_str().unwrap();
    assert!(
        blob.0.to_ascii_lowercase().starts_with(
            &format!("{storage}/blobServices/default/containers/market-archive/providers/")
                .to_ascii_lowercase()
        ),
        "{blob:?}"
    );
    assert!(
        blob.1["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with("/ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
        "Storage Blob Data Contributor: {blob:?}"
    );
    let cosmos = grants
        .iter()
        .find(|(id, _)| id.contains("/sqlRoleAssignments/"))
        .expect("the market-data container grant");
    assert!(
        cosmos.1["properties"]["scope"]
            .as_str()
            .unwrap()
            .ends_with("/dbs/tradewind/colls/market-data"),
        "{cosmos:?}"
    );
    assert!(
        cosmos.1["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with("/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002"),
        "Cosmos DB Built-in Data Contributor: {cosmos:?}"
    );

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
    assert!(fx.fake.resource(operator_id).is_none());
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
    // The cluster and what needs its outputs (four federated credentials: operator,
    // platform, feed, collector; the kubelet's AcrPull) cannot finish while the cluster's
    // operation is held.
    let blocked = 6;
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

/// Prod's whole topology as the fake holds it after apply: PostgreSQL with Entra ID only
/// and the platform identity as administrator (named by its object ID), public access off
/// and a private endpoint for every data service, the API behind Front Door, the market
/// data containers; the Helm values carry the connection and the containers.
#[test]
fn prod_topology_is_private_and_wired_into_the_helm_values() {
    let fx = Fixture::start();
    let spec = example("prod");
    let spec = spec.to_str().unwrap();
    let out = fx.dir.join("out");
    fx.run(&[
        "env",
        "apply",
        "-f",
        spec,
        "--outputs",
        out.to_str().unwrap(),
    ])
    .expect(0);
    let helm: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(out.join("helm-values.yaml")).unwrap())
            .unwrap();
    let outputs: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("outputs.json")).unwrap()).unwrap();
    let rg = outputs["resourceIds"]["resourceGroup"].as_str().unwrap();
    let res = |suffix: &str| {
        fx.fake
            .resource(&format!("{rg}/providers/{suffix}"))
            .unwrap_or_else(|| panic!("{suffix} exists"))
    };

    let pg = res("Microsoft.DBforPostgreSQL/flexibleServers/tradewind-prod-pg");
    assert_eq!(pg["properties"]["authConfig"]["passwordAuth"], "Disabled");
    assert_eq!(
        pg["properties"]["authConfig"]["activeDirectoryAuth"],
        "Enabled"
    );
    assert_eq!(
        pg["properties"]["highAvailability"]["mode"],
        "ZoneRedundant"
    );
    assert_eq!(pg["properties"]["backup"]["geoRedundantBackup"], "Enabled");
    assert_eq!(pg["properties"]["backup"]["backupRetentionDays"], 35);
    assert_eq!(
        pg["properties"]["network"]["publicNetworkAccess"],
        "Disabled"
    );
    let platform = fx
        .fake
        .resource(outputs["resourceIds"]["platformIdentity"].as_str().unwrap())
        .unwrap();
    let principal = platform["properties"]["principalId"].as_str().unwrap();
    let admin = res(&format!(
        "Microsoft.DBforPostgreSQL/flexibleServers/tradewind-prod-pg/administrators/{principal}"
    ));
    assert_eq!(
        admin["properties"]["principalName"],
        "tradewind-prod-platform"
    );
    assert_eq!(admin["properties"]["principalType"], "ServicePrincipal");
    res("Microsoft.DBforPostgreSQL/flexibleServers/tradewind-prod-pg/databases/ledger");
    let host = pg["properties"]["fullyQualifiedDomainName"]
        .as_str()
        .unwrap();
    assert_eq!(helm["azure"]["postgres"]["host"], host);
    assert_eq!(helm["azure"]["postgres"]["user"], "tradewind-prod-platform");
    assert_eq!(
        helm["azure"]["postgres"]["url"],
        format!("postgres://tradewind-prod-platform@{host}:5432/ledger?sslmode=require")
    );
    assert_eq!(
        helm["azure"]["platformIdentity"]["clientId"],
        platform["properties"]["clientId"]
    );

    // Public access off, one private endpoint (with its zone group) per data service.
    for (path, pointer) in [
        (
            "Microsoft.DocumentDB/databaseAccounts/tradewind-prod-cosmos",
            "/properties/publicNetworkAccess",
        ),
        (
            "Microsoft.KeyVault/vaults/tradewind-prod-kv",
            "/properties/publicNetworkAccess",
        ),
        (
            "Microsoft.ServiceBus/namespaces/tradewind-prod-bus",
            "/properties/publicNetworkAccess",
        ),
        (
            "Microsoft.Storage/storageAccounts/tradewindprodst",
            "/properties/publicNetworkAccess",
        ),
        (
            "Microsoft.ContainerRegistry/registries/tradewindprodacr",
            "/properties/publicNetworkAccess",
        ),
    ] {
        assert_eq!(res(path).pointer(pointer).unwrap(), "Disabled", "{path}");
    }
    for (name, zone) in [
        ("tradewind-prod-cosmos", "privatelink.documents.azure.com"),
        ("tradewind-prod-kv", "privatelink.vaultcore.azure.net"),
        ("tradewind-prod-bus", "privatelink.servicebus.windows.net"),
        ("tradewindprodst", "privatelink.blob.core.windows.net"),
        (
            "tradewind-prod-pg",
            "privatelink.postgres.database.azure.com",
        ),
        ("tradewindprodacr", "privatelink.azurecr.io"),
    ] {
        let pe = res(&format!("Microsoft.Network/privateEndpoints/{name}-pe"));
        assert!(
            pe["properties"]["subnet"]["id"]
                .as_str()
                .unwrap()
                .ends_with("/virtualNetworks/tradewind-prod-vnet/subnets/private-endpoints")
        );
        res(&format!(
            "Microsoft.Network/privateEndpoints/{name}-pe/privateDnsZoneGroups/default"
        ));
        res(&format!(
            "Microsoft.Network/privateDnsZones/{zone}/virtualNetworkLinks/tradewind-prod-vnet-link"
        ));
    }
    let vnet = res("Microsoft.Network/virtualNetworks/tradewind-prod-vnet");
    assert_eq!(vnet["properties"]["enableDdosProtection"], true);
    assert_eq!(vnet["properties"]["subnets"].as_array().unwrap().len(), 3);
    let aks = res("Microsoft.ContainerService/managedClusters/tradewind-prod-aks");
    assert!(
        aks["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
            .as_str()
            .unwrap()
            .ends_with("/subnets/aks")
    );

    // The edge: the API imported, the policy limits per key and admits only this Front Door.
    let apim = "Microsoft.ApiManagement/service/tradewind-prod-apim";
    assert_eq!(res(apim)["properties"]["virtualNetworkType"], "External");
    let policy = res(&format!("{apim}/apis/tradewind-platform/policies/policy"));
    let xml = policy["properties"]["value"].as_str().unwrap();
    assert!(
        xml.contains("<rate-limit-by-key calls=\"600\" renewal-period=\"60\""),
        "{xml}"
    );
    assert!(xml.contains("X-Azure-FDID"), "{xml}");
    let fd = res("Microsoft.Cdn/profiles/tradewind-prod-fd");
    let named = res(&format!("{apim}/namedValues/frontdoor-id"));
    assert_eq!(
        named["properties"]["value"],
        fd["properties"]["frontDoorId"]
    );
    let sp = res("Microsoft.Cdn/profiles/tradewind-prod-fd/securityPolicies/waf");
    assert!(
        sp["properties"]["parameters"]["wafPolicy"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/FrontDoorWebApplicationFirewallPolicies/tradewindprodwaf")
    );
    assert!(
        outputs["endpoints"]["frontDoor"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    // Market data, DR, telemetry, budget.
    let container = res(
        "Microsoft.DocumentDB/databaseAccounts/tradewind-prod-cosmos/sqlDatabases/tradewind/containers/market-data",
    );
    assert_eq!(
        container["properties"]["resource"]["partitionKey"]["kind"],
        "MultiHash"
    );
    assert_eq!(
        container["properties"]["resource"]["defaultTtl"],
        30 * 86_400
    );
    res(
        "Microsoft.Storage/storageAccounts/tradewindprodst/blobServices/default/containers/market-archive",
    );
    // The platform reads and writes items with Entra tokens (data-plane role), the feeds
    // write the market-data container only; workers have no environment identity (each
    // bot's own identity is granted its own container by the operator).
    let feed = fx
        .fake
        .resource(outputs["resourceIds"]["feedIdentity"].as_str().unwrap())
        .unwrap();
    type Found = Vec<(String, Value)>;
    let (feed_roles, data_roles): (Found, Found) = fx
        .fake
        .resources_under(&format!(
            "{rg}/providers/Microsoft.DocumentDB/databaseAccounts/tradewind-prod-cosmos/sqlRoleAssignments"
        ))
        .into_iter()
        .partition(|(_, r)| r["properties"]["principalId"] == feed["properties"]["principalId"]);
    assert_eq!(data_roles.len(), 1, "{data_roles:#?}");
    assert_eq!(feed_roles.len(), 1, "{feed_roles:#?}");
    let platform = fx
        .fake
        .resource(outputs["resourceIds"]["platformIdentity"].as_str().unwrap())
        .unwrap();
    assert!(data_roles.iter().all(|(_, r)| {
        r["properties"]["principalId"] == platform["properties"]["principalId"]
            && r["properties"]["scope"]
                .as_str()
                .unwrap()
                .ends_with("/dbs/tradewind")
    }));
    // The operator may assign only the bots' data roles, under a condition.
    let conditional: Vec<(String, Value)> = fx
        .fake
        .resources_under(&format!("{rg}/providers/Microsoft.KeyVault/vaults"))
        .into_iter()
        .filter(|(id, r)| {
            id.contains("/roleAssignments/") && r["properties"]["conditionVersion"] == "2.0"
        })
        .collect();
    assert_eq!(conditional.len(), 1, "{conditional:#?}");
    assert_eq!(
        helm["azure"]["marketData"]["cosmosContainer"],
        "market-data"
    );
    assert_eq!(
        helm["azure"]["marketData"]["archiveContainer"],
        "market-archive"
    );
    assert_eq!(
        helm["azure"]["cosmos"]["marketDataContainer"],
        "market-data"
    );
    // API Management's backend (`backendUrl: http://10.40.15.250`) is the platform API's
    // internal load balancer, at that address and port.
    assert_eq!(
        helm["platform"]["serve"]["api"]["internalLoadBalancer"],
        serde_json::json!({"enabled": true, "port": 80, "loadBalancerIP": "10.40.15.250"})
    );
    assert!(
        helm["azure"]["marketData"]["blobEndpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let cosmos = res("Microsoft.DocumentDB/databaseAccounts/tradewind-prod-cosmos");
    let regions: Vec<&str> = cosmos["properties"]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["locationName"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["westeurope", "northeurope"]);
    res("Microsoft.ContainerRegistry/registries/tradewindprodacr/replications/northeurope");
    let secret =
        res("Microsoft.KeyVault/vaults/tradewind-prod-kv/secrets/appinsights-connection-string");
    assert!(
        secret["properties"].get("value").is_none(),
        "ARM never returns a value"
    );
    for rule in [
        "bot-halted",
        "reconcile-errors",
        "settlement-failed",
        "feed-lag",
    ] {
        res(&format!(
            "Microsoft.Insights/scheduledQueryRules/prod-{rule}"
        ));
    }
    let budget = res("Microsoft.Consumption/budgets/tradewind-prod-monthly");
    assert_eq!(
        budget["properties"]["notifications"]
            .as_object()
            .unwrap()
            .len(),
        4
    );
    // The connection string is in the vault, never in outputs or values.
    let files = format!(
        "{}{}",
        std::fs::read_to_string(out.join("helm-values.yaml")).unwrap(),
        std::fs::read_to_string(out.join("outputs.json")).unwrap()
    );
    assert!(
        !files.contains("InstrumentationKey"),
        "connection string leaked"
    );
    let _ = std::fs::remove_dir_all(&fx.dir);
}

/// `twctl env failover` against the fake: Cosmos DB's write region moves, the storage
/// account fails over, PostgreSQL is geo-restored; a re-run sends nothing; apply then
/// restores geo-redundancy and leaves Cosmos DB's priorities alone; `--back` returns.
#[test]
fn failover_moves_the_data_services_and_is_resumable() {
    let fx = Fixture::start();
    let spec = example("prod");
    let spec = spec.to_str().unwrap();
    fx.run(&["env", "apply", "-f", spec]).expect(0);
    let rg = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/tradewind-prod-rg/providers";
    let cosmos_id = format!("{rg}/Microsoft.DocumentDB/databaseAccounts/tradewind-prod-cosmos");
    let storage_id = format!("{rg}/Microsoft.Storage/storageAccounts/tradewindprodst");
    let restored_id =
        format!("{rg}/Microsoft.DBforPostgreSQL/flexibleServers/tradewind-prod-pg-northeurope");
    let write_region = |fx: &Fixture| {
        fx.fake.resource(&cosmos_id).unwrap()["properties"]["writeLocations"][0]["locationName"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Refused without a terminal and without --yes; nothing sent.
    let writes = fx.fake.writes();
    let refused = fx.run(&["env", "failover", "-f", spec]).expect(1);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(fx.fake.writes(), writes);

    let done = fx
        .run(&["env", "failover", "-f", spec, "--yes", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(done["steps"].as_array().unwrap().len(), 3, "{done:#}");
    assert_eq!(write_region(&fx), "northeurope");
    let storage = fx.fake.resource(&storage_id).unwrap();
    assert_eq!(storage["sku"]["name"], "Standard_ZRS");
    let restored = fx.fake.resource(&restored_id).expect("geo-restored server");
    assert_eq!(restored["properties"]["createMode"], "GeoRestore");
    assert_eq!(restored["location"], "northeurope");
    assert!(
        restored["properties"]["sourceServerResourceId"]
            .as_str()
            .unwrap()
            .ends_with("/flexibleServers/tradewind-prod-pg")
    );

    // A re-run finds everything done and sends nothing.
    let writes = fx.fake.writes();
    let again = fx
        .run(&["env", "failover", "-f", spec, "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(again["steps"].as_array().unwrap().len(), 0, "{again:#}");
    assert_eq!(fx.fake.writes(), writes);

    // Apply makes the storage account geo-redundant again and keeps Cosmos DB's priorities.
    let plan = fx
        .run(&["env", "plan", "-f", spec, "--output", "json"])
        .expect(2)
        .json();
    let changed: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] != "noop")
        .collect();
    assert_eq!(changed.len(), 1, "{plan:#}");
    assert_eq!(changed[0]["kind"], "StorageAccount");
    assert_eq!(changed[0]["changes"][0]["path"], "/sku/name");
    fx.run(&["env", "apply", "-f", spec]).expect(0);
    assert_eq!(
        fx.fake.resource(&storage_id).unwrap()["sku"]["name"],
        "Standard_GZRS"
    );
    assert_eq!(write_region(&fx), "northeurope");
    fx.run(&["env", "plan", "-f", spec]).expect(0);

    // Back: only Cosmos DB moves.
    let back = fx
        .run(&[
            "env", "failover", "-f", spec, "--yes", "--back", "--output", "json",
        ])
        .expect(0)
        .json();
    assert_eq!(back["steps"].as_array().unwrap().len(), 1, "{back:#}");
    assert_eq!(write_region(&fx), "westeurope");

    // Dev has no secondary region: refused, naming the field.
    let dev = example("dev");
    let err = fx
        .run(&["env", "failover", "-f", dev.to_str().unwrap(), "--yes"])
        .expect(1);
    assert!(
        err.stderr.contains("spec.disasterRecovery"),
        "{}",
        err.stderr
    );
    let _ = std::fs::remove_dir_all(&fx.dir);
}

/// A failed long-running operation of a new type (the PostgreSQL server) is reported with
/// its code; what depends on it (database, administrators, private endpoint) is not
/// attempted; a re-run finishes without duplicates.
#[test]
fn a_failed_postgres_operation_stops_its_dependents_and_resumes() {
    let fx = Fixture::start();
    let spec = example("prod");
    let spec = spec.to_str().unwrap();
    fx.fake.fail_operation(
        "flexibleServers/tradewind-prod-pg",
        "ServerCreationFailed",
        "The zone-redundant standby could not be placed.",
    );
    let failed = fx
        .run(&["env", "apply", "-f", spec, "--output", "json"])
        .expect(1);
    let report = failed.json();
    let first = outcomes(&report);
    let of = |needle: &str| {
        first
            .iter()
            .filter(|(id, _)| id.contains(needle))
            .map(|(_, o)| o.as_str())
            .collect::<Vec<_>>()
    };
    let server = first
        .iter()
        .find(|(id, _)| id.ends_with("/flexibleServers/tradewind-prod-pg"))
        .map(|(_, o)| o.as_str());
    assert_eq!(server, Some("failed"));
    for dependent in [
        "tradewind-prod-pg/databases/",
        "tradewind-prod-pg/administrators/",
        "privateEndpoints/tradewind-prod-pg-pe",
    ] {
        let got = of(dependent);
        assert!(
            !got.is_empty() && got.iter().all(|o| *o == "skipped"),
            "{dependent}: {got:?}"
        );
    }
    assert!(
        failed.stderr.contains("ServerCreationFailed"),
        "{}",
        failed.stderr
    );
    // Independent resources finished.
    assert_eq!(of("managedClusters/tradewind-prod-aks"), ["created"]);

    let resumed = fx
        .run(&["env", "apply", "-f", spec, "--output", "json"])
        .expect(0)
        .json();
    let again = outcomes(&resumed);
    assert!(again.values().all(|o| o != "failed" && o != "skipped"));
    let writes = fx.fake.writes();
    fx.run(&["env", "apply", "-f", spec]).expect(0);
    assert_eq!(fx.fake.writes(), writes, "a third apply writes nothing");
    let _ = std::fs::remove_dir_all(&fx.dir);
}

/// `twctl env cost` needs no Azure: a table per resource and a total, or JSON in cents.
#[test]
fn cost_prints_an_estimate_per_resource() {
    let fx = Fixture::start();
    let prod = example("prod");
    let text = fx
        .run(&["env", "cost", "-f", prod.to_str().unwrap()])
        .expect(0);
    assert!(
        text.stdout.contains("PostgreSQL tradewind-prod-pg"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("Total (fixed charges)"),
        "{}",
        text.stdout
    );
    let json = fx
        .run(&[
            "env",
            "cost",
            "-f",
            prod.to_str().unwrap(),
            "--output",
            "json",
        ])
        .expect(0)
        .json();
    let lines = json["lines"].as_array().unwrap();
    let sum: u64 = lines
        .iter()
        .filter_map(|l| l["monthlyCents"].as_u64())
        .sum();
    assert_eq!(json["totalMonthlyCents"], sum);
    assert_eq!(fx.fake.requests().len(), 0, "cost reads nothing from Azure");
    let _ = std::fs::remove_dir_all(&fx.dir);
}
