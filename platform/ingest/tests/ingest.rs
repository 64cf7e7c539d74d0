//! The ingest server against the test API server: real ServiceAccount tokens checked by a
//! real TokenReview, the platform running as its own ServiceAccount with only the rights
//! it documents (create tokenreviews, get tradingbots), and an in-memory ledger.

use std::net::SocketAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tradewind_apiserver::TestServer;
use tradewind_crds::{TradingBot, manifests};
use tradewind_events::{Body, Event, Fill, Liquidity, Side};
use tradewind_ingest::server::{Ingest, Limits, MemorySink, serve};
use tradewind_ingest::{AUDIENCE, MAX_BODY_BYTES, PATH};

const NS: &str = "default";
const SESSION: &str = "2026-12-06T10:00:00Z";

fn bot(name: &str) -> TradingBot {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bots/paper.yaml");
    let text = std::fs::read_to_string(path).expect("example bot");
    let mut bot: TradingBot = serde_saphyr::from_str(&text).expect("bot yaml");
    bot.metadata.name = Some(name.into());
    bot.metadata.namespace = Some(NS.into());
    bot
}

fn service_account(name: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    }
}

fn fill(bot: &str, seq: u64, fee: &str) -> Event {
    Event::new(
        bot,
        SESSION,
        seq,
        "2026-12-06T10:03:00Z".into(),
        Body::Fill(Fill {
            order_id: seq + 1,
            side: Side::Buy,
            price: "64000.10".into(),
            quantity: "0.001".into(),
            fee: fee.into(),
            liquidity: Liquidity::Taker,
        }),
    )
}

fn batch(events: &[Event]) -> String {
    json!({ "events": events }).to_string()
}

/// One HTTP/1.1 request; the status and the body as JSON (or a string).
async fn request(
    addr: SocketAddr,
    method: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {PATH} HTTP/1.1\r\nHost: platform\r\n{auth}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    // A refusal may close the connection before a large body is written.
    let _ = s.write_all(body.as_bytes()).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    )
}

async fn post(addr: SocketAddr, token: &str, body: &str) -> (u16, Value) {
    request(addr, "POST", Some(token), "application/json", body).await
}

async fn get(addr: SocketAddr, path: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status")
}

