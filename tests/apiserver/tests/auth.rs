//! ServiceAccount tokens, the review APIs and RBAC over the wire: TokenRequest claims,
//! TokenReview (accepting minted tokens, rejecting tampered, expired and orphaned ones),
//! 401 and kube-apiserver's 403 bodies, Roles, ClusterRoles and bindings for gets, lists
//! and watches, subresources, resourceNames and non-resource URLs, and the per-namespace
//! `default` ServiceAccount and `kube-root-ca.crt`.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use tradewind_apiserver::{Config, TestServer};

fn server() -> TestServer {
    TestServer::start().expect("server starts")
}

/// `(code, body)` of a request made with `Authorization: Bearer <token>`.
fn as_token(s: &TestServer, token: &str, method: &str, path: &str, body: &Value) -> Resp {
    let auth = format!("Bearer {token}");
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    request_with(
        s,
        method,
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &text,
    )
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("claims part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn token_for(s: &TestServer, ns: &str, sa: &str, spec: Value) -> Resp {
    request(
        s,
        "POST",
        &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
    )
}

fn review(s: &TestServer, token: &str, audiences: &[&str]) -> Value {
    let r = request(
        s,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "spec": {"token": token, "audiences": audiences}}),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    r.body["status"].clone()
}

fn namespace(s: &TestServer, name: &str) {
    create(
        s,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    );
}

fn service_account(s: &TestServer, ns: &str, name: &str) -> Value {
    create(
        s,
        &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
    )
}

#[test]
fn token_request_mints_the_claims_kube_apiserver_writes() {
    let s = server();
    let sa = get(&s, "/api/v1/namespaces/default/serviceaccounts/default");
    assert_eq!(sa.code, 200, "the default ServiceAccount exists at start");
    let r = token_for(&s, "default", "default", json!({}));
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(r.body["kind"], "TokenRequest");
    assert_eq!(r.body["spec"]["expirationSeconds"], 3600);
    assert!(r.body["status"]["expirationTimestamp"].is_string());
    let token = r.body["status"]["token"].as_str().expect("token");
    let c = claims(token);
    let issuer = "https://kubernetes.default.svc.cluster.local";
    assert_eq!(c["iss"], issuer);
    assert_eq!(c["aud"], json!([issuer]));
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(c["kubernetes.io"]["namespace"], "default");
    assert_eq!(c["kubernetes.io"]["serviceaccount"]["name"], "default");
    assert_eq!(
        c["kubernetes.io"]["serviceaccount"]["uid"],
        sa.body["metadata"]["uid"]
    );
    let (iat, nbf, exp) = (
        c["iat"].as_i64().expect("iat"),
        c["nbf"].as_i64().expect("nbf"),
        c["exp"].as_i64().expect("exp"),
    );
    assert_eq!((nbf, exp - iat), (iat, 3600));
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "ES256");
    // The kid names the key published in the JWKS.
    let jwks = get(&s, "/openid/v1/jwks").body;
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    let oidc = get(&s, "/.well-known/openid-configuration").body;
    assert_eq!(oidc["issuer"], issuer);

    let short = token_for(&s, "default", "default", json!({"expirationSeconds": 599}));
    assert_eq!(short.code, 422, "{}", short.body);
    assert!(
        short.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("may not specify a duration less than 10 minutes")),
        "{}",
        short.body
    );
    let missing = token_for(&s, "default", "nobody", json!({}));
    assert_eq!(missing.code, 404);
    assert_eq!(
        missing.body["message"],
        r#"serviceaccounts "nobody" not found"#
    );
    let aud = token_for(
        &s,
        "default",
        "default",
        json!({"audiences": ["ledger"], "expirationSeconds": 900}),
    );
    let aud_claims = claims(aud.body["status"]["token"].as_str().expect("token"));
    assert_eq!(aud_claims["aud"], json!(["ledger"]));
    assert_eq!(aud.body["spec"]["audiences"], json!(["ledger"]));
}

