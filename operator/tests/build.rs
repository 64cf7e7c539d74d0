//! The build step from the example resources: every child, its ownership, the worker's
//! hardening, RBAC scope and the configuration hash.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Container;
use tradewind_crds::bundle::{self, Bundle};
use tradewind_crds::resolved::BotConfig;
use tradewind_operator::build::{self, CONFIG_HASH_ANNOTATION, Children, OperatorConfig};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn root() -> PathBuf {
    manifest_dir().join("..")
}

fn load(bot: &str, strategy: &str, plan: &str) -> Bundle {
    let files: Vec<PathBuf> = [bot, strategy, plan]
        .iter()
        .map(|f| root().join(f))
        .collect();
    let mut b = bundle::load(&files, None).unwrap();
    b.bot.metadata.namespace = Some("trading".into());
    b.bot.metadata.uid = Some("7c0e2f58-1111-4c6e-9f00-000000000001".into());
    b
}

fn live() -> Bundle {
    load(
        "examples/bots/live.yaml",
        "examples/strategies/grid.yaml",
        "examples/commission-plans/tiered-referral.yaml",
    )
}

fn paper() -> Bundle {
    load(
        "examples/bots/paper.yaml",
        "examples/strategies/rsi-reversion.yaml",
        "examples/commission-plans/tiered-referral.yaml",
    )
}

fn build(b: &Bundle, op: &OperatorConfig) -> Children {
    build::children(&b.bot, &b.config, op).unwrap()
}

fn worker(c: &Children) -> &Container {
    &c.deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

#[test]
fn every_child_is_owned_by_the_bot_and_lives_in_its_namespace() {
    let b = live();
    let c = build(&b, &OperatorConfig::default());
    let metas = [
        &c.config_map.metadata,
        &c.service_account.metadata,
        &c.lease.metadata,
        &c.role.metadata,
        &c.role_binding.metadata,
        &c.deployment.metadata,
        &c.service.metadata,
        &c.network_policy.metadata,
    ];
    for m in metas {
        assert_eq!(m.namespace.as_deref(), Some("trading"));
        let owners = m.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        let o = &owners[0];
        assert_eq!(
            (o.kind.as_str(), o.name.as_str(), o.uid.as_str()),
            (
                "TradingBot",
                "btc-grid-live",
                "7c0e2f58-1111-4c6e-9f00-000000000001"
            )
        );
        assert_eq!(
            (o.controller, o.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(
            m.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "tradewind-operator"
        );
    }
}

#[test]
fn the_worker_runs_locked_down_with_one_replica_and_recreate() {
    let c = build(&live(), &OperatorConfig::default());
    let spec = c.deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.strategy.as_ref().unwrap().type_.as_deref(),
        Some("Recreate")
    );
    let pod = spec.template.spec.as_ref().unwrap();
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let w = worker(&c);
    let sc = w.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_owned()][..])
    );
    let live = w
        .liveness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(live.path.as_deref(), Some("/healthz"));
    assert_eq!(
        w.image.as_deref(),
        Some(OperatorConfig::default().worker_image.as_str())
    );
    assert_eq!(
        spec.template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[CONFIG_HASH_ANNOTATION],
        c.config_hash
    );
}

#[test]
fn live_mode_mounts_the_secret_and_paper_mode_does_not() {
    let c = build(&live(), &OperatorConfig::default());
    let pod = c
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let creds = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "credentials")
        .expect("credentials volume");
    let secret = creds.secret.as_ref().unwrap();
    assert_eq!(secret.secret_name.as_deref(), Some("binance-testnet-alice"));
    assert_eq!(secret.default_mode, Some(0o400));
    let c = build(&paper(), &OperatorConfig::default());
    let pod = c
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    assert!(
        pod.volumes
            .as_ref()
            .unwrap()
            .iter()
            .all(|v| v.name != "credentials")
    );
    // Paper bot sets its own resources.
    let req = worker(&c)
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap();
    assert_eq!(req["cpu"].0, "50m");
}

