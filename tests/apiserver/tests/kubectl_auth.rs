//! ServiceAccounts through the real `kubectl`: `create token`, then, with that token over
//! HTTPS (kubectl sends credentials only over TLS), `auth whoami`, `auth can-i` (yes and
//! no, and `--list`), a Forbidden `get` with kube-apiserver's message, and the same
//! commands allowed once a RoleBinding exists. Skipped, with a printed reason, only when
//! kubectl is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tradewind_apiserver::TestServer;

fn kubectl_present() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: kubectl is not installed on this machine");
    }
    found
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kubectl(dir: &Path, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new("kubectl");
    c.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("KUBECACHEDIR", dir.join("cache"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("kubectl runs");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        String::from_utf8_lossy(&o.stderr).trim().to_owned(),
    )
}

fn ok(dir: &Path, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let o = kubectl(dir, kubeconfig, args, stdin);
    let (out, err) = text(&o);
    assert!(o.status.success(), "kubectl {args:?} failed:\n{out}\n{err}");
    out
}

const ROLE: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cm-reader, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
- {kind: ServiceAccount, name: bot, namespace: team}
"#;

#[test]
fn kubectl_create_token_whoami_and_can_i_as_a_service_account() {
    if !kubectl_present() {
        return;
    }
    let server = TestServer::start().expect("server");
    let dir = Dir(std::env::temp_dir().join(format!("tw-apiserver-auth-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let admin = dir.0.join("admin");
    server.write_kubeconfig(&admin).expect("kubeconfig");
    let d = dir.0.as_path();

    // As the admin: a namespace (with its default ServiceAccount and root CA), a
    // ServiceAccount, and a token for it (protobuf TokenRequest from client-go).
    ok(d, &admin, &["create", "namespace", "team"], None);
    assert!(
        ok(
            d,
            &admin,
            &["get", "serviceaccounts", "-n", "team", "-o", "name"],
            None
        )
        .contains("serviceaccount/default")
    );
    ok(
        d,
        &admin,
        &["create", "serviceaccount", "bot", "-n", "team"],
        None,
    );
    let token = ok(
        d,
        &admin,
        &["create", "token", "bot", "-n", "team", "--duration", "20m"],
        None,
    );
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let missing = kubectl(
        d,
        &admin,
        &["create", "token", "nobody", "-n", "team"],
        None,
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing)
            .1
            .contains(r#"serviceaccounts "nobody" not found"#),
        "{:?}",
        text(&missing)
    );
    assert_eq!(
        ok(
            d,
            &admin,
            &[
                "auth",
                "whoami",
                "-o",
                "jsonpath={.status.userInfo.username}"
            ],
            None
        ),
        "kubernetes-admin"
    );

    // As the ServiceAccount, over HTTPS with the cluster CA.
    let sa = dir.0.join("sa");
    std::fs::write(&sa, server.token_kubeconfig_yaml(&token, "team")).expect("sa kubeconfig");
    let who = ok(d, &sa, &["auth", "whoami", "-o", "json"], None);
    let who: serde_json::Value = serde_json::from_str(&who).expect("json");
    assert_eq!(
        who["status"]["userInfo"]["username"],
        "system:serviceaccount:team:bot"
    );
    assert!(
        who["status"]["userInfo"]["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g == "system:serviceaccounts:team"))
    );

    let no = kubectl(d, &sa, &["auth", "can-i", "list", "configmaps"], None);
    assert_eq!((no.status.code(), text(&no).0.as_str()), (Some(1), "no"));
    let denied = kubectl(d, &sa, &["get", "configmaps"], None);
    assert!(!denied.status.success());
    assert_eq!(
        text(&denied).1,
        r#"Error from server (Forbidden): configmaps is forbidden: User "system:serviceaccount:team:bot" cannot list resource "configmaps" in API group "" in the namespace "team""#
    );

    // The admin asking as the ServiceAccount (`--as` needs TLS in client-go).
    let admin_https = dir.0.join("admin-https");
    std::fs::write(&admin_https, server.https_kubeconfig_yaml()).expect("https kubeconfig");
    let as_bot = ["--as", "system:serviceaccount:team:bot", "-n", "team"];
    let as_no = kubectl(
        d,
        &admin_https,
        &[&as_bot[..], &["auth", "can-i", "list", "configmaps"]].concat(),
        None,
    );
    assert_eq!(text(&as_no).0, "no");

    ok(d, &admin, &["apply", "-f", "-"], Some(ROLE));
    let as_yes = kubectl(
        d,
        &admin_https,
        &[&as_bot[..], &["auth", "can-i", "list", "configmaps"]].concat(),
        None,
    );
    assert_eq!(text(&as_yes).0, "yes");
    let yes = kubectl(d, &sa, &["auth", "can-i", "list", "configmaps"], None);
    assert_eq!((yes.status.code(), text(&yes).0.as_str()), (Some(0), "yes"));
    let secrets = kubectl(d, &sa, &["auth", "can-i", "get", "secrets"], None);
    assert_eq!(text(&secrets).0, "no");
    assert!(
        ok(d, &sa, &["get", "configmaps", "-o", "name"], None)
            .contains("configmap/kube-root-ca.crt")
    );
    let list = ok(d, &sa, &["auth", "can-i", "--list"], None);
    assert!(
        list.lines()
            .any(|l| l.starts_with("configmaps ") && l.contains("[get list watch]")),
        "{list}"
    );
    assert!(
        list.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{list}"
    );
    // The admin (no credentials) is still allowed everything.
    assert_eq!(
        ok(
            d,
            &admin,
            &["auth", "can-i", "delete", "secrets", "-n", "team"],
            None
        ),
        "yes"
    );
}