#[test]
fn token_review_accepts_minted_tokens_and_rejects_tampered_foreign_and_orphaned_ones() {
    let s = server();
    namespace(&s, "team");
    service_account(&s, "team", "worker");
    let token = s.create_token("team", "worker", &[], 3600).expect("token");
    let ok = review(&s, &token, &[]);
    assert_eq!(ok["authenticated"], true, "{ok}");
    assert_eq!(ok["user"]["username"], "system:serviceaccount:team:worker");
    assert_eq!(
        ok["user"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:team",
            "system:authenticated"
        ])
    );
    assert!(
        ok["user"]["extra"]["authentication.kubernetes.io/credential-id"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("JTI="))
    );
    assert_eq!(
        ok["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );

    // The claims rewritten to another ServiceAccount, the signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims(&token);
    forged["sub"] = json!("system:serviceaccount:team:admin");
    forged["kubernetes.io"]["serviceaccount"]["name"] = json!("admin");
    let forged = URL_SAFE_NO_PAD.encode(forged.to_string());
    let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
    let bad = review(&s, &tampered, &[]);
    assert_eq!(bad["authenticated"], false);
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("[invalid bearer token,")),
        "{bad}"
    );
    assert_eq!(
        as_token(&s, &tampered, "GET", "/api", &Value::Null).code,
        401
    );

    // A token from another server (another key) is not this one's.
    let other = TestServer::start().expect("other server");
    let foreign = other
        .create_token("default", "default", &[], 3600)
        .expect("token");
    assert_eq!(review(&s, &foreign, &[])["authenticated"], false);

    // Audiences: a token for the ledger is not a token for the API server.
    let ledger = s
        .create_token("team", "worker", &["ledger"], 3600)
        .expect("token");
    assert_eq!(review(&s, &ledger, &[])["authenticated"], false);
    let for_ledger = review(&s, &ledger, &["ledger"]);
    assert_eq!(for_ledger["authenticated"], true);
    assert_eq!(for_ledger["audiences"], json!(["ledger"]));
    assert_eq!(as_token(&s, &ledger, "GET", "/api", &Value::Null).code, 401);

    // A token outlives neither its ServiceAccount nor a recreated one of the same name.
    let del = request(
        &s,
        "DELETE",
        "/api/v1/namespaces/team/serviceaccounts/worker",
        &Value::Null,
    );
    assert_eq!(del.code, 200);
    assert_eq!(review(&s, &token, &[])["authenticated"], false);
    service_account(&s, "team", "worker");
    assert_eq!(review(&s, &token, &[])["authenticated"], false);
    let r = as_token(&s, &token, "GET", "/api", &Value::Null);
    assert_eq!(r.code, 401);
    assert_eq!(
        r.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
    assert_eq!(
        as_token(&s, "not-a-jwt", "GET", "/api", &Value::Null).code,
        401
    );
    let basic = request_with(&s, "GET", "/api", &[("Authorization", "Basic YTpi")], "");
    assert_eq!(basic.code, 401);
}