#[test]
fn suspend_scales_to_zero_and_image_override_wins() {
    let mut b = paper();
    b.bot.spec.suspend = true;
    b.bot.spec.image = Some("registry.example/bot:pinned".into());
    let c = build(&b, &OperatorConfig::default());
    assert_eq!(c.deployment.spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(
        worker(&c).image.as_deref(),
        Some("registry.example/bot:pinned")
    );
}

#[test]
fn the_role_grants_exactly_its_own_status_and_lease() {
    let c = build(&live(), &OperatorConfig::default());
    let rules = c.role.rules.as_ref().unwrap();
    let flat: Vec<(String, String, Vec<String>, Vec<String>)> = rules
        .iter()
        .map(|r| {
            (
                r.api_groups.as_ref().unwrap().join(","),
                r.resources.as_ref().unwrap().join(","),
                r.resource_names.clone().unwrap(),
                r.verbs.clone(),
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        flat,
        vec![
            (
                "tradewind.dev".into(),
                "tradingbots".into(),
                s(&["btc-grid-live"]),
                s(&["get"])
            ),
            (
                "tradewind.dev".into(),
                "tradingbots/status".into(),
                s(&["btc-grid-live"]),
                s(&["get", "patch"])
            ),
            (
                "coordination.k8s.io".into(),
                "leases".into(),
                s(&["btc-grid-live-lease"]),
                s(&["get", "update", "patch"])
            ),
        ]
    );
    let subject = &c.role_binding.subjects.as_ref().unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("btc-grid-live-worker", Some("trading"))
    );
}

#[test]
fn workers_are_told_where_their_azure_resources_are() {
    use tradewind_operator::build::WorkerAzure;
    let op = OperatorConfig {
        azure: Some(WorkerAzure {
            cosmos_endpoint: Some("https://acct.documents.azure.com:443/".into()),
            cosmos_database: "tradewind".into(),
            key_vault_uri: Some("https://kv.vault.azure.net/".into()),
            service_bus_endpoint: Some("https://ns.servicebus.windows.net:443/".into()),
        }),
        ..OperatorConfig::default()
    };
    let mut bot = live();
    bot.bot.spec.cloud =
        serde_json::from_value(serde_json::json!({"cosmos": true, "serviceBus": true})).unwrap();
    let c = build(&bot, &op);
    let env: Vec<(String, String)> = c.deployment.spec.unwrap().template.spec.unwrap().containers
        [0]
    .env
    .clone()
    .unwrap()
    .into_iter()
    .filter_map(|e| Some((e.name, e.value?)))
    .filter(|(n, _)| n.starts_with("TRADEWIND_"))
    .collect();
    let ns = bot.bot.metadata.namespace.clone().unwrap();
    let name = bot.bot.metadata.name.clone().unwrap();
    assert_eq!(
        env,
        vec![
            (
                "TRADEWIND_SERVICEBUS_ENDPOINT".into(),
                "https://ns.servicebus.windows.net:443/".into()
            ),
            ("TRADEWIND_SERVICEBUS_TOPIC".into(), format!("{ns}.{name}")),
            (
                "TRADEWIND_BOT_COSMOS_ENDPOINT".into(),
                "https://acct.documents.azure.com:443/".into()
            ),
            ("TRADEWIND_BOT_COSMOS_DATABASE".into(), "tradewind".into()),
            (
                "TRADEWIND_BOT_COSMOS_CONTAINER".into(),
                tradewind_azure::bot::names_for(&tradewind_azure::bot::BotRef {
                    namespace: ns.clone(),
                    name: name.clone(),
                    service_account: format!("{name}-worker"),
                })
                .unwrap()
                .container
            ),
        ],
        "no Key Vault env: the bot did not ask for it"
    );
    // Without Azure settings the worker gets none of it.
    let plain = build(&bot, &OperatorConfig::default());
    let names: Vec<String> = plain
        .deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["POD_NAME", "POD_NAMESPACE"]);
}

/// Each bot signs in as its own identity: the ServiceAccount carries that identity's
/// client ID, the pods the webhook's label and the same ID (so a new identity rolls them,
/// and the same one changes nothing).
#[test]
fn workload_identity_marks_the_service_account_and_pods_with_the_bots_own_client_id() {
    let plain = build(&live(), &OperatorConfig::default());
    assert!(plain.service_account.metadata.annotations.is_none());
    let template = |c: &tradewind_operator::build::Children| {
        c.deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .clone()
            .unwrap()
    };
    assert!(
        !template(&plain)
            .labels
            .unwrap()
            .contains_key("azure.workload.identity/use")
    );
    let c = plain.clone().with_workload_identity("1111-bot-a");
    let sa = &c.service_account.metadata;
    assert_eq!(
        sa.annotations.as_ref().unwrap()["azure.workload.identity/client-id"],
        "1111-bot-a"
    );
    assert_eq!(
        sa.labels.as_ref().unwrap()["azure.workload.identity/use"],
        "true"
    );
    let pod = template(&c);
    assert_eq!(pod.labels.unwrap()["azure.workload.identity/use"], "true");
    let annotations = pod.annotations.unwrap();
    assert_eq!(
        annotations["tradewind.dev/workload-identity-client-id"],
        "1111-bot-a"
    );
    assert!(annotations.contains_key("tradewind.dev/config-hash"));
    // The same identity builds the same objects; another one differs.
    assert_eq!(c, plain.clone().with_workload_identity("1111-bot-a"));
    assert_ne!(
        template(&c),
        template(&plain.with_workload_identity("2222-bot-b"))
    );
}

/// Port 9090 was open to every pod, exposing each bot's equity and PnL to other
/// tenants; now only the named monitoring namespace (and pods) reach it, and without
/// one nothing does.
#[test]
fn metrics_ingress_only_from_the_monitoring_namespace() {
    use tradewind_operator::build::MetricsScrapers;
    let c = build(&live(), &OperatorConfig::default());
    let spec = c.network_policy.spec.as_ref().unwrap();
    assert_eq!(spec.ingress, Some(vec![]), "no scrapers: no ingress");
    assert!(
        spec.policy_types
            .as_ref()
            .unwrap()
            .contains(&"Ingress".to_owned())
    );
    let op = OperatorConfig {
        metrics_scrapers: Some(MetricsScrapers {
            namespace: "monitoring".into(),
            pod_labels: [("app.kubernetes.io/name".to_owned(), "prometheus".to_owned())].into(),
        }),
        ..OperatorConfig::default()
    };
    let c = build(&live(), &op);
    let rule = &c
        .network_policy
        .spec
        .as_ref()
        .unwrap()
        .ingress
        .as_ref()
        .unwrap()[0];
    let from = serde_json::to_value(rule.from.as_ref().unwrap()).unwrap();
    assert_eq!(
        from,
        serde_json::json!([{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        }])
    );
}

#[test]
fn network_policy_allows_dns_https_out_and_metrics_in_only() {
    let op = OperatorConfig {
        metrics_scrapers: Some(tradewind_operator::build::MetricsScrapers {
            namespace: "monitoring".into(),
            ..Default::default()
        }),
        ..OperatorConfig::default()
    };
    let c = build(&live(), &op);
    let spec = c.network_policy.spec.as_ref().unwrap();
    let ports =
        |rules: Vec<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPort>>| -> Vec<String> {
            rules
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{:?}", p.protocol.unwrap(), p.port.unwrap()))
                .collect()
        };
    let egress = ports(
        spec.egress
            .clone()
            .unwrap()
            .into_iter()
            .map(|r| r.ports.unwrap())
            .collect(),
    );
    assert_eq!(egress, ["UDP/Int(53)", "TCP/Int(53)", "TCP/Int(443)"]);
    let ingress = ports(
        spec.ingress
            .clone()
            .unwrap()
            .into_iter()
            .map(|r| r.ports.unwrap())
            .collect(),
    );
    assert_eq!(ingress, ["TCP/Int(9090)"]);

    // With the platform installed on another port, its port is open too, and nothing else.
    let op = OperatorConfig {
        platform_url: Some("http://tradewind-platform.tradewind-system.svc:8080".into()),
        ..OperatorConfig::default()
    };
    let spec = build(&live(), &op).network_policy.spec.unwrap();
    let egress = ports(
        spec.egress
            .unwrap()
            .into_iter()
            .map(|r| r.ports.unwrap())
            .collect(),
    );
    assert_eq!(
        egress,
        [
            "UDP/Int(53)",
            "TCP/Int(53)",
            "TCP/Int(443)",
            "TCP/Int(8080)"
        ]
    );
}

#[test]
fn with_the_platform_a_worker_gets_a_token_for_its_audience_and_its_url_and_no_new_rights() {
    let without = build(&live(), &OperatorConfig::default());
    let op = OperatorConfig {
        platform_url: Some("http://tradewind-platform.tradewind-system.svc:8080".into()),
        ..OperatorConfig::default()
    };
    let c = build(&live(), &op);
    let pod = c
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .clone()
        .unwrap();
    let volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "platform-token")
        .expect("the token volume");
    let token = volume.projected.unwrap().sources.unwrap()[0]
        .service_account_token
        .clone()
        .unwrap();
    assert_eq!(token.audience.as_deref(), Some(tradewind_ingest::AUDIENCE));
    assert_eq!(token.path, tradewind_ingest::TOKEN_FILE);
    assert_eq!(
        token.expiration_seconds,
        Some(tradewind_ingest::TOKEN_EXPIRATION_SECONDS)
    );
    let container = &pod.containers[0];
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "platform-token")
        .unwrap();
    assert_eq!(
        (mount.mount_path.as_str(), mount.read_only),
        (tradewind_ingest::TOKEN_DIR, Some(true))
    );
    let env: Vec<(String, Option<String>)> = container
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    assert!(env.contains(&(
        tradewind_ingest::env::PLATFORM_URL.into(),
        Some("http://tradewind-platform.tradewind-system.svc:8080".into())
    )));
    assert!(env.contains(&(
        tradewind_ingest::env::PLATFORM_TOKEN_FILE.into(),
        Some(tradewind_ingest::TOKEN_PATH.into())
    )));
    // The worker's least privilege is unchanged: the platform checks the token itself.
    assert_eq!(c.role, without.role);
    assert_eq!(c.role_binding, without.role_binding);
    assert_eq!(c.service_account, without.service_account);
}