/// One request to any path; the status and the body as JSON.
async fn call(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: platform\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_records_a_bots_own_events_once_and_refuses_everything_else_with_a_reason() {
    let server = TestServer::start().expect("server");
    let admin =
        Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for (_, crd) in manifests::all() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("crd");
    }
    let bots: Api<TradingBot> = Api::namespaced(admin.clone(), NS);
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), NS);
    // A bot named longer than a DNS label: its worker's names are hashed.
    let long = format!("long-{}", "bot".repeat(30));
    let long_worker = tradewind_crds::contract::worker_name(&long);
    for name in ["btc-bot", "eth-bot", "new-bot", long.as_str()] {
        bots.create(&PostParams::default(), &bot(name))
            .await
            .expect("bot");
    }
    for name in [
        "btc-bot-worker",
        "eth-bot-worker",
        "new-bot-worker",
        "ghost-worker",
        "platform",
        long_worker.as_str(),
    ] {
        sas.create(&PostParams::default(), &service_account(name))
            .await
            .expect("service account");
    }
    // The platform's rights, and nothing more.
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &ClusterRole {
                metadata: ObjectMeta {
                    name: Some("tradewind-platform".into()),
                    ..ObjectMeta::default()
                },
                rules: Some(vec![
                    PolicyRule {
                        api_groups: Some(vec!["authentication.k8s.io".into()]),
                        resources: Some(vec!["tokenreviews".into()]),
                        verbs: vec!["create".into()],
                        ..PolicyRule::default()
                    },
                    PolicyRule {
                        api_groups: Some(vec!["tradewind.dev".into()]),
                        resources: Some(vec!["tradingbots".into()]),
                        verbs: vec!["get".into()],
                        ..PolicyRule::default()
                    },
                ]),
                ..ClusterRole::default()
            },
        )
        .await
        .expect("cluster role");
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(
            &PostParams::default(),
            &ClusterRoleBinding {
                metadata: ObjectMeta {
                    name: Some("tradewind-platform".into()),
                    ..ObjectMeta::default()
                },
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "ClusterRole".into(),
                    name: "tradewind-platform".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: "platform".into(),
                    namespace: Some(NS.into()),
                    ..Subject::default()
                }]),
            },
        )
        .await
        .expect("binding");
    let platform_token = server
        .create_token(NS, "platform", &[], 3600)
        .expect("platform token");
    let kubeconfig = Kubeconfig::from_yaml(&server.token_kubeconfig_yaml(&platform_token, NS))
        .expect("kubeconfig");
    let platform = Client::try_from(
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("config"),
    )
    .expect("platform client");

    let sink = Arc::new(MemorySink::knowing(&[
        "default/btc-bot",
        "default/eth-bot",
        &format!("default/{long}"),
    ]));
    let ingest = Arc::new(Ingest::new(platform, sink.clone(), Limits::default()));
    let (addr, task) = serve("127.0.0.1:0".parse().expect("addr"), ingest.clone())
        .await
        .expect("serve");
    let token = |sa: &str| {
        server
            .create_token(NS, sa, &[AUDIENCE], 3600)
            .expect("worker token")
    };
    let btc = token("btc-bot-worker");
    let events = [
        fill("default/btc-bot", 0, "0.064"),
        fill("default/btc-bot", 1, "0.065"),
    ];

    // A worker's own events: recorded, and the answer acknowledges the highest sequence.
    let (status, answer) = post(addr, &btc, &batch(&events)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"recorded": 2, "duplicates": 0, "session": SESSION, "acknowledged": 1})
    );
    // Sent again (a worker that crashed before it saw the answer): duplicates, no harm.
    let (status, answer) = post(addr, &btc, &batch(&events)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["recorded"], 0);
    assert_eq!(answer["duplicates"], 2);
    assert_eq!(sink.events(), events.to_vec());

    // A known id with different content: refused as corruption, naming the event.
    let changed = fill("default/btc-bot", 1, "0.066");
    let (status, problem) = post(
        addr,
        &btc,
        &batch(&[fill("default/btc-bot", 2, "0"), changed]),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "conflict");
    assert_eq!(problem["eventId"], "default/btc-bot/2026-12-06T10:00:00Z/1");
    assert_eq!(sink.events().len(), 2, "a refused batch records nothing");

    // Another bot's worker cannot write this bot's history.
    let (status, problem) = post(addr, &token("eth-bot-worker"), &batch(&events)).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "forbidden");
    assert_eq!(problem["field"], "bot");

    // A token for another audience (the API server's), and none at all: 401.
    let api_token = server
        .create_token(NS, "btc-bot-worker", &[], 3600)
        .expect("token");
    let (status, problem) = post(addr, &api_token, &batch(&events)).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(problem["code"], "unauthenticated");
    let (status, _) = request(addr, "POST", None, "application/json", &batch(&events)).await;
    assert_eq!(status, 401);
    let (status, _) = post(addr, "not-a-token", &batch(&events)).await;
    assert_eq!(status, 401);

    // Refused with a reason, never dropped: no TradingBot behind the ServiceAccount, a
    // bot the ledger does not know, a ServiceAccount that is no worker's.
    let ghost = [fill("default/ghost", 0, "0")];
    let (status, problem) = post(addr, &token("ghost-worker"), &batch(&ghost)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("unknownBot")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no TradingBot default/ghost")
    );
    let new = [fill("default/new-bot", 0, "0")];
    let (status, problem) = post(addr, &token("new-bot-worker"), &batch(&new)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("unknownBot")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the ledger does not know bot default/new-bot")
    );
    let (status, problem) = post(addr, &token("platform"), &batch(&events)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("forbidden")),
        "{problem}"
    );

    // The ledger down: 503 (the worker keeps its backlog) and not ready; then back.
    sink.set_unavailable(true);
    assert_eq!(get(addr, "/readyz").await, 503);
    let more = [fill("default/btc-bot", 2, "0")];
    let (status, problem) = post(addr, &btc, &batch(&more)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("unavailable")),
        "{problem}"
    );
    sink.set_unavailable(false);
    assert_eq!(get(addr, "/readyz").await, 200);
    let (status, answer) = post(addr, &btc, &batch(&more)).await;
    assert_eq!(
        (status, answer["recorded"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );

    // The contract's edges.
    let (status, problem) = post(addr, &btc, &batch(&[fill("default/btc-bot", 3, "1e3")])).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("fee")),
        "{problem}"
    );
    let (status, problem) = post(addr, &btc, "{\"events\": [").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("malformed")),
        "{problem}"
    );
    let (status, _) = request(addr, "POST", Some(&btc), "text/plain", &batch(&more)).await;
    assert_eq!(status, 415);
    let huge = format!(
        "{{\"events\":[],\"pad\":\"{}\"}}",
        "x".repeat(MAX_BODY_BYTES)
    );
    let (status, problem) = post(addr, &btc, &huge).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (413, Some("tooLarge")),
        "{problem}"
    );
    let (status, _) = request(addr, "GET", Some(&btc), "application/json", "").await;
    assert_eq!(status, 405);
    assert_eq!(get(addr, "/healthz").await, 200);
    assert_eq!(sink.events().len(), 3);

    // The hashed worker of a long-named bot records its bot's events, and only those.
    let long_events = [fill(&format!("default/{long}"), 0, "0.01")];
    let (status, answer) = post(addr, &token(&long_worker), &batch(&long_events)).await;
    assert_eq!(
        (status, answer["recorded"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    let (status, problem) = post(addr, &token(&long_worker), &batch(&events)).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (403, Some("bot")),
        "{problem}"
    );
    let (status, problem) = post(addr, &btc, &batch(&long_events)).await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (403, Some("bot")),
        "{problem}"
    );

    // Signals: a worker fetches its own bot's after its cursor and acknowledges them;
    // another bot's worker and a caller without a token get nothing.
    use tradewind_crds::contract::signals::{ACK_PATH, PATH as SIGNALS};
    sink.push_signal("default/btc-bot", "tv-1", "enter", 1);
    sink.push_signal("default/btc-bot", "tv-2", "exit", 2);
    let fetch = |after: u64, wait: u64| {
        format!("{SIGNALS}?namespace=default&name=btc-bot&after={after}&wait={wait}")
    };
    let (status, answer) = call(addr, "GET", &fetch(0, 0), Some(&btc), "").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["signals"],
        json!([{"seq": 1, "id": "tv-1", "action": "enter", "ts": 1},
               {"seq": 2, "id": "tv-2", "action": "exit", "ts": 2}])
    );
    let (_, answer) = call(addr, "GET", &fetch(1, 0), Some(&btc), "").await;
    assert_eq!(answer["signals"][0]["id"], "tv-2");
    let (status, problem) = call(
        addr,
        "GET",
        &fetch(0, 0),
        Some(&token("eth-bot-worker")),
        "",
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("its own bot's signals only")
    );
    let (status, _) = call(addr, "GET", &fetch(0, 0), None, "").await;
    assert_eq!(status, 401);
    let (status, problem) = call(
        addr,
        "GET",
        &format!("{SIGNALS}?name=btc-bot"),
        Some(&btc),
        "",
    )
    .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (400, Some("namespace")),
        "{problem}"
    );
    // A held fetch answers when a signal arrives.
    let held = tokio::spawn({
        let (btc, target) = (btc.clone(), fetch(2, 20));
        async move { call(addr, "GET", &target, Some(&btc), "").await }
    });
    sink.push_signal("default/btc-bot", "tv-3", "flatten", 3);
    let (status, answer) = held.await.expect("held fetch");
    assert_eq!(
        (status, answer["signals"][0]["id"].as_str()),
        (200, Some("tv-3")),
        "{answer}"
    );
    // Acknowledged once; again changes nothing; never by another worker.
    let ack = json!({"namespace": "default", "name": "btc-bot", "upto": 2}).to_string();
    let (status, answer) = call(addr, "POST", ACK_PATH, Some(&btc), &ack).await;
    assert_eq!(
        (status, answer["acknowledged"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );
    let (_, answer) = call(addr, "POST", ACK_PATH, Some(&btc), &ack).await;
    assert_eq!(answer["acknowledged"], 0);
    let (status, _) = call(addr, "POST", ACK_PATH, Some(&token("eth-bot-worker")), &ack).await;
    assert_eq!(status, 403);
    assert_eq!(sink.acknowledged("default/btc-bot"), 2);

    // The counters say what happened, and no token.
    let mut text = String::new();
    ingest.encode_metrics(&mut text);
    for sample in [
        r#"tradewind_ingest_batches_total{outcome="ok"} 4"#,
        r#"tradewind_ingest_batches_total{outcome="conflict"} 1"#,
        r#"tradewind_ingest_batches_total{outcome="unauthenticated"} 3"#,
        "tradewind_ingest_events_recorded_total 4",
        "tradewind_ingest_events_duplicate_total 2",
    ] {
        assert!(text.contains(sample), "{sample} not in\n{text}");
    }
    assert!(!text.contains(&btc));
    task.abort();
}