#[test]
fn tokens_bound_to_a_secret_end_with_it() {
    let s = server();
    let secret = create(
        &s,
        "/api/v1/namespaces/default/secrets",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "anchor"}}),
    );
    let uid = secret["metadata"]["uid"].as_str().expect("uid");
    let stale = token_for(
        &s,
        "default",
        "default",
        json!({"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "anchor", "uid": "0000"}}),
    );
    assert_eq!(stale.code, 409, "{}", stale.body);
    let r = token_for(
        &s,
        "default",
        "default",
        json!({"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "anchor", "uid": uid}}),
    );
    assert_eq!(r.code, 201, "{}", r.body);
    let token = r.body["status"]["token"].as_str().expect("token");
    assert_eq!(claims(token)["kubernetes.io"]["secret"]["uid"], uid);
    assert_eq!(review(&s, token, &[])["authenticated"], true);
    request(
        &s,
        "DELETE",
        "/api/v1/namespaces/default/secrets/anchor",
        &Value::Null,
    );
    assert_eq!(review(&s, token, &[])["authenticated"], false);
}

fn forbidden_body(message: &str, group: &str, kind: &str, name: &str) -> Value {
    let mut details = json!({"kind": kind});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": "Forbidden", "details": details, "code": 403})
}

#[test]
fn service_account_requests_are_authorised_by_rbac() {
    let s = server();
    namespace(&s, "team");
    service_account(&s, "team", "bot");
    create(
        &s,
        "/api/v1/namespaces/team/configmaps",
        configmap("mine", json!({}), json!({"k": "v"})),
    );
    create(
        &s,
        "/api/v1/namespaces/team/configmaps",
        configmap("theirs", json!({}), json!({})),
    );
    let t = s.create_token("team", "bot", &[], 3600).expect("token");
    let user = "system:serviceaccount:team:bot";
    let cm = "/api/v1/namespaces/team/configmaps";

    // Discovery and the issuer documents are open to every authenticated user.
    assert_eq!(as_token(&s, &t, "GET", "/api", &Value::Null).code, 200);
    assert_eq!(
        as_token(&s, &t, "GET", "/apis/apps/v1", &Value::Null).code,
        200
    );
    assert_eq!(as_token(&s, &t, "GET", "/version", &Value::Null).code, 200);
    assert_eq!(
        as_token(&s, &t, "GET", "/openid/v1/jwks", &Value::Null).code,
        200
    );
    let dbg = as_token(&s, &t, "GET", "/debug/counters", &Value::Null);
    assert_eq!(dbg.code, 403);
    assert_eq!(
        dbg.body["message"],
        format!(r#"forbidden: User "{user}" cannot get path "/debug/counters""#)
    );

    let denied = as_token(&s, &t, "GET", &format!("{cm}/mine"), &Value::Null);
    assert_eq!(
        denied.body,
        forbidden_body(
            &format!(
                r#"configmaps "mine" is forbidden: User "{user}" cannot get resource "configmaps" in API group "" in the namespace "team""#
            ),
            "",
            "configmaps",
            "mine"
        )
    );
    let list = as_token(&s, &t, "GET", cm, &Value::Null);
    assert_eq!(
        list.body["message"],
        format!(
            r#"configmaps is forbidden: User "{user}" cannot list resource "configmaps" in API group "" in the namespace "team""#
        )
    );
    let watch = as_token(&s, &t, "GET", &format!("{cm}?watch=true"), &Value::Null);
    assert_eq!(watch.code, 403);
    assert!(
        watch.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot watch resource"))
    );
    let all_ns = as_token(&s, &t, "GET", "/api/v1/configmaps", &Value::Null);
    assert_eq!(
        all_ns.body["message"],
        format!(
            r#"configmaps is forbidden: User "{user}" cannot list resource "configmaps" in API group "" at the cluster scope"#
        )
    );
    let deploy = as_token(
        &s,
        &t,
        "GET",
        "/apis/apps/v1/namespaces/team/deployments/web/status",
        &Value::Null,
    );
    assert_eq!(
        deploy.body["message"],
        format!(
            r#"deployments.apps "web" is forbidden: User "{user}" cannot get resource "deployments/status" in API group "apps" in the namespace "team""#
        )
    );

    // A Role naming one ConfigMap, bound to the ServiceAccount.
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "mine"},
               "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["mine"],
                          "verbs": ["get", "list", "watch", "patch"]}]}),
    );
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "mine"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mine"},
               "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]}),
    );
    let got = as_token(&s, &t, "GET", &format!("{cm}/mine"), &Value::Null);
    assert_eq!((got.code, got.body["data"]["k"].clone()), (200, json!("v")));
    let patched = as_token(&s, &t, "PATCH", &format!("{cm}/mine"), &Value::Null);
    assert_ne!(
        patched.code, 403,
        "patch is allowed (the empty body is the client's fault)"
    );
    assert_eq!(
        as_token(&s, &t, "GET", &format!("{cm}/theirs"), &Value::Null).code,
        403
    );
    assert_eq!(
        as_token(&s, &t, "DELETE", &format!("{cm}/mine"), &Value::Null).code,
        403
    );
    // resourceNames never allow an unnamed list, but do allow one narrowed to the name.
    assert_eq!(as_token(&s, &t, "GET", cm, &Value::Null).code, 403);
    let narrowed = as_token(
        &s,
        &t,
        "GET",
        &format!("{cm}?fieldSelector=metadata.name%3Dmine"),
        &Value::Null,
    );
    assert_eq!(narrowed.code, 200, "{}", narrowed.body);
    assert_eq!(narrowed.body["items"].as_array().map(Vec::len), Some(1));
    // Another ServiceAccount of the namespace gets nothing from that binding.
    service_account(&s, "team", "other");
    let o = s.create_token("team", "other", &[], 3600).expect("token");
    assert_eq!(
        as_token(&s, &o, "GET", &format!("{cm}/mine"), &Value::Null).code,
        403
    );

    // A ClusterRole bound to the namespace's ServiceAccounts group, cluster-wide.
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ns-reader"},
               "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]},
                         {"apiGroups": ["apps"], "resources": ["*/status"], "verbs": ["get"]}]}),
    );
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ns-reader"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ns-reader"},
               "subjects": [{"kind": "Group", "name": "system:serviceaccounts:team"}]}),
    );
    assert_eq!(
        as_token(&s, &o, "GET", "/api/v1/namespaces", &Value::Null).code,
        200
    );
    let status = as_token(
        &s,
        &o,
        "GET",
        "/apis/apps/v1/namespaces/team/deployments/web/status",
        &Value::Null,
    );
    assert_eq!(status.code, 404, "allowed, then not found: {}", status.body);
    assert_eq!(
        as_token(
            &s,
            &o,
            "GET",
            "/apis/apps/v1/namespaces/team/deployments/web",
            &Value::Null
        )
        .code,
        403
    );

    // The admin (no credentials) is still allowed everything.
    assert_eq!(get(&s, "/debug/counters").code, 200);
    assert_eq!(get(&s, "/api/v1/secrets").code, 200);
}