#[test]
fn the_config_map_holds_the_resolved_config_and_the_hash_follows_it() {
    let b = live();
    let c = build(&b, &OperatorConfig::default());
    let json = &c.config_map.data.as_ref().unwrap()["bot.json"];
    let back: BotConfig = serde_json::from_str(json).unwrap();
    assert_eq!(back, b.config);

    // A strategy edit changes the hash (and so rolls the worker)...
    let mut edited = b.clone();
    edited.config.strategy.grid.as_mut().unwrap().levels = 12;
    let h2 = build(&edited, &OperatorConfig::default()).config_hash;
    assert_ne!(h2, c.config_hash);
    // ...so does another image; metadata the worker does not read does not.
    let other = OperatorConfig {
        worker_image: "x/y:2".into(),
        ..OperatorConfig::default()
    };
    assert_ne!(build(&b, &other).config_hash, c.config_hash);
    let mut relabelled = b.clone();
    relabelled.bot.metadata.labels = Some([("team".to_owned(), "alpha".to_owned())].into());
    assert_eq!(
        build(&relabelled, &OperatorConfig::default()).config_hash,
        c.config_hash
    );
}

#[test]
fn a_bot_without_a_uid_cannot_own_children() {
    let mut b = live();
    b.bot.metadata.uid = None;
    let err = build::children(&b.bot, &b.config, &OperatorConfig::default()).unwrap_err();
    assert!(err.to_string().contains("metadata.uid"), "{err}");
}

