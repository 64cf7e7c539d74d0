//! The platform's ingest for the worker's tests: the real server, with TokenReview
//! against the test API server, over an in-memory ledger that knows one bot.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The platform's ingest (the real server, with TokenReview against the test API server)
/// over an in-memory ledger, and a worker token for it in a file.
pub struct Platform {
    _apiserver: tradewind_apiserver::TestServer,
    /// The test API server's admin.
    #[allow(dead_code)] // read by tests/session.rs, not by every test binary
    pub admin: kube::Client,
    /// The ledger behind the ingest.
    pub ledger: Arc<tradewind_ingest::server::MemorySink>,
    /// The ingest's base URL.
    pub url: String,
    /// A token of the bot's worker ServiceAccount for the platform's audience.
    pub token_file: PathBuf,
    _task: tokio::task::JoinHandle<()>,
}

/// The platform for TradingBot `trading/<name>`, its token written under `dir`.
pub async fn platform(dir: &Path, name: &str) -> Platform {
    use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ObjectMeta, PostParams};
    use kube::{Api, Client};
    use tradewind_crds::TradingBot;
    use tradewind_ingest::server::{Ingest, Limits, MemorySink, serve};

    let server = tradewind_apiserver::TestServer::start().expect("API server");
    let admin =
        Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client");
    for (_, crd) in tradewind_crds::manifests::all() {
        Api::<CustomResourceDefinition>::all(admin.clone())
            .create(&PostParams::default(), &crd)
            .await
            .expect("crd");
    }
    let meta = |name: &str| ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    };
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta("trading"),
                ..Namespace::default()
            },
        )
        .await
        .expect("namespace");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bots/paper.yaml"),
    )
    .expect("example bot");
    let mut bot: TradingBot = serde_saphyr::from_str(&text).expect("bot");
    bot.metadata.name = Some(name.into());
    bot.metadata.namespace = Some("trading".into());
    Api::<TradingBot>::namespaced(admin.clone(), "trading")
        .create(&PostParams::default(), &bot)
        .await
        .expect("bot");
    let sa = tradewind_crds::contract::worker_service_account(name);
    Api::<ServiceAccount>::namespaced(admin.clone(), "trading")
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: meta(&sa),
                ..ServiceAccount::default()
            },
        )
        .await
        .expect("service account");
    let token = server
        .create_token("trading", &sa, &[tradewind_ingest::AUDIENCE], 3600)
        .expect("token");
    let token_file = dir.join("platform-token");
    std::fs::write(&token_file, token).unwrap();
    let ledger = Arc::new(MemorySink::knowing(&[format!("trading/{name}").as_str()]));
    let ingest = Arc::new(Ingest::new(
        admin.clone(),
        ledger.clone(),
        Limits::default(),
    ));
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), ingest)
        .await
        .expect("serve");
    Platform {
        _apiserver: server,
        admin,
        ledger,
        url: format!("http://{addr}"),
        token_file,
        _task: task,
    }
}