#[test]
fn self_subject_reviews_answer_for_the_caller() {
    let s = server();
    namespace(&s, "team");
    service_account(&s, "team", "bot");
    let t = s.create_token("team", "bot", &[], 3600).expect("token");
    let whoami = as_token(
        &s,
        &t,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    );
    assert_eq!(whoami.code, 201, "{}", whoami.body);
    assert_eq!(
        whoami.body["status"]["userInfo"]["username"],
        "system:serviceaccount:team:bot"
    );
    let admin = request(
        &s,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    );
    assert_eq!(
        admin.body["status"]["userInfo"]["username"],
        "kubernetes-admin"
    );
    assert_eq!(
        admin.body["status"]["userInfo"]["groups"],
        json!(["system:masters", "system:authenticated"])
    );

    let can = |verb: &str, resource: &str| {
        let r = as_token(
            &s,
            &t,
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                    "spec": {"resourceAttributes": {"namespace": "team", "verb": verb, "resource": resource}}}),
        );
        assert_eq!(r.code, 201, "{}", r.body);
        r.body["status"]["allowed"].as_bool().expect("allowed")
    };
    assert!(!can("list", "secrets"));
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "edit"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-lister"},
               "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
    );
    assert!(
        !can("list", "secrets"),
        "the ClusterRole does not exist yet"
    );
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "secret-lister"},
               "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
    );
    assert!(can("list", "secrets"));
    assert!(!can("get", "secrets"));

    let rules = as_token(
        &s,
        &t,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "team"}}),
    );
    assert_eq!(rules.code, 201, "{}", rules.body);
    let resource_rules = rules.body["status"]["resourceRules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        resource_rules
            .iter()
            .any(|r| r["resources"] == json!(["secrets"]) && r["verbs"] == json!(["list"]))
    );
    assert!(
        resource_rules
            .iter()
            .any(|r| r["resources"]
                == json!(["selfsubjectaccessreviews", "selfsubjectrulesreviews"]))
    );

    // A ServiceAccount may not review other people's tokens without system:auth-delegator.
    let tr = as_token(
        &s,
        &t,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": t}}),
    );
    assert_eq!(tr.code, 403);
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bot-delegator"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
               "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]}),
    );
    let tr = as_token(
        &s,
        &t,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": t}}),
    );
    assert_eq!(
        (tr.code, tr.body["status"]["authenticated"].clone()),
        (201, json!(true))
    );

    // SubjectAccessReview, as the admin, about someone else.
    let sar = request(
        &s,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": "system:serviceaccount:team:bot", "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"],
                         "resourceAttributes": {"namespace": "team", "verb": "list", "resource": "secrets"}}}),
    );
    assert_eq!(sar.body["status"]["allowed"], true, "{}", sar.body);
    let wrong = request(
        &s,
        "GET",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &Value::Null,
    );
    assert_eq!(wrong.code, 405);
}

#[test]
fn namespaces_get_a_default_service_account_and_the_root_ca() {
    let s = server();
    for ns in ["default", "kube-system"] {
        assert_eq!(
            get(
                &s,
                &format!("/api/v1/namespaces/{ns}/serviceaccounts/default")
            )
            .code,
            200
        );
    }
    namespace(&s, "fresh");
    assert_eq!(
        get(&s, "/api/v1/namespaces/fresh/serviceaccounts/default").code,
        200
    );
    let ca = get(&s, "/api/v1/namespaces/fresh/configmaps/kube-root-ca.crt");
    assert_eq!(ca.code, 200);
    let pem = ca.body["data"]["ca.crt"].as_str().expect("ca.crt");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(pem, s.root_ca_pem());

    let bare = TestServer::start_with(Config {
        namespace_defaults: false,
        ..Config::default()
    })
    .expect("server");
    create(
        &bare,
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}),
    );
    assert_eq!(
        get(&bare, "/api/v1/namespaces/fresh/configmaps").body["items"],
        json!([])
    );
}