#[test]
fn a_plan_gets_a_settlement_cron_job_that_runs_only_with_the_platform() {
    let doc = tradewind_crds::validation::load_documents(
        &root().join("examples/commission-plans/tiered-referral.yaml"),
    )
    .unwrap()
    .remove(0);
    let mut plan: tradewind_crds::CommissionPlan = serde_json::from_value(doc.value).unwrap();
    plan.metadata.namespace = Some("trading".into());
    plan.metadata.uid = Some("p-1".into());
    let container = |cj: &k8s_openapi::api::batch::v1::CronJob| {
        cj.spec
            .as_ref()
            .unwrap()
            .job_template
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .clone()
    };

    // Without the platform: suspended, and the condition says why.
    let op = OperatorConfig::default();
    let cj = build::settlement_cron_job(&plan, &op).unwrap();
    let spec = cj.spec.as_ref().unwrap();
    assert_eq!(spec.schedule, "0 0 1 * *", "monthly settlement");
    assert_eq!(spec.suspend, Some(true));
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(
        cj.metadata.owner_references.as_ref().unwrap()[0].kind,
        "CommissionPlan"
    );
    let (scheduled, reason, message) = build::settlement_condition(&plan, &op);
    assert!(!scheduled);
    assert_eq!(reason, "PlatformNotInstalled");
    assert!(message.contains("--platform-image"), "{message}");

    // With it: the platform's settle of the previous period, the database URL from the
    // Secret and the plan's spec handed over.
    let op = OperatorConfig {
        platform: Some(build::Platform {
            image: "registry/tradewind-platform:1".into(),
            database_secret: "ledger-db".into(),
        }),
        ..OperatorConfig::default()
    };
    let cj = build::settlement_cron_job(&plan, &op).unwrap();
    assert_eq!(cj.spec.as_ref().unwrap().suspend, Some(false));
    let c = container(&cj);
    assert_eq!(c.image.as_deref(), Some("registry/tradewind-platform:1"));
    assert_eq!(
        c.args.unwrap(),
        [
            "settle",
            "--plan",
            "trading/tiered-with-referrals",
            "--period",
            "previous"
        ]
    );
    let env = c.env.unwrap();
    let url = env
        .iter()
        .find(|e| e.name == "TRADEWIND_DATABASE_URL")
        .unwrap();
    let secret = url
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (secret.name.as_str(), secret.key.as_str()),
        ("ledger-db", build::DATABASE_URL_KEY)
    );
    let spec = env.iter().find(|e| e.name == build::PLAN_SPEC_ENV).unwrap();
    let back: tradewind_crds::CommissionPlanSpec =
        serde_json::from_str(spec.value.as_deref().unwrap()).unwrap();
    assert_eq!(back, plan.spec);
    let (scheduled, reason, _) = build::settlement_condition(&plan, &op);
    assert!(scheduled);
    assert_eq!(reason, build::SETTLEMENT_SCHEDULED_REASON);
}

