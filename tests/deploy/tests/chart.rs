//! The chart with the real Helm engine (helm-python-sdk bundles Helm's Go SDK): it lints,
//! renders what the README promises for the default, Azure (the values `twctl env apply`
//! writes) and namespace-scoped values, refuses bad values through values.schema.json
//! with the schema's own message, ships CRDs identical to the Rust types, and its README
//! describes every value.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tradewind_crds::manifests;
use tradewind_deploy_tests::*;

const NS: &str = "tradewind-system";

fn env_of(deployment: &Value) -> std::collections::BTreeMap<String, Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e.get("value")
                    .cloned()
                    .unwrap_or_else(|| e["valueFrom"].clone()),
            )
        })
        .collect()
}

/// The values `twctl env apply` writes (the shape `provisioner/twctl/src/env` produces).
fn twctl_values() -> Value {
    json!({
        "azure": {
            "enabled": true,
            "cloud": "AzurePublic",
            "subscriptionId": "00000000-1111-2222-3333-444444444444",
            "tenantId": "55555555-6666-7777-8888-999999999999",
            "resourceGroup": "rg-tradewind-prod",
            "cosmos": {"account": "twprodcosmos", "database": "tradewind", "endpoint": "https://twprodcosmos.documents.azure.com:443/"},
            "keyVault": {"name": "tw-prod-kv", "uri": "https://tw-prod-kv.vault.azure.net/"},
            "serviceBus": {"namespace": "tw-prod-bus", "endpoint": "https://tw-prod-bus.servicebus.windows.net:443/"},
            "workerIdentity": {"clientId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}
        },
        "image": {"registry": "twprod.azurecr.io"},
        "serviceAccount": {"annotations": {"azure.workload.identity/client-id": "12345678-1234-1234-1234-123456789abc"}},
        "podLabels": {"azure.workload.identity/use": "true"}
    })
}

#[test]
fn chart_lints_clean_with_default_and_azure_values() {
    let chart = chart_dir();
    let collector = json!({"telemetry": {"collector": {"enabled": true, "connectionStringSecret": {"name": "ai"}}}});
    for values in [
        json!({}),
        twctl_values(),
        json!({"watchNamespace": "bots"}),
        collector,
    ] {
        let report = chart_py(&["lint", chart.to_str().unwrap(), &values.to_string()]);
        assert_eq!(report["errors"], json!([]), "{report}");
        let serious: Vec<&Value> = report["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["severity"].as_i64().unwrap_or(0) >= 2)
            .collect();
        assert!(serious.is_empty(), "lint warnings/errors: {serious:?}");
    }
}

#[test]
fn default_values_render_an_ha_locked_down_operator() {
    let objects = render(&json!({}), "tw", NS).expect("renders");
    let kinds: BTreeSet<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ]),
        "no ServiceMonitor unless asked for"
    );
    let d = one(&objects, "Deployment");
    assert_eq!(d["metadata"]["name"], "tw-tradewind");
    assert_eq!(d["metadata"]["namespace"], NS);
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "tw-tradewind");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/tradewind-dev/tradewind-operator:0.1.0");
    assert_eq!(c["args"], json!(["run"]));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    let env = env_of(d);
    assert_eq!(
        env["TRADEWIND_WORKER_IMAGE"],
        "ghcr.io/tradewind-dev/tradewind-bot:0.1.0"
    );
    assert_eq!(env["TRADEWIND_LEASE_SECONDS"], "15");
    // Workers' metrics: the monitoring namespace only; no image but the worker's.
    assert_eq!(env["TRADEWIND_WORKER_METRICS_NAMESPACE"], "monitoring");
    assert!(!env.contains_key("TRADEWIND_WORKER_METRICS_POD_LABELS"));
    assert!(!env.contains_key("TRADEWIND_ALLOWED_IMAGES"));
    assert_eq!(env["TRADEWIND_LOG_JSON"], "true");
    assert_eq!(env["POD_NAME"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(
        env["POD_NAMESPACE"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert!(
        !env.contains_key("TRADEWIND_NAMESPACE"),
        "all namespaces by default"
    );
    assert!(!env.contains_key("TRADEWIND_NO_LEADER_ELECTION"));
    assert!(!env.contains_key("TRADEWIND_CLOUD"), "no cloud by default");

    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        d["spec"]["selector"]["matchLabels"]
    );
    let svc = one(&objects, "Service");
    assert_eq!(
        svc["spec"]["selector"],
        d["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "metrics");
    let np = one(&objects, "NetworkPolicy");
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
    let crb = one(&objects, "ClusterRoleBinding");
    assert_eq!(crb["subjects"][0]["name"], "tw-tradewind");
    assert_eq!(crb["subjects"][0]["namespace"], NS);
    let leader = one(&objects, "Role");
    assert_eq!(leader["metadata"]["namespace"], NS);
    assert_eq!(
        leader["rules"][1]["resourceNames"],
        json!(["tradewind-operator"])
    );
}

#[test]
fn twctl_values_configure_azure_and_workload_identity() {
    let objects = render(&twctl_values(), "tradewind", NS).expect("renders");
    let d = one(&objects, "Deployment");
    assert_eq!(d["metadata"]["name"], "tradewind");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "twprod.azurecr.io/tradewind-operator:0.1.0");
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let env = env_of(d);
    for (k, v) in [
        ("TRADEWIND_CLOUD", "azure"),
        ("TRADEWIND_AZURE_CLOUD", "AzurePublic"),
        (
            "AZURE_SUBSCRIPTION_ID",
            "00000000-1111-2222-3333-444444444444",
        ),
        ("AZURE_TENANT_ID", "55555555-6666-7777-8888-999999999999"),
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
        ("TRADEWIND_ARM_ENDPOINT", "https://management.azure.com/"),
        ("TRADEWIND_AZURE_RESOURCE_GROUP", "rg-tradewind-prod"),
        ("TRADEWIND_COSMOS_ACCOUNT", "twprodcosmos"),
        ("TRADEWIND_COSMOS_DATABASE", "tradewind"),
        ("TRADEWIND_KEYVAULT_NAME", "tw-prod-kv"),
        ("TRADEWIND_SERVICEBUS_NAMESPACE", "tw-prod-bus"),
        (
            "TRADEWIND_WORKER_IMAGE",
            "twprod.azurecr.io/tradewind-bot:0.1.0",
        ),
    ] {
        assert_eq!(env.get(k), Some(&json!(v)), "{k}");
    }
    // Each bot gets its own identity: the former shared worker identity's settings,
    // still accepted in the values, reach the operator no more.
    for gone in [
        "TRADEWIND_WORKLOAD_IDENTITY_CLIENT_ID",
        "TRADEWIND_WORKER_IDENTITY_NAME",
    ] {
        assert_eq!(env.get(gone), None, "{gone}");
    }
    // Cluster-wide get on Secrets was granted with Azure; now never, and the
    // credentialNamespaces get a Role each.
    let cr = one(&objects, "ClusterRole");
    assert!(
        !cr["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"].to_string().contains("secrets")),
        "no Secret of the cluster is readable cluster-wide"
    );
    let mut with_credentials = twctl_values();
    with_credentials["credentialNamespaces"] = json!(["alice", "bob"]);
    let objects = render(&with_credentials, "tw", NS).expect("renders");
    let roles: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Role" && o["metadata"]["name"] == "tw-tradewind-credentials")
        .collect();
    let namespaces: Vec<&Value> = roles.iter().map(|r| &r["metadata"]["namespace"]).collect();
    assert_eq!(namespaces, [&json!("alice"), &json!("bob")]);
    // get for the credentials; list and watch for the model Secrets the operator watches
    // there (labelled), and it is told where.
    assert_eq!(
        roles[0]["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}])
    );
    assert_eq!(
        env_of(one(&objects, "Deployment"))["TRADEWIND_MODEL_SECRET_NAMESPACES"],
        "alice,bob"
    );
    let bindings = objects
        .iter()
        .filter(|o| {
            o["kind"] == "RoleBinding" && o["metadata"]["name"] == "tw-tradewind-credentials"
        })
        .count();
    assert_eq!(bindings, 2);
    // Namespaced, the operator's own Role there reads that namespace's Secrets.
    let mut namespaced = twctl_values();
    namespaced["watchNamespace"] = json!("bots");
    let objects = render(&namespaced, "tw", NS).expect("renders");
    assert!(objects.iter().all(|o| o["kind"] != "ClusterRole"));
    assert!(objects.iter().any(|o| o["kind"] == "Role"
        && o["metadata"]["namespace"] == "bots"
        && o["rules"].to_string().contains("secrets")));
    assert_eq!(
        env_of(one(&objects, "Deployment"))["TRADEWIND_MODEL_SECRET_NAMESPACES"],
        "bots"
    );
    // Without Azure the operator reads no Secret, so it watches none.
    let no_azure = render(&json!({"credentialNamespaces": ["alice"]}), "tw", NS).expect("renders");
    assert!(
        !env_of(one(&no_azure, "Deployment")).contains_key("TRADEWIND_MODEL_SECRET_NAMESPACES")
    );
    let sa = one(&objects, "ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "12345678-1234-1234-1234-123456789abc"
    );
    // Another cloud moves the endpoints.
    let mut china = twctl_values();
    china["azure"]["cloud"] = json!("AzureChina");
    let objects = render(&china, "tradewind", NS).expect("renders");
    let env = env_of(one(&objects, "Deployment"));
    assert_eq!(
        env["AZURE_AUTHORITY_HOST"],
        "https://login.chinacloudapi.cn/"
    );
    assert_eq!(
        env["TRADEWIND_ARM_ENDPOINT"],
        "https://management.chinacloudapi.cn/"
    );
}

#[test]
fn namespace_scoped_mode_uses_roles_only() {
    let objects = render(&json!({"watchNamespace": "bots"}), "tw", NS).expect("renders");
    assert!(of_kind(&objects, "ClusterRole").is_empty());
    assert!(of_kind(&objects, "ClusterRoleBinding").is_empty());
    let roles = of_kind(&objects, "Role");
    let namespaces: BTreeSet<&str> = roles
        .iter()
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, BTreeSet::from(["bots", NS]));
    let env = env_of(one(&objects, "Deployment"));
    assert_eq!(env["TRADEWIND_NAMESPACE"], "bots");
}

#[test]
fn optional_parts_switch_on_and_off() {
    let objects = render(
        &json!({
            "metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "kube-prometheus"}}},
            "podDisruptionBudget": {"enabled": false},
            "networkPolicy": {"enabled": false},
            "replicaCount": 1,
            "leaderElection": {"enabled": false},
            "image": {"digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
        }),
        "tw",
        NS,
    )
    .expect("renders");
    let sm = one(&objects, "ServiceMonitor");
    assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert!(of_kind(&objects, "PodDisruptionBudget").is_empty());
    assert!(of_kind(&objects, "NetworkPolicy").is_empty());
    assert!(
        of_kind(&objects, "Role").is_empty(),
        "no leader-election Role without election"
    );
    let d = one(&objects, "Deployment");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/tradewind-dev/tradewind-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert_eq!(env_of(d)["TRADEWIND_NO_LEADER_ELECTION"], "true");
}

/// A worker state size gives the operator its flags and, only then, the right to manage
/// PersistentVolumeClaims.
#[test]
fn worker_state_claims_are_configured_and_authorized_only_when_asked_for() {
    let pvc_rule = |objects: &[Value]| {
        one(objects, "ClusterRole")["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"] == json!(["persistentvolumeclaims"]))
    };
    let plain = render(&json!({}), "tw", NS).expect("renders");
    assert!(!pvc_rule(&plain));
    assert!(!env_of(one(&plain, "Deployment")).contains_key("TRADEWIND_WORKER_STATE_SIZE"));
    let objects = render(
        &json!({"workerState": {"size": "2Gi", "storageClass": "managed-csi"}}),
        "tw",
        NS,
    )
    .expect("renders");
    let env = env_of(one(&objects, "Deployment"));
    assert_eq!(env["TRADEWIND_WORKER_STATE_SIZE"], "2Gi");
    assert_eq!(env["TRADEWIND_WORKER_STATE_STORAGE_CLASS"], "managed-csi");
    assert!(pvc_rule(&objects));
    let err = render(&json!({"workerState": {"size": "lots"}}), "tw", NS).unwrap_err();
    assert!(err.contains("workerState"), "{err}");
}

#[test]
fn settlement_runs_only_when_the_platform_is_configured() {
    let plain = render(&json!({}), "tw", NS).expect("renders");
    let env = env_of(one(&plain, "Deployment"));
    assert!(!env.contains_key("TRADEWIND_PLATFORM_IMAGE"));
    assert!(!env.contains_key("TRADEWIND_PLATFORM_DATABASE_SECRET"));
    let objects = render(
        &json!({"image": {"registry": "registry.example"},
                "platform": {"image": {"tag": "1.2.3"},
                             "settlement": {"enabled": true, "databaseSecret": "ledger-db"}}}),
        "tw",
        NS,
    )
    .expect("renders");
    let env = env_of(one(&objects, "Deployment"));
    assert_eq!(
        env["TRADEWIND_PLATFORM_IMAGE"],
        "registry.example/tradewind-platform:1.2.3"
    );
    assert_eq!(env["TRADEWIND_PLATFORM_DATABASE_SECRET"], "ledger-db");
    // Enabled without the Secret: refused, saying what is missing.
    let err = render(
        &json!({"platform": {"settlement": {"enabled": true}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("platform.settlement.databaseSecret"), "{err}");
}

/// `platform.serve`: the ingest's Deployment with exactly the rights it uses, its ledger
/// on a claim (SQLite, one replica, Recreate) or from a Secret (PostgreSQL), and the
/// operator told where workers record.
#[test]
fn the_platform_service_runs_when_enabled_with_only_the_rights_it_uses() {
    let plain = render(&json!({}), "tw", NS).expect("renders");
    assert_eq!(
        of_kind(&plain, "Deployment").len(),
        1,
        "only the operator by default"
    );
    assert!(!env_of(one(&plain, "Deployment")).contains_key("TRADEWIND_PLATFORM_URL"));

    let objects =
        render(&json!({"platform": {"serve": {"enabled": true}}}), "tw", NS).expect("renders");
    let deployments = of_kind(&objects, "Deployment");
    assert_eq!(deployments.len(), 2);
    let named =
        |d: &&Value, suffix: &str| d["metadata"]["name"].as_str().unwrap().ends_with(suffix);
    let platform = deployments
        .iter()
        .find(|d| named(d, "-platform"))
        .expect("platform Deployment");
    let operator = deployments.iter().find(|d| !named(d, "-platform")).unwrap();
    assert_eq!(
        env_of(operator)["TRADEWIND_PLATFORM_URL"],
        "http://tw-tradewind-platform.tradewind-system.svc:8080"
    );
    let pod = &platform["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["args"], json!(["serve"]));
    assert_eq!(platform["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        env_of(platform)["TRADEWIND_DATABASE_URL"],
        "sqlite:/var/lib/tradewind/ledger.db"
    );
    assert_eq!(of_kind(&objects, "PersistentVolumeClaim").len(), 1);
    let service = of_kind(&objects, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "tw-tradewind-platform")
        .expect("platform Service");
    assert_eq!(
        service["spec"]["selector"],
        platform["spec"]["selector"]["matchLabels"]
    );
    let role = of_kind(&objects, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "tw-tradewind-platform")
        .expect("platform ClusterRole");
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {"apiGroups": ["tradewind.dev"], "resources": ["tradingbots"], "verbs": ["get"]},
            {"apiGroups": ["tradewind.dev"], "resources": ["tradingbots"], "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
            {"apiGroups": ["tradewind.dev"], "resources": ["strategies"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create", "patch"]}
        ])
    );
    // The user API: its own port on the pod and the Service, its settings by variable.
    assert_eq!(
        service["spec"]["ports"][1],
        json!({"name": "api", "port": 8081, "targetPort": "api", "protocol": "TCP"})
    );
    let env = env_of(platform);
    assert_eq!(env["TRADEWIND_API_LISTEN"], "0.0.0.0:8081");
    assert_eq!(env["TRADEWIND_TENANCY"], "namespace");
    assert!(
        !env.contains_key("TRADEWIND_OIDC_ISSUER"),
        "no issuer: API keys only"
    );
    let oidc = render(
        &json!({"platform": {"serve": {"enabled": true, "api": {"oidc": {"issuer": "https://login.example/t/v2.0", "audience": "api://tradewind"}}}}}),
        "tw",
        NS,
    )
    .expect("renders");
    let platform_oidc = of_kind(&oidc, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "tw-tradewind-platform")
        .unwrap();
    assert_eq!(
        env_of(platform_oidc)["TRADEWIND_OIDC_AUDIENCE"],
        "api://tradewind"
    );
    let err = render(
        &json!({"platform": {"serve": {"enabled": true, "api": {"oidc": {"issuer": "https://login.example"}}}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("oidc.audience"), "{err}");
    // Off: the ingest's rights only, no API port.
    let off = render(
        &json!({"platform": {"serve": {"enabled": true, "api": {"enabled": false}}}}),
        "tw",
        NS,
    )
    .expect("renders");
    let role_off = of_kind(&off, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "tw-tradewind-platform")
        .unwrap();
    assert_eq!(role_off["rules"].as_array().unwrap().len(), 2);

    // PostgreSQL from a Secret: no claim, the URL by reference, several replicas allowed.
    let pg = render(
        &json!({"platform": {"serve": {"enabled": true, "replicas": 2, "databaseSecret": "ledger-db"}}}),
        "tw",
        NS,
    )
    .expect("renders");
    assert!(of_kind(&pg, "PersistentVolumeClaim").is_empty());
    let platform = of_kind(&pg, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "tw-tradewind-platform")
        .unwrap();
    assert_eq!(
        env_of(platform)["TRADEWIND_DATABASE_URL"],
        json!({"secretKeyRef": {"name": "ledger-db", "key": "url"}})
    );
    // SQLite has one writer: two replicas without PostgreSQL are refused, saying why.
    let err = render(
        &json!({"platform": {"serve": {"enabled": true, "replicas": 2}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("platform.serve.databaseSecret"), "{err}");

    // Notifications: off without a key; the key only by reference to a Secret.
    let platform_env = |values: &Value| {
        let objects = render(values, "tw", NS).expect("renders");
        let d = of_kind(&objects, "Deployment")
            .into_iter()
            .find(|d| d["metadata"]["name"] == "tw-tradewind-platform")
            .unwrap()
            .clone();
        env_of(&d)
    };
    assert!(
        !platform_env(&json!({"platform": {"serve": {"enabled": true}}}))
            .contains_key("TRADEWIND_NOTIFY_KEY")
    );
    let env = platform_env(&json!({"platform": {"serve": {"enabled": true,
        "notifications": {"keySecret": "notify-key"}}}}));
    assert_eq!(
        env["TRADEWIND_NOTIFY_KEY"],
        json!({"secretKeyRef": {"name": "notify-key", "key": "key"}})
    );
    let err = render(
        &json!({"platform": {"serve": {"enabled": true,
            "notifications": {"keySecret": "Not A Name"}}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("keySecret"), "{err}");
}

/// Each bad value is refused by Helm with the schema's message naming the field.
#[test]
fn schema_rejects_bad_values() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"replicaCount": "two"}),
            "at '/replicaCount': got string, want integer",
        ),
        (
            json!({"replicaCount": 0}),
            "at '/replicaCount': minimum: got 0, want 1",
        ),
        (
            json!({"replicas": 2}),
            "additional properties 'replicas' not allowed",
        ),
        (
            json!({"image": {"tag": "latest version"}}),
            "at '/image/tag'",
        ),
        (
            json!({"image": {"digest": "md5:abc"}}),
            "at '/image/digest'",
        ),
        (
            json!({"image": {"pullPolicy": "Sometimes"}}),
            "at '/image/pullPolicy'",
        ),
        (json!({"watchNamespace": "Bots_NS"}), "at '/watchNamespace'"),
        (json!({"log": {"format": "xml"}}), "at '/log/format'"),
        (
            json!({"metrics": {"port": 80}}),
            "at '/metrics/port': minimum: got 80, want 1,024",
        ),
        (
            json!({"leaderElection": {"enabled": false}}),
            "at '/leaderElection/enabled'",
        ),
        // The defaults are empty strings, so each required setting is named.
        (
            json!({"azure": {"enabled": true}}),
            "at '/azure/tenantId': '' does not match pattern",
        ),
        (
            json!({"azure": {"enabled": true}}),
            "at '/azure/keyVault/name': '' does not match pattern",
        ),
        (
            {
                let mut v = twctl_values();
                v["azure"]["subscriptionId"] = json!("my-subscription");
                v
            },
            "at '/azure/subscriptionId'",
        ),
        (
            {
                let mut v = twctl_values();
                v["azure"]["cloud"] = json!("AzureGermany");
                v
            },
            "at '/azure/cloud'",
        ),
        (
            json!({"azure": {"enabled": false, "keyvault": {}}}),
            "additional properties 'keyvault' not allowed",
        ),
    ];
    for (values, expected) in cases {
        match render(&values, "tw", NS) {
            Ok(_) => panic!("values {values} were accepted"),
            Err(message) => assert!(
                message.contains("values don't meet the specifications of the schema")
                    && message.contains(expected),
                "values {values}: expected {expected:?} in:\n{message}"
            ),
        }
    }
}

#[test]
fn chart_crds_are_the_generated_ones() {
    let dir = chart_dir().join("crds");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = manifests::all()
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "charts/tradewind/crds holds exactly the CRDs; run `make crds`"
    );
    for (file, crd) in manifests::all() {
        let committed = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            committed == manifests::render(&crd).unwrap(),
            "charts/tradewind/crds/{file} differs from the Rust types; run `make crds` and commit"
        );
    }
}

fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn readme_describes_every_value() {
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart_dir().join("values.yaml")).unwrap())
            .unwrap();
    let readme = std::fs::read_to_string(chart_dir().join("README.md")).unwrap();
    let mut all = Vec::new();
    leaves("", &values, &mut all);
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| !readme.contains(&format!("| `{k}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "values missing from the chart README's table: {missing:?}"
    );
}

/// The chart passes the platform engineer's image allowlist and metrics scrapers to the
/// operator as flags it parses.
#[test]
fn allowed_images_and_metrics_scrapers_reach_the_operator() {
    let values = json!({
        "allowedImages": ["myacr.azurecr.io/approved/", "other.io/bot@sha256:0123"],
        "workerMetrics": {"namespace": "observability", "podLabels": {"app": "prometheus", "team": "sre"}}
    });
    let objects = render(&values, "tw", NS).expect("renders");
    let d = one(&objects, "Deployment");
    let env = env_of(d);
    assert_eq!(
        env["TRADEWIND_ALLOWED_IMAGES"],
        "myacr.azurecr.io/approved/,other.io/bot@sha256:0123"
    );
    assert_eq!(env["TRADEWIND_WORKER_METRICS_NAMESPACE"], "observability");
    assert_eq!(
        env["TRADEWIND_WORKER_METRICS_POD_LABELS"],
        "app=prometheus,team=sre"
    );
}

/// `spec.credentials.secretRef` could name any Secret of the namespace; the chart now
/// ships an admission policy that lets a bot name only a Secret its author may read
/// (checked by the API server's authorizer), bound to the watched namespace when there
/// is one. (Rendered and checked here; the in-memory API server does not run admission
/// policies, so the policy's effect is not exercised by these tests.)
#[test]
fn a_bot_may_name_only_credentials_its_author_may_read() {
    let objects = render(&json!({}), "tw", NS).expect("renders");
    let policy = one(&objects, "ValidatingAdmissionPolicy");
    let rule = &policy["spec"]["matchConstraints"]["resourceRules"][0];
    assert_eq!(rule["resources"], json!(["tradingbots"]));
    assert_eq!(rule["operations"], json!(["CREATE", "UPDATE"]));
    let check = policy["spec"]["validations"][0]["expression"]
        .as_str()
        .unwrap();
    assert!(
        check.contains("authorizer.group('').resource('secrets')")
            && check.contains(".check('get').allowed()"),
        "{check}"
    );
    let binding = one(&objects, "ValidatingAdmissionPolicyBinding");
    assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
    assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
    assert!(binding["spec"]["matchResources"].is_null());
    let objects = render(&json!({"watchNamespace": "bots"}), "tw", NS).expect("renders");
    let binding = one(&objects, "ValidatingAdmissionPolicyBinding");
    assert_eq!(
        binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "bots"
    );
    let objects =
        render(&json!({"credentialsPolicy": {"enabled": false}}), "tw", NS).expect("renders");
    assert!(
        objects
            .iter()
            .all(|o| o["kind"] != "ValidatingAdmissionPolicy")
    );
}

/// `marketData`: off by default; enabled, the chart deploys NATS with JetStream (a
/// StatefulSet of the official image with its store on a claim, a client Service) and
/// the operator is told its URL; with `natsUrl` it deploys none and passes that URL.
#[test]
fn the_market_data_feed_deploys_nats_or_points_at_an_existing_one() {
    let plain = render(&json!({}), "tw", NS).expect("renders");
    assert!(of_kind(&plain, "StatefulSet").is_empty());
    assert!(!env_of(one(&plain, "Deployment")).contains_key("TRADEWIND_NATS_URL"));

    let objects = render(&json!({"marketData": {"enabled": true}}), "tw", NS).expect("renders");
    let nats = one(&objects, "StatefulSet");
    assert_eq!(nats["metadata"]["name"], "tw-tradewind-nats");
    let pod = &nats["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["image"],
        "docker.io/library/nats:2.10.24-alpine"
    );
    assert_eq!(
        nats["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "25Gi"
    );
    // Its selector matches its pods and not the operator's.
    let selector = &nats["spec"]["selector"]["matchLabels"];
    assert_eq!(selector["app.kubernetes.io/name"], "tradewind-nats");
    let config = of_kind(&objects, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == "tw-tradewind-nats")
        .expect("the NATS config");
    assert!(
        config["data"]["nats.conf"]
            .as_str()
            .unwrap()
            .contains("store_dir: /data")
    );
    let service = of_kind(&objects, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "tw-tradewind-nats")
        .expect("the NATS Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 4222);
    let operator = of_kind(&objects, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "tw-tradewind")
        .expect("the operator");
    let env = env_of(operator);
    assert_eq!(
        env["TRADEWIND_NATS_URL"],
        format!("nats://tw-tradewind-nats.{NS}.svc:4222")
    );
    assert_eq!(env["TRADEWIND_FEED_SUBJECT_PREFIX"], "tw.md");
    assert_eq!(env["TRADEWIND_FEED_REPLICAS"], "2");
    assert_eq!(env["TRADEWIND_FEED_NAMESPACE"], NS);

    let existing = render(
        &json!({"marketData": {"enabled": true, "natsUrl": "nats://nats.messaging:4222"}}),
        "tw",
        NS,
    )
    .expect("renders");
    assert!(of_kind(&existing, "StatefulSet").is_empty());
    assert_eq!(
        env_of(one(&existing, "Deployment"))["TRADEWIND_NATS_URL"],
        "nats://nats.messaging:4222"
    );
    // A URL that is not NATS's is refused by the schema, naming the value.
    let err = render(
        &json!({"marketData": {"enabled": true, "natsUrl": "http://nats:4222"}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("natsUrl"), "{err}");
}

/// With the values twctl writes for an environment with PostgreSQL (`azure.postgres.url`
/// without a password, `azure.platformIdentity.clientId`), the platform runs with its
/// workload identity and that URL, so it signs in with its Entra ID token; no SQLite
/// claim. A `databaseSecret` still wins.
#[test]
fn the_platform_signs_in_to_twctls_postgres_as_its_identity() {
    let url = "postgres://tradewind-prod-platform@pg.postgres.database.azure.com:5432/ledger?sslmode=require";
    let azure = json!({
        "enabled": true,
        "subscriptionId": "00000000-0000-0000-0000-000000000001",
        "tenantId": "00000000-0000-0000-0000-000000000002",
        "resourceGroup": "rg-tw",
        "keyVault": {"name": "kv-tw"},
        "serviceBus": {"namespace": "sb-tradewind"},
        "cosmos": {"account": "twcosmos", "database": "tw", "endpoint": "https://twcosmos.documents.azure.com:443/"},
        "platformIdentity": {"clientId": "99999999-2222-3333-4444-555555555555", "name": "tradewind-prod-platform"},
        "postgres": {"host": "pg.postgres.database.azure.com", "port": 5432, "database": "ledger",
                     "user": "tradewind-prod-platform", "sslmode": "require", "url": url}
    });
    let platform_of = |values: Value| {
        let objects = render(&values, "tw", NS).expect("renders");
        let platform = of_kind(&objects, "Deployment")
            .into_iter()
            .find(|d| d["metadata"]["name"] == "tw-tradewind-platform")
            .cloned()
            .expect("the platform");
        let sa = of_kind(&objects, "ServiceAccount")
            .into_iter()
            .find(|d| d["metadata"]["name"] == "tw-tradewind-platform")
            .cloned()
            .expect("the platform's ServiceAccount");
        let claims = of_kind(&objects, "PersistentVolumeClaim").len();
        (platform, sa, claims)
    };
    let (platform, sa, claims) =
        platform_of(json!({"platform": {"serve": {"enabled": true}}, "azure": azure}));
    assert_eq!(env_of(&platform)["TRADEWIND_DATABASE_URL"], url);
    assert_eq!(
        platform["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "99999999-2222-3333-4444-555555555555"
    );
    assert_eq!(claims, 0, "no SQLite claim");
    assert_eq!(platform["spec"]["strategy"]["type"], "RollingUpdate");

    let (platform, _, _) = platform_of(json!({
        "platform": {"serve": {"enabled": true, "databaseSecret": "ledger-db"}},
        "azure": azure
    }));
    assert_eq!(
        env_of(&platform)["TRADEWIND_DATABASE_URL"]["secretKeyRef"]["name"],
        "ledger-db"
    );
}

/// The feeds' own identity from the values twctl writes (`azure.feedIdentity`): the chart
/// creates the feeds' ServiceAccount in the feeds' namespace, annotated with the
/// identity's client ID for workload identity, and the operator runs the feed pods as it.
/// Without the identity no ServiceAccount is made.
#[test]
fn the_feeds_service_account_is_federated_with_twctls_feed_identity() {
    let azure = json!({
        "enabled": true,
        "subscriptionId": "00000000-0000-0000-0000-000000000001",
        "tenantId": "00000000-0000-0000-0000-000000000002",
        "resourceGroup": "rg-tw",
        "keyVault": {"name": "kv-tw"},
        "serviceBus": {"namespace": "sb-tradewind"},
        "cosmos": {"account": "twcosmos", "database": "tw", "endpoint": "https://twcosmos.documents.azure.com:443/"},
        "feedIdentity": {"clientId": "11111111-2222-3333-4444-555555555555", "name": "tw-feed", "serviceAccount": "tradewind-feed"}
    });
    let objects = render(
        &json!({"marketData": {"enabled": true}, "azure": azure}),
        "tw",
        NS,
    )
    .expect("renders");
    let sa = of_kind(&objects, "ServiceAccount")
        .into_iter()
        .find(|o| o["metadata"]["name"] == "tradewind-feed")
        .cloned()
        .expect("the feeds' ServiceAccount");
    assert_eq!(sa["metadata"]["namespace"], NS);
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(
        sa["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    let operator = of_kind(&objects, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "tw-tradewind")
        .cloned()
        .expect("the operator");
    assert_eq!(
        env_of(&operator)["TRADEWIND_FEED_SERVICE_ACCOUNT"],
        "tradewind-feed"
    );

    let mut without = azure.clone();
    without.as_object_mut().unwrap().remove("feedIdentity");
    let objects = render(
        &json!({"marketData": {"enabled": true}, "azure": without}),
        "tw",
        NS,
    )
    .expect("renders");
    assert!(
        of_kind(&objects, "ServiceAccount")
            .iter()
            .all(|o| o["metadata"]["name"] != "tradewind-feed")
    );
}

/// `marketData` with Azure: the operator is given the market-data container (from the
/// values twctl writes, `azure.cosmos.*` and `azure.marketData.*`, or `marketData.cosmos`)
/// and the archive, for the feeds and the Paper and Live workers.
#[test]
fn the_market_data_store_reaches_the_operator() {
    let md_env = |values: Value| {
        let objects = render(&values, "tw", NS).expect("renders");
        let operator = of_kind(&objects, "Deployment")
            .into_iter()
            .find(|d| d["metadata"]["name"] == "tw-tradewind")
            .cloned()
            .expect("the operator");
        env_of(&operator)
            .into_iter()
            .filter(|(k, _)| k.contains("MARKETDATA") || k.starts_with("TRADEWIND_FEED_"))
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    // Without Azure and without values: nothing stored.
    let plain = md_env(json!({"marketData": {"enabled": true}}));
    assert!(!plain.contains_key("TRADEWIND_MARKETDATA_COSMOS_ENDPOINT"));
    assert!(!plain.contains_key("TRADEWIND_MARKETDATA_ARCHIVE"));
    // As twctl env apply writes the values.
    let twctl = md_env(json!({
        "marketData": {"enabled": true, "feedServiceAccount": "tradewind-feed"},
        "azure": {
            "enabled": true,
            "subscriptionId": "00000000-0000-0000-0000-000000000001",
            "tenantId": "00000000-0000-0000-0000-000000000002",
            "resourceGroup": "rg-tw",
            "keyVault": {"name": "kv-tw"},
            "serviceBus": {"namespace": "sb-tradewind"},
            "cosmos": {"account": "twcosmos", "database": "tw", "endpoint": "https://twcosmos.documents.azure.com:443/",
                       "marketDataContainer": "market"},
            "marketData": {"cosmosContainer": "market", "archiveContainer": "marketdata-archive",
                           "blobEndpoint": "https://twstore.blob.core.windows.net/"},
            "storage": {"account": "twstore", "blobEndpoint": "https://twstore.blob.core.windows.net/"}
        }
    }));
    assert_eq!(
        twctl["TRADEWIND_MARKETDATA_COSMOS_ENDPOINT"],
        "https://twcosmos.documents.azure.com:443/"
    );
    assert_eq!(twctl["TRADEWIND_MARKETDATA_COSMOS_DATABASE"], "tw");
    assert_eq!(twctl["TRADEWIND_MARKETDATA_COSMOS_CONTAINER"], "market");
    assert_eq!(
        twctl["TRADEWIND_MARKETDATA_ARCHIVE"],
        "blob://twstore/marketdata-archive"
    );
    assert_eq!(
        twctl["TRADEWIND_FEED_BLOB_ENDPOINT"],
        "https://twstore.blob.core.windows.net/"
    );
    assert_eq!(twctl["TRADEWIND_FEED_SERVICE_ACCOUNT"], "tradewind-feed");
    // Explicit values, a volume archive without Azure.
    let own = md_env(json!({"marketData": {
        "enabled": true,
        "cosmos": {"endpoint": "https://other.documents.azure.com:443/"},
        "archive": "archive:/var/lib/tradewind/archive",
        "archiveClaim": "feed-archive"
    }}));
    assert_eq!(
        own["TRADEWIND_MARKETDATA_COSMOS_ENDPOINT"],
        "https://other.documents.azure.com:443/"
    );
    assert_eq!(own["TRADEWIND_MARKETDATA_COSMOS_DATABASE"], "tradewind");
    assert_eq!(own["TRADEWIND_MARKETDATA_COSMOS_CONTAINER"], "marketdata");
    assert_eq!(
        own["TRADEWIND_MARKETDATA_ARCHIVE"],
        "archive:/var/lib/tradewind/archive"
    );
    assert_eq!(own["TRADEWIND_FEED_ARCHIVE_CLAIM"], "feed-archive");
    let err = render(
        &json!({"marketData": {"enabled": true, "archive": "s3://bucket"}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("archive"), "{err}");
}

/// `platform.serve.api.internalLoadBalancer`: the API on an internal Azure load balancer
/// (API Management's private backend), only when asked; `telemetry.otlpEndpoint`: every
/// workload the chart runs exports there, naming itself, and the operator's egress opens
/// the endpoint's port.
#[test]
fn internal_load_balancer_and_otlp_endpoint_reach_the_workloads() {
    let serve = json!({"platform": {"serve": {"enabled": true}}});
    let plain = render(&serve, "tw", NS).expect("renders");
    assert!(
        of_kind(&plain, "Service")
            .iter()
            .all(|s| s["spec"]["type"] != "LoadBalancer"),
        "no load balancer unless asked"
    );
    for d in of_kind(&plain, "Deployment") {
        assert!(!env_of(d).contains_key("OTEL_EXPORTER_OTLP_ENDPOINT"));
    }

    let values = json!({
        "platform": {"serve": {"enabled": true, "api": {"internalLoadBalancer": {
            "enabled": true, "port": 80, "loadBalancerIP": "10.40.15.250"}}}},
        "telemetry": {"otlpEndpoint": "http://otel-collector.monitoring:4318",
                      "resourceAttributes": "deployment.environment.name=prod"},
    });
    let objects = render(&values, "tw", NS).expect("renders");
    let lb = of_kind(&objects, "Service")
        .into_iter()
        .find(|s| s["spec"]["type"] == "LoadBalancer")
        .expect("the internal load balancer Service");
    assert_eq!(lb["metadata"]["name"], "tw-tradewind-platform-api-internal");
    let annotations = &lb["metadata"]["annotations"];
    assert_eq!(
        annotations["service.beta.kubernetes.io/azure-load-balancer-internal"],
        "true"
    );
    assert_eq!(
        annotations["service.beta.kubernetes.io/azure-load-balancer-ipv4"],
        "10.40.15.250"
    );
    assert!(
        annotations["service.beta.kubernetes.io/azure-load-balancer-internal-subnet"].is_null()
    );
    assert_eq!(
        lb["spec"]["ports"],
        json!([{"name": "api", "port": 80, "targetPort": "api", "protocol": "TCP"}])
    );
    let platform = of_kind(&objects, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "tw-tradewind-platform")
        .expect("platform Deployment");
    assert_eq!(
        lb["spec"]["selector"],
        platform["spec"]["selector"]["matchLabels"]
    );
    for d in of_kind(&objects, "Deployment") {
        let env = env_of(d);
        let service = if d["metadata"]["name"] == "tw-tradewind-platform" {
            "tradewind-platform"
        } else {
            "tradewind-operator"
        };
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_ENDPOINT"],
            "http://otel-collector.monitoring:4318"
        );
        assert_eq!(env["OTEL_SERVICE_NAME"], service);
        assert_eq!(
            env["OTEL_RESOURCE_ATTRIBUTES"],
            "service.namespace=tradewind,k8s.namespace.name=tradewind-system,deployment.environment.name=prod"
        );
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"],
            "delta"
        );
    }
    let np = one(&objects, "NetworkPolicy");
    let ports: Vec<&Value> = np["spec"]["egress"][1]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["port"])
        .collect();
    assert_eq!(ports, [&json!(443), &json!(6443), &json!(4318)]);
    // A load balancer port that is no port is refused by the schema.
    let err = render(
        &json!({"platform": {"serve": {"enabled": true, "api": {"internalLoadBalancer": {"enabled": true, "loadBalancerIP": "10.40.15"}}}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("loadBalancerIP"), "{err}");
}

/// The collector's object of `kind` (all are named `<release>-otel-collector`, the
/// ServiceAccount aside).
fn collector_object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    of_kind(objects, kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == "tw-tradewind-otel-collector")
        .unwrap_or_else(|| panic!("the collector's {kind}"))
}

/// `telemetry.collector`: an OpenTelemetry Collector that receives the programs' OTLP and
/// exports to Application Insights, its connection string read from a Secret, never from
/// values; the programs export to it when no endpoint is set.
#[test]
fn the_collector_exports_to_application_insights_with_a_connection_string_from_a_secret() {
    // The connection string needs exactly one source, and is never a value.
    let err = render(
        &json!({"telemetry": {"collector": {"enabled": true}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(
        err.contains("telemetry.collector") && err.contains("connectionStringSecret.name"),
        "{err}"
    );
    let err = render(
        &json!({"telemetry": {"collector": {"enabled": true,
            "connectionStringSecret": {"name": "appinsights"}, "keyVault": {"enabled": true}}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("not both"), "{err}");
    let err = render(
        &json!({"telemetry": {"collector": {"enabled": true,
            "connectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000"}}}),
        "tw",
        NS,
    )
    .unwrap_err();
    assert!(err.contains("connectionString"), "{err}");

    let values = json!({
        "platform": {"serve": {"enabled": true}},
        "telemetry": {"collector": {"enabled": true, "connectionStringSecret": {"name": "appinsights"}}},
    });
    let objects = render(&values, "tw", NS).expect("renders");
    assert!(
        of_kind(&objects, "Secret").is_empty(),
        "the chart writes no Secret"
    );
    assert!(of_kind(&objects, "SecretProviderClass").is_empty());

    let d = collector_object(&objects, "Deployment");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "tw-tradewind-otel-collector");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(
        c["image"],
        "docker.io/otel/opentelemetry-collector-contrib:0.116.0"
    );
    assert_eq!(c["args"], json!(["--config=/conf/collector.yaml"]));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(c["resources"]["limits"]["memory"], "512Mi");
    assert_eq!(c["resources"]["requests"]["cpu"], "100m");
    let env = env_of(d);
    assert_eq!(
        env["APPLICATIONINSIGHTS_CONNECTION_STRING"],
        json!({"secretKeyRef": {"name": "appinsights", "key": "connection-string"}})
    );
    assert_eq!(
        env["GOMEMLIMIT"]["resourceFieldRef"]["resource"],
        "limits.memory"
    );
    let sa = of_kind(&objects, "ServiceAccount")
        .into_iter()
        .find(|o| o["metadata"]["name"] == "tw-tradewind-otel-collector")
        .expect("the collector's ServiceAccount");
    assert!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"].is_null(),
        "no identity: {sa}"
    );

    let svc = collector_object(&objects, "Service");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"name": "otlp-http", "port": 4318, "targetPort": "otlp-http", "protocol": "TCP"}])
    );
    assert_eq!(
        svc["spec"]["selector"],
        d["spec"]["selector"]["matchLabels"]
    );
    let pod_labels = d["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(pod_labels.get(k), Some(v), "the Service selects the pods");
    }

    // The configuration: every pipeline names receivers, processors and exporters that
    // are defined, the exporter is Azure Monitor's, its connection string the variable.
    let cm = collector_object(&objects, "ConfigMap");
    let config: Value =
        serde_saphyr::from_str(cm["data"]["collector.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        "0.0.0.0:4318"
    );
    assert_eq!(
        config["exporters"]["azuremonitor"]["connection_string"],
        "${env:APPLICATIONINSIGHTS_CONNECTION_STRING}"
    );
    let pipelines = config["service"]["pipelines"].as_object().unwrap();
    assert_eq!(
        pipelines.keys().map(String::as_str).collect::<Vec<_>>(),
        ["metrics", "traces"]
    );
    for (name, pipeline) in pipelines {
        for section in ["receivers", "processors", "exporters"] {
            let used = pipeline[section].as_array().unwrap();
            assert!(!used.is_empty() || section == "processors", "{name}");
            for component in used {
                let component = component.as_str().unwrap();
                assert!(
                    config[section].get(component).is_some(),
                    "pipeline {name} names {section} {component}, which is not defined"
                );
            }
        }
        assert_eq!(pipeline["exporters"], json!(["azuremonitor"]), "{name}");
        assert_eq!(
            pipeline["processors"].as_array().unwrap().last(),
            Some(&json!("batch"))
        );
    }
    for extension in config["service"]["extensions"].as_array().unwrap() {
        assert!(
            config["extensions"]
                .get(extension.as_str().unwrap())
                .is_some()
        );
    }
    let probe_port = &c["readinessProbe"]["httpGet"]["port"];
    let health = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| &p["name"] == probe_port)
        .expect("the probe's port");
    assert!(
        config["extensions"]["health_check"]["endpoint"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", health["containerPort"]))
    );

    // With no endpoint set, the operator (which passes it to every worker and settlement
    // job) and the platform export to the collector's Service; the operator's
    // NetworkPolicy opens the port; the collector's own lets OTLP in from any namespace.
    let endpoint = "http://tw-tradewind-otel-collector.tradewind-system.svc:4318";
    for name in ["tw-tradewind", "tw-tradewind-platform"] {
        let d = of_kind(&objects, "Deployment")
            .into_iter()
            .find(|d| d["metadata"]["name"] == name)
            .expect(name);
        assert_eq!(env_of(d)["OTEL_EXPORTER_OTLP_ENDPOINT"], endpoint, "{name}");
    }
    let np = of_kind(&objects, "NetworkPolicy")
        .into_iter()
        .find(|n| n["metadata"]["name"] == "tw-tradewind")
        .unwrap();
    assert!(
        np["spec"]["egress"][1]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["port"] == 4318)
    );
    let cnp = collector_object(&objects, "NetworkPolicy");
    assert_eq!(
        cnp["spec"]["podSelector"]["matchLabels"],
        d["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        cnp["spec"]["ingress"],
        json!([{"ports": [{"port": 4318, "protocol": "TCP"}], "from": [{"namespaceSelector": {}}]}])
    );

    // A set endpoint wins over the chart's collector.
    let mut explicit = values.clone();
    explicit["telemetry"]["otlpEndpoint"] = json!("http://otel.monitoring:4318");
    let objects = render(&explicit, "tw", NS).expect("renders");
    for d in of_kind(&objects, "Deployment") {
        if d["metadata"]["name"] != "tw-tradewind-otel-collector" {
            assert_eq!(
                env_of(d)["OTEL_EXPORTER_OTLP_ENDPOINT"],
                "http://otel.monitoring:4318"
            );
        }
    }
}

/// With the values twctl writes, the collector reads the vault's connection-string secret
/// through the Secrets Store CSI driver, signed in as its own identity.
#[test]
fn the_collector_reads_twctls_vault_secret_as_its_own_identity() {
    let mut values = twctl_values();
    values["azure"]["applicationInsights"] = json!({"connectionStringSecret": {
        "vaultUri": "https://tw-prod-kv.vault.azure.net/", "name": "appinsights-connection-string"}});
    values["telemetry"] = json!({"collector": {"enabled": true, "keyVault": {"enabled": true}}});
    // No collector identity: nothing may read the secret.
    let err = render(&values, "tw", NS).unwrap_err();
    assert!(err.contains("azure.collectorIdentity.clientId"), "{err}");

    values["azure"]["collectorIdentity"] = json!({"clientId": "66666666-7777-8888-9999-000000000000",
        "name": "tw-collector", "serviceAccount": "tradewind-otel-collector"});
    let objects = render(&values, "tw", NS).expect("renders");
    let spc = collector_object(&objects, "SecretProviderClass");
    assert_eq!(spc["apiVersion"], "secrets-store.csi.x-k8s.io/v1");
    let params = &spc["spec"]["parameters"];
    assert_eq!(spc["spec"]["provider"], "azure");
    assert_eq!(params["usePodIdentity"], "false");
    assert_eq!(params["clientID"], "66666666-7777-8888-9999-000000000000");
    assert_eq!(params["keyvaultName"], "tw-prod-kv");
    assert_eq!(params["tenantId"], "55555555-6666-7777-8888-999999999999");
    assert_eq!(params["cloudName"], "AzurePublicCloud");
    let objects_param: Value = serde_saphyr::from_str(params["objects"].as_str().unwrap()).unwrap();
    let object: Value =
        serde_saphyr::from_str(objects_param["array"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        object,
        json!({"objectName": "appinsights-connection-string", "objectType": "secret"})
    );
    let synced = &spc["spec"]["secretObjects"][0];
    assert_eq!(
        synced["data"],
        json!([{"objectName": "appinsights-connection-string", "key": "connection-string"}])
    );

    let d = collector_object(&objects, "Deployment");
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "tradewind-otel-collector");
    assert_eq!(
        pod["volumes"][1]["csi"],
        json!({"driver": "secrets-store.csi.k8s.io", "readOnly": true,
               "volumeAttributes": {"secretProviderClass": "tw-tradewind-otel-collector"}})
    );
    assert_eq!(
        env_of(d)["APPLICATIONINSIGHTS_CONNECTION_STRING"],
        json!({"secretKeyRef": {"name": synced["secretName"], "key": "connection-string"}})
    );
    let sa = of_kind(&objects, "ServiceAccount")
        .into_iter()
        .find(|o| o["metadata"]["name"] == "tradewind-otel-collector")
        .expect("the federated ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "66666666-7777-8888-9999-000000000000"
    );
    assert!(of_kind(&objects, "Secret").is_empty());
}