#[test]
fn pod_tokens_are_bound_to_their_pod() {
    use tradewind_apiserver::auth;
    use tradewind_apiserver::server::registry::ResourceDef;
    let s = server();
    {
        // Serve Pods if this build does not yet (the kubelet's pods are what binds).
        let mut st = s.shared().lock();
        if st.registry.find("", "v1", "pods").is_none() {
            st.registry.resources.push(ResourceDef {
                group: String::new(),
                version: "v1".into(),
                plural: "pods".into(),
                singular: "pod".into(),
                kind: "Pod".into(),
                namespaced: true,
                short_names: vec!["po".into()],
                categories: vec!["all".into()],
                has_status: true,
                crd: None,
            });
        }
    }
    let pod = create(
        &s,
        "/api/v1/namespaces/default/pods",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "worker-0"},
               "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    );
    let uid = pod["metadata"]["uid"].as_str().expect("uid");
    let stale = auth::pod_token(
        s.shared(),
        "default",
        "default",
        "worker-0",
        "0000",
        &[],
        3600,
    );
    assert_eq!(stale.map_err(|e| e.code), Err(409));
    let issued = auth::pod_token(s.shared(), "default", "default", "worker-0", uid, &[], 3607)
        .expect("pod token");
    let c = claims(&issued.token);
    assert_eq!(
        c["kubernetes.io"]["pod"],
        json!({"name": "worker-0", "uid": uid})
    );
    assert_eq!(
        c["exp"].as_i64().zip(c["iat"].as_i64()).map(|(e, i)| e - i),
        Some(3607)
    );
    let ok = review(&s, &issued.token, &[]);
    assert_eq!(ok["authenticated"], true, "{ok}");
    assert_eq!(
        ok["user"]["extra"]["authentication.kubernetes.io/pod-name"],
        json!(["worker-0"])
    );
    assert_eq!(
        ok["user"]["extra"]["authentication.kubernetes.io/pod-uid"],
        json!([uid])
    );
    // Removed at once (no grace period), its token stops authenticating.
    request(
        &s,
        "DELETE",
        "/api/v1/namespaces/default/pods/worker-0?gracePeriodSeconds=0",
        &Value::Null,
    );
    assert_eq!(review(&s, &issued.token, &[])["authenticated"], false);
}

#[test]
fn impersonation_is_authorised_and_takes_the_impersonated_identity() {
    let s = server();
    namespace(&s, "team");
    service_account(&s, "team", "bot");
    let as_bot = [("Impersonate-User", "system:serviceaccount:team:bot")];
    let whoami = request_with(
        &s,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &[as_bot[0], ("Content-Type", "application/json")],
        r#"{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}"#,
    );
    assert_eq!(
        whoami.body["status"]["userInfo"],
        json!({"username": "system:serviceaccount:team:bot",
               "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]})
    );
    let denied = request_with(&s, "GET", "/api/v1/namespaces/team/secrets", &as_bot, "");
    assert_eq!(
        denied.body["message"],
        r#"secrets is forbidden: User "system:serviceaccount:team:bot" cannot list resource "secrets" in API group "" in the namespace "team""#
    );
    let groups = request_with(
        &s,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &[
            ("Impersonate-User", "jane"),
            ("Impersonate-Group", "ops"),
            ("Impersonate-Group", "dev"),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(
        groups.body["status"]["userInfo"]["groups"],
        json!(["ops", "dev", "system:authenticated"])
    );
    let no_user = request_with(&s, "GET", "/api", &[("Impersonate-Group", "ops")], "");
    assert_eq!(no_user.code, 400);

    // A ServiceAccount may not impersonate without the impersonate verb.
    let t = s.create_token("team", "bot", &[], 3600).expect("token");
    let auth = format!("Bearer {t}");
    let r = request_with(
        &s,
        "GET",
        "/api",
        &[
            ("Authorization", &auth),
            ("Impersonate-User", "system:serviceaccount:team:default"),
        ],
        "",
    );
    assert_eq!(r.code, 403);
    assert_eq!(
        r.body["message"],
        r#"serviceaccounts "default" is forbidden: User "system:serviceaccount:team:bot" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team""#
    );
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "impersonate-users"},
               "rules": [{"apiGroups": [""], "resources": ["users"], "resourceNames": ["jane"], "verbs": ["impersonate"]}]}),
    );
    create(
        &s,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "bot-impersonates"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonate-users"},
               "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]}),
    );
    let jane = request_with(
        &s,
        "GET",
        "/api",
        &[("Authorization", &auth), ("Impersonate-User", "jane")],
        "",
    );
    assert_eq!(jane.code, 200, "{}", jane.body);
    let john = request_with(
        &s,
        "GET",
        "/api",
        &[("Authorization", &auth), ("Impersonate-User", "john")],
        "",
    );
    assert_eq!(john.code, 403);
}