#[test]
fn the_settlement_job_runs_as_a_service_account_that_may_patch_only_its_plans_status() {
    let doc = tradewind_crds::validation::load_documents(
        &root().join("examples/commission-plans/flat.yaml"),
    )
    .unwrap()
    .remove(0);
    let mut plan: tradewind_crds::CommissionPlan = serde_json::from_value(doc.value).unwrap();
    plan.metadata.namespace = Some("trading".into());
    plan.metadata.uid = Some("p-2".into());
    let name = "flat-10bps-settlement";

    let sa = build::settlement_service_account(&plan).unwrap();
    assert_eq!(sa.metadata.name.as_deref(), Some(name));
    assert_eq!(sa.metadata.namespace.as_deref(), Some("trading"));
    assert_eq!(sa.automount_service_account_token, Some(true));
    let owner = &sa.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("CommissionPlan", "p-2", Some(true))
    );

    let role = build::settlement_role(&plan).unwrap();
    assert_eq!(role.metadata.name.as_deref(), Some(name));
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1, "one rule, nothing else: {rules:?}");
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["tradewind.dev".to_owned()][..])
    );
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["commissionplans/status".to_owned()][..])
    );
    assert_eq!(
        rules[0].resource_names.as_deref(),
        Some(&["flat-10bps".to_owned()][..])
    );
    assert_eq!(rules[0].verbs, ["get", "patch"]);

    let binding = build::settlement_role_binding(&plan).unwrap();
    assert_eq!(binding.metadata.name.as_deref(), Some(name));
    assert_eq!(
        (
            binding.role_ref.kind.as_str(),
            binding.role_ref.name.as_str()
        ),
        ("Role", name)
    );
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        ("ServiceAccount", name, Some("trading"))
    );

    // The Job runs as it, suspended or not.
    for op in [
        OperatorConfig::default(),
        OperatorConfig {
            platform: Some(build::Platform {
                image: "registry/tradewind-platform:1".into(),
                database_secret: "ledger-db".into(),
            }),
            ..OperatorConfig::default()
        },
    ] {
        let cj = build::settlement_cron_job(&plan, &op).unwrap();
        let pod = cj
            .spec
            .unwrap()
            .job_template
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some(name));
    }

    // A plan without a uid cannot own them.
    plan.metadata.uid = None;
    let err = build::settlement_role(&plan).unwrap_err();
    assert!(err.to_string().contains("metadata.uid"), "{err}");
}

#[test]
fn built_children_are_subsets_of_themselves_after_a_round_trip() {
    // What the operator diffs against is the API server's JSON; a child must compare
    // equal to its own serialisation so a steady state makes no writes.
    let c = build(&live(), &OperatorConfig::default());
    let d = serde_json::to_value(&c.deployment).unwrap();
    assert!(tradewind_operator::diff::is_subset(&d, &d.clone()));
    let mut changed = d.clone();
    changed["spec"]["replicas"] = serde_json::json!(0);
    assert!(!tradewind_operator::diff::is_subset(&d, &changed));
}

#[test]
fn a_state_volume_gives_each_worker_a_claim_for_its_journal() {
    use tradewind_operator::build::StateVolume;
    let plain = build(&paper(), &OperatorConfig::default());
    assert!(plain.state_claim.is_none());
    let data = |c: &Children| {
        c.deployment
            .spec
            .clone()
            .unwrap()
            .template
            .spec
            .unwrap()
            .volumes
            .unwrap()
            .into_iter()
            .find(|v| v.name == "data")
            .unwrap()
    };
    assert!(data(&plain).empty_dir.is_some());

    let op = OperatorConfig {
        state_volume: Some(StateVolume {
            storage_class: Some("managed-csi".into()),
            size: "2Gi".into(),
        }),
        ..OperatorConfig::default()
    };
    let c = build(&paper(), &op);
    let claim = c.state_claim.clone().expect("a claim");
    let name = paper().bot.metadata.name.clone().unwrap();
    assert_eq!(
        claim.metadata.name.as_deref(),
        Some(format!("{name}-state").as_str())
    );
    let spec = claim.spec.unwrap();
    assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_owned()]));
    assert_eq!(spec.storage_class_name.as_deref(), Some("managed-csi"));
    assert_eq!(
        spec.resources.unwrap().requests.unwrap()["storage"].0,
        "2Gi"
    );
    // Owned by the bot, so it goes with it.
    assert_eq!(
        claim.metadata.owner_references.unwrap()[0].kind,
        "TradingBot"
    );
    let v = data(&c);
    assert!(v.empty_dir.is_none());
    assert_eq!(
        v.persistent_volume_claim.unwrap().claim_name,
        format!("{name}-state")
    );
}

/// `spec.image` was free text: anyone who could create a bot ran their own code with its
/// credentials. Now only the worker image and the allowlist run; the refusal names the
/// field.
#[test]
fn spec_image_must_be_the_worker_image_or_on_the_allowlist() {
    use tradewind_operator::build::check_image;
    let mut b = paper();
    let op = OperatorConfig::default();
    assert!(
        check_image(&b.bot, &op).is_ok(),
        "no spec.image: the worker image"
    );
    b.bot.spec.image = Some(op.worker_image.clone());
    assert!(check_image(&b.bot, &op).is_ok());
    b.bot.spec.image = Some("evil.example/steal:latest".into());
    let e = check_image(&b.bot, &op).unwrap_err();
    assert!(
        e.starts_with("spec.image \"evil.example/steal:latest\""),
        "{e}"
    );
    let op = OperatorConfig {
        allowed_images: vec![
            "myacr.azurecr.io/approved/".into(),
            "other.io/bot@sha256:0123".into(),
        ],
        ..OperatorConfig::default()
    };
    for ok in [
        "myacr.azurecr.io/approved/bot:1",
        "other.io/bot@sha256:0123",
    ] {
        b.bot.spec.image = Some(ok.into());
        assert!(check_image(&b.bot, &op).is_ok(), "{ok}");
    }
    for refused in [
        "myacr.azurecr.io/approvedx/bot:1",
        "myacr.azurecr.io/approved/../other:1",
        "other.io/bot@sha256:0124",
        "other.io/bot:latest",
        "evil.example/myacr.azurecr.io/approved/bot",
    ] {
        b.bot.spec.image = Some(refused.into());
        let e = check_image(&b.bot, &op).unwrap_err();
        assert!(e.contains("myacr.azurecr.io/approved/"), "{refused}: {e}");
    }
}

/// A bot may have a 253-character name; the operator rendered children named
/// `<bot>-metrics` and labels `app.kubernetes.io/instance: <bot>` that an API server
/// refuses. Now every name and label value is within the limits, and two long names
/// sharing a prefix still get distinct children.
#[test]
fn a_long_bot_name_gets_bounded_hashed_child_names() {
    let long = |last: char| {
        let mut n = format!("{0}.{0}.{0}.", "a".repeat(63));
        n.push_str(&"b".repeat(60));
        n.push(last);
        assert_eq!(n.len(), 253);
        n
    };
    let build_named = |name: String| {
        let mut b = paper();
        b.bot.metadata.name = Some(name.clone());
        b.config.name = name;
        build(&b, &OperatorConfig::default())
    };
    let (a, b) = (build_named(long('x')), build_named(long('y')));
    let names = |c: &Children| {
        vec![
            c.config_map.metadata.name.clone().unwrap(),
            c.service_account.metadata.name.clone().unwrap(),
            c.lease.metadata.name.clone().unwrap(),
            c.role.metadata.name.clone().unwrap(),
            c.role_binding.metadata.name.clone().unwrap(),
            c.deployment.metadata.name.clone().unwrap(),
            c.service.metadata.name.clone().unwrap(),
            c.network_policy.metadata.name.clone().unwrap(),
        ]
    };
    for c in [&a, &b] {
        for n in names(c) {
            assert!(n.len() <= 253, "{n}");
            assert!(
                n.chars().all(|ch| ch.is_ascii_lowercase()
                    || ch.is_ascii_digit()
                    || ch == '-'
                    || ch == '.')
                    && !n.ends_with(['-', '.']),
                "{n}"
            );
        }
        let service = c.service.metadata.name.clone().unwrap();
        assert!(service.len() <= 63 && !service.contains('.'), "{service}");
        assert!(c.deployment.metadata.name.as_ref().unwrap().len() <= 63);
        for v in c.deployment.metadata.labels.as_ref().unwrap().values() {
            assert!(v.len() <= 63, "{v}");
        }
    }
    assert_ne!(names(&a), names(&b));
    // Short names are unchanged.
    let c = build(&paper(), &OperatorConfig::default());
    let bot = paper().bot.metadata.name.unwrap();
    assert_eq!(c.service.metadata.name.unwrap(), format!("{bot}-metrics"));
    assert_eq!(c.deployment.metadata.name.unwrap(), format!("{bot}-worker"));
}
