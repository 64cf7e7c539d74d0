//! The process kubelet: a pod whose every container image is mapped to a local
//! executable runs each container as a real process, in a mount view of its own
//! (bubblewrap) and a network namespace of its own (a veth pair with addresses from
//! 10.77.0.0/16, one /30 per pod, no route beyond it), with its environment, volumes,
//! probes, restarts with back-off, and logs. Containers of other images are simulated
//! by [`super::controllers`].
//!
//! Root is needed (namespaces, mounts). Network namespaces and addresses are claimed
//! through lock files in `/run/tradewind-kubelet/net` so servers running side by side
//! never share one, and a claim whose server died is reclaimed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::registry::GroupResource;
use super::store::State;
use super::{ApiError, Shared, util};
use crate::semantics::workload::{self as wl, ContainerRun, ContainerState, Terminated};

/// The name of the one node; every pod is scheduled to it.
pub const NODE_NAME: &str = "tradewind-node";
const NET_LOCKS: &str = "/run/tradewind-kubelet/net";
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Errors configuring the kubelet.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// An `--image-map` entry is malformed.
    #[error("image map entry {entry:?}: {reason}")]
    ImageMap {
        /// The entry.
        entry: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The runtime directory could not be created.
    #[error("creating the kubelet directory {path}: {source}")]
    Dir {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Image patterns (`*` matches any run of characters) mapped to executables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageMap {
    entries: Vec<(String, PathBuf)>,
}

impl ImageMap {
    /// Parses `PATTERN=PATH[,PATTERN=PATH...]`, e.g. `tradewind-bot:*=/usr/bin/tw`; the
    /// executable must exist.
    pub fn parse(text: &str) -> Result<Self, KubeletError> {
        let mut entries = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let err = |reason: &str| KubeletError::ImageMap {
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            };
            let (pattern, path) = entry
                .split_once('=')
                .ok_or_else(|| err("expected PATTERN=PATH"))?;
            if pattern.is_empty() {
                return Err(err("the image pattern is empty"));
            }
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(err("the executable does not exist"));
            }
            entries.push((pattern.to_owned(), path));
        }
        Ok(Self { entries })
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The executable an image runs, if mapped. A pattern matches the whole image
    /// reference or the reference without its registry and path (`ghcr.io/x/bot:1`
    /// matches `bot:*`).
    pub fn lookup(&self, image: &str) -> Option<&Path> {
        let short = image.rsplit('/').next().unwrap_or(image);
        self.entries
            .iter()
            .find(|(p, _)| glob(p, image) || glob(p, short))
            .map(|(_, path)| path.as_path())
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| glob(tail, &rest[i..]))
        }
    }
}

/// How the kubelet runs.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// Images run as processes.
    pub images: ImageMap,
    /// Where pods' volumes, logs and claims live (a fresh temporary directory if
    /// `None`; removed when the server stops).
    pub runtime_dir: Option<PathBuf>,
    /// The first CrashLoopBackOff delay (doubling up to 5 minutes), 10 s in a real kubelet.
    pub crash_backoff: Duration,
    /// Host services pods reach: each pod's gateway address relays TCP on these ports to
    /// the same port on 127.0.0.1 (e.g. a test's exchange mock), so the service itself
    /// listens on loopback only and traffic stays inside namespaces the server created.
    pub host_ports: Vec<u16>,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        Self {
            images: ImageMap::default(),
            runtime_dir: None,
            crash_backoff: Duration::from_secs(10),
            host_ports: Vec::new(),
        }
    }
}

type Key = (String, String);

struct PodHandle {
    uid: String,
    stop: watch::Sender<Option<i64>>,
}

/// The process kubelet's state: pods it runs, process groups and network claims (for
/// cleanup on shutdown).
pub struct Kubelet {
    cfg: KubeletConfig,
    dir: PathBuf,
    owns_dir: bool,
    pods: Mutex<HashMap<Key, PodHandle>>,
    groups: Mutex<HashSet<i32>>,
    nets: Mutex<HashSet<u32>>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubelet").field("dir", &self.dir).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn containers(pod: &Value) -> Vec<Value> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl Kubelet {
    /// Creates the runtime directory.
    pub fn new(cfg: KubeletConfig) -> Result<Arc<Self>, KubeletError> {
        let (dir, owns_dir) = match &cfg.runtime_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "tradewind-kubelet-{}-{}",
                    std::process::id(),
                    util::name_suffix()
                )),
                true,
            ),
        };
        std::fs::create_dir_all(&dir).map_err(|source| KubeletError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(Arc::new(Self {
            cfg,
            dir,
            owns_dir,
            pods: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashSet::new()),
            nets: Mutex::new(HashSet::new()),
        }))
    }

    /// Where pods' files live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this pod runs as processes (every container's image is mapped).
    pub fn runs(&self, pod: &Value) -> bool {
        let cs = containers(pod);
        !cs.is_empty()
            && cs
                .iter()
                .all(|c| self.cfg.images.lookup(s(c, "/image")).is_some())
    }

    /// The images of a pod that are not mapped.
    pub fn unmapped_images(&self, pod: &Value) -> Vec<String> {
        containers(pod)
            .iter()
            .map(|c| s(c, "/image").to_owned())
            .filter(|i| self.cfg.images.lookup(i).is_none())
            .collect()
    }

    /// Reconciles one process pod (called with the store locked): starts it, or stops
    /// it when it is being deleted.
    pub fn sync(self: &Arc<Self>, shared: &Arc<Shared>, st: &mut State, pod: &Value) {
        let key = (
            s(pod, "/metadata/namespace").to_owned(),
            s(pod, "/metadata/name").to_owned(),
        );
        let uid = s(pod, "/metadata/uid").to_owned();
        let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
        let grace = pod
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        let mut pods = lock(&self.pods);
        match pods.get(&key) {
            Some(h) if h.uid == uid => {
                if deleting {
                    h.stop.send_replace(Some(grace));
                }
            }
            other => {
                if let Some(old) = other {
                    old.stop.send_replace(Some(0));
                }
                if deleting {
                    pods.remove(&key);
                    st.finish_pod_deletion(&key.0, &key.1, &uid);
                    return;
                }
                if matches!(s(pod, "/status/phase"), "Succeeded" | "Failed") {
                    return;
                }
                let (tx, rx) = watch::channel(None);
                pods.insert(key, PodHandle { uid, stop: tx });
                tokio::spawn(run_pod(shared.clone(), self.clone(), pod.clone(), rx));
            }
        }
    }

    /// A pod vanished from the store (removed without grace): stop its processes.
    pub fn pod_gone(&self, key: &Key) {
        if let Some(h) = lock(&self.pods).get(key) {
            h.stop.send_replace(Some(0));
        }
    }

    /// Kills every process and removes every network namespace this kubelet made.
    pub fn shutdown(&self) {
        for h in lock(&self.pods).values() {
            h.stop.send_replace(Some(0));
        }
        for pg in lock(&self.groups).drain() {
            // SAFETY: kill(2) with a process-group id this kubelet created.
            unsafe {
                libc::kill(-pg, libc::SIGKILL);
            }
        }
        for idx in lock(&self.nets).drain() {
            Net::remove_sync(idx);
        }
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ---------------------------------------------------------------------------- network

/// A pod's network: namespace `tw-IDX`, host side `twhIDX` with the gateway address.
struct Net {
    idx: u32,
    ns: String,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
}

async fn ip(args: &[&str]) -> Result<(), String> {
    let out = tokio::process::Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("running ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Net {
    fn addrs(idx: u32) -> (Ipv4Addr, Ipv4Addr) {
        let base = u32::from(Ipv4Addr::new(10, 77, 0, 0)) + idx * 4;
        (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
    }

    /// Claims a free index (a lock file naming this process), reclaiming those of dead
    /// servers.
    fn claim() -> Result<u32, String> {
        std::fs::create_dir_all(NET_LOCKS).map_err(|e| format!("creating {NET_LOCKS}: {e}"))?;
        let me = std::process::id().to_string();
        for idx in 1..16_383u32 {
            let path = Path::new(NET_LOCKS).join(idx.to_string());
            for _ in 0..2 {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(mut f) => {
                        use std::io::Write as _;
                        f.write_all(me.as_bytes())
                            .map_err(|e| format!("writing {}: {e}", path.display()))?;
                        return Ok(idx);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let owner = std::fs::read_to_string(&path).unwrap_or_default();
                        let alive = !owner.trim().is_empty()
                            && Path::new("/proc").join(owner.trim()).exists();
                        if alive {
                            break;
                        }
                        Net::remove_sync(idx);
                    }
                    Err(e) => return Err(format!("creating {}: {e}", path.display())),
                }
            }
        }
        Err("no free pod network left in 10.77.0.0/16".into())
    }

    async fn create(idx: u32) -> Result<Net, String> {
        let ns = format!("tw-{idx}");
        let host = format!("twh{idx}");
        let (gateway, pod_ip) = Net::addrs(idx);
        ip(&["netns", "add", &ns]).await?;
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ])
        .await?;
        ip(&["addr", "add", &format!("{gateway}/30"), "dev", &host]).await?;
        ip(&["link", "set", &host, "up"]).await?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{pod_ip}/30"),
            "dev",
            "eth0",
        ])
        .await?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"]).await?;
        ip(&["-n", &ns, "link", "set", "lo", "up"]).await?;
        Ok(Net {
            idx,
            ns,
            gateway,
            ip: pod_ip,
        })
    }

    /// Removes a namespace, its veth pair and its claim (synchronously: also used on
    /// shutdown, when no runtime may be left).
    fn remove_sync(idx: u32) {
        for args in [
            vec!["netns".to_owned(), "del".to_owned(), format!("tw-{idx}")],
            vec!["link".to_owned(), "del".to_owned(), format!("twh{idx}")],
        ] {
            let _ = std::process::Command::new("ip")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_file(Path::new(NET_LOCKS).join(idx.to_string()));
    }
}

// ----------------------------------------------------------------------- mount view

/// One bind mount of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mount {
    src: PathBuf,
    dst: String,
    read_only: bool,
}

/// The `bwrap` arguments of a container's view: the host's top-level directories
/// read-only, fresh `/dev`, `/proc` and `/tmp`, the volumes at their mount paths (a host
/// directory that must gain a new entry for a mount point is replaced by a tmpfs with
/// its entries bound back), its own IPC and UTS namespaces, then `argv`.
fn bwrap_args(hostname: &str, mounts: &[Mount], workdir: &str, argv: &[String]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--die-with-parent",
        "--unshare-ipc",
        "--unshare-uts",
        "--hostname",
        hostname,
    ]
    .iter()
    .map(|x| (*x).to_owned())
    .collect();
    let skip = ["proc", "dev", "tmp", "lost+found"];
    let bind_entries = |dir: &Path, a: &mut Vec<String>| {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if dir == Path::new("/") && skip.contains(&name.as_str()) {
                continue;
            }
            let path = dir.join(&name).display().to_string();
            match std::fs::read_link(e.path()) {
                Ok(target) => a.extend([
                    "--symlink".into(),
                    target.display().to_string(),
                    path.clone(),
                ]),
                Err(_) => a.extend(["--ro-bind".into(), path.clone(), path]),
            }
        }
    };
    bind_entries(Path::new("/"), &mut a);
    a.extend(
        ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
            .iter()
            .map(|x| (*x).to_owned()),
    );
    // Mount points through host symlinks (`/var/run` → `/run`) land where they point.
    let mounts: Vec<Mount> = mounts
        .iter()
        .map(|m| Mount {
            dst: resolve_host_path(&m.dst),
            ..m.clone()
        })
        .collect();
    // Host directories that need a new entry for a mount point.
    let mut explode: Vec<PathBuf> = Vec::new();
    for m in &mounts {
        let mut existing = PathBuf::from("/");
        for part in Path::new(&m.dst).components().skip(1) {
            let next = existing.join(part);
            if !next.exists() {
                // `/tmp` and `/dev` are the sandbox's own: bwrap makes mount points there.
                if existing != Path::new("/")
                    && !existing.starts_with("/tmp")
                    && !existing.starts_with("/dev")
                    && !explode.contains(&existing)
                {
                    explode.push(existing.clone());
                }
                break;
            }
            existing = next;
        }
    }
    explode.sort_by_key(|p| p.components().count());
    for dir in &explode {
        a.extend(["--tmpfs".into(), dir.display().to_string()]);
        bind_entries(dir, &mut a);
    }
    let mut sorted: Vec<&Mount> = mounts.iter().collect();
    sorted.sort_by_key(|m| Path::new(&m.dst).components().count());
    for m in sorted {
        let flag = if m.read_only { "--ro-bind" } else { "--bind" };
        a.extend([flag.into(), m.src.display().to_string(), m.dst.clone()]);
    }
    a.extend(["--chdir".into(), workdir.to_owned(), "--".into()]);
    a.extend(argv.iter().cloned());
    a
}

/// `path` with every existing host symlink along it resolved (the rest kept as is).
fn resolve_host_path(path: &str) -> String {
    let mut existing = PathBuf::from("/");
    let mut parts = Path::new(path).components().skip(1).peekable();
    while let Some(part) = parts.peek() {
        let next = existing.join(part);
        match next.canonicalize() {
            Ok(real) if next.exists() => {
                existing = real;
                parts.next();
            }
            _ => break,
        }
    }
    for part in parts {
        existing.push(part);
    }
    existing.display().to_string()
}

// ------------------------------------------------------------------------ pod setup

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn core(resource: &str) -> GroupResource {
    GroupResource {
        group: String::new(),
        resource: resource.into(),
    }
}

/// The keys of a ConfigMap or Secret as bytes, or why not.
fn source_data(
    st: &State,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let (res, label) = if kind == "Secret" {
        ("secrets", "secret")
    } else {
        ("configmaps", "configmap")
    };
    let obj = st
        .one(&core(res), ns, name)
        .ok_or_else(|| format!("{label} \"{name}\" not found"))?;
    let mut out = BTreeMap::new();
    let field = |f: &str| {
        obj.get(f)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    if kind == "Secret" {
        for (k, v) in field("data") {
            out.insert(k, b64_decode(v.as_str().unwrap_or("")).unwrap_or_default());
        }
    } else {
        for (k, v) in field("data") {
            out.insert(k, v.as_str().unwrap_or("").as_bytes().to_vec());
        }
        for (k, v) in field("binaryData") {
            out.insert(k, b64_decode(v.as_str().unwrap_or("")).unwrap_or_default());
        }
    }
    Ok(out)
}

/// `fieldRef` values (`metadata.labels['x']` included).
fn field_ref(pod: &Value, path: &str, pod_ip: &str) -> Result<String, String> {
    let bracket = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix("']"))
            .map(str::to_owned)
    };
    if let Some(k) = bracket("metadata.labels['") {
        return Ok(s(pod, &format!("/metadata/labels/{}", k.replace('/', "~1"))).to_owned());
    }
    if let Some(k) = bracket("metadata.annotations['") {
        return Ok(s(
            pod,
            &format!("/metadata/annotations/{}", k.replace('/', "~1")),
        )
        .to_owned());
    }
    Ok(match path {
        "metadata.name" => s(pod, "/metadata/name").to_owned(),
        "metadata.namespace" => s(pod, "/metadata/namespace").to_owned(),
        "metadata.uid" => s(pod, "/metadata/uid").to_owned(),
        "spec.nodeName" => s(pod, "/spec/nodeName").to_owned(),
        "spec.serviceAccountName" => s(pod, "/spec/serviceAccountName").to_owned(),
        "status.podIP" | "status.podIPs" => pod_ip.to_owned(),
        "status.hostIP" | "status.hostIPs" => "127.0.0.1".to_owned(),
        other => return Err(format!("unsupported fieldRef path {other:?}")),
    })
}

/// Expands `$(VAR)` from the variables defined so far (`$$` escapes), as the kubelet does.
fn expand(text: &str, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$$") {
            out.push('$');
            rest = t;
        } else if let Some(end) = tail.strip_prefix("$(").and_then(|t| t.find(')')) {
            let name = &tail[2..2 + end];
            match vars.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => out.push_str(&tail[..3 + end]),
            }
            rest = &tail[3 + end..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A container's environment: the in-cluster variables, `envFrom`, then `env`.
fn container_env(
    st: &State,
    pod: &Value,
    c: &Value,
    base: &[(String, String)],
    pod_ip: &str,
) -> Result<Vec<(String, String)>, String> {
    let ns = s(pod, "/metadata/namespace");
    let mut vars: Vec<(String, String)> = base.to_vec();
    let set = |vars: &mut Vec<(String, String)>, k: String, v: String| {
        vars.retain(|(x, _)| *x != k);
        vars.push((k, v));
    };
    for from in c
        .get("envFrom")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let prefix = s(from, "/prefix");
        let (kind, r) = match (from.get("configMapRef"), from.get("secretRef")) {
            (Some(r), _) => ("ConfigMap", r),
            (_, Some(r)) => ("Secret", r),
            _ => continue,
        };
        match source_data(st, ns, kind, s(r, "/name")) {
            Ok(data) => {
                for (k, v) in data {
                    set(
                        &mut vars,
                        format!("{prefix}{k}"),
                        String::from_utf8_lossy(&v).into_owned(),
                    );
                }
            }
            Err(e) if r["optional"] != true => return Err(e),
            Err(_) => {}
        }
    }
    for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
        let name = s(e, "/name").to_owned();
        let value = if let Some(v) = e.get("value").and_then(Value::as_str) {
            expand(v, &vars)
        } else if let Some(f) = e.pointer("/valueFrom/fieldRef") {
            field_ref(pod, s(f, "/fieldPath"), pod_ip)?
        } else if let Some((kind, r)) = e
            .pointer("/valueFrom/secretKeyRef")
            .map(|r| ("Secret", r))
            .or_else(|| {
                e.pointer("/valueFrom/configMapKeyRef")
                    .map(|r| ("ConfigMap", r))
            })
        {
            let (src, key) = (s(r, "/name"), s(r, "/key"));
            let found = source_data(st, ns, kind, src).and_then(|d| {
                d.get(key)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .ok_or_else(|| format!("couldn't find key {key} in {kind} {ns}/{src}"))
            });
            match found {
                Ok(v) => v,
                Err(_) if r["optional"] == true => continue,
                Err(e) => return Err(e),
            }
        } else if e.pointer("/valueFrom").is_some() {
            return Err(format!(
                "env {name}: unsupported valueFrom (resourceFieldRef)"
            ));
        } else {
            String::new()
        };
        set(&mut vars, name, value);
    }
    Ok(vars)
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for (rel, bytes) in files {
        if rel.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(format!("invalid volume item path {rel:?}"));
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The files of a ConfigMap/Secret source, through `items` when given.
fn projected_items(
    st: &State,
    ns: &str,
    kind: &str,
    name: &str,
    src: &Value,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let data = match source_data(st, ns, kind, name) {
        Ok(d) => d,
        Err(_) if src["optional"] == true => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    match src.get("items").and_then(Value::as_array) {
        Some(items) => items
            .iter()
            .map(|i| {
                let key = s(i, "/key");
                data.get(key)
                    .map(|v| (s(i, "/path").to_owned(), v.clone()))
                    .ok_or_else(|| format!("couldn't find key {key} in {kind} {ns}/{name}"))
            })
            .collect(),
        None => Ok(data.into_iter().collect()),
    }
}

/// The pod's projected ServiceAccount tokens, one per `serviceAccountToken` source in
/// volume order, signed by the server and bound to the pod (as the kubelet asks the
/// TokenRequest API for them). Minted before the store is locked for the volumes.
fn pod_tokens(shared: &Shared, pod: &Value) -> Result<Vec<String>, String> {
    let ns = s(pod, "/metadata/namespace");
    let sa = match s(pod, "/spec/serviceAccountName") {
        "" => "default",
        name => name,
    };
    let mut tokens = Vec::new();
    for src in pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/projected/sources").and_then(Value::as_array))
        .flatten()
    {
        let Some(t) = src.get("serviceAccountToken") else {
            continue;
        };
        let audiences: Vec<String> = match s(t, "/audience") {
            "" => Vec::new(),
            a => vec![a.to_owned()],
        };
        let seconds = t
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3607);
        let issued = crate::auth::pod_token(
            shared,
            ns,
            sa,
            s(pod, "/metadata/name"),
            s(pod, "/metadata/uid"),
            &audiences,
            seconds,
        )
        .map_err(|e| format!("serviceAccountToken for {ns}/{sa}: {}", e.message))?;
        tokens.push(issued.token);
    }
    Ok(tokens)
}

/// Materializes a pod's volumes under `pod_dir`; returns each volume's host path and
/// whether it is always read-only.
fn prepare_volumes(
    st: &State,
    pod: &Value,
    tokens: &[String],
    pod_dir: &Path,
    claims_dir: &Path,
) -> Result<HashMap<String, (PathBuf, bool)>, String> {
    let ns = s(pod, "/metadata/namespace");
    let mut tokens = tokens.iter();
    let mut out = HashMap::new();
    for v in pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = s(v, "/name").to_owned();
        let dir = pod_dir.join("volumes").join(&name);
        let entry = if let Some(cm) = v.get("configMap") {
            write_files(
                &dir,
                &projected_items(st, ns, "ConfigMap", s(cm, "/name"), cm)?,
            )?;
            (dir, true)
        } else if let Some(sec) = v.get("secret") {
            write_files(
                &dir,
                &projected_items(st, ns, "Secret", s(sec, "/secretName"), sec)?,
            )?;
            (dir, true)
        } else if v.get("emptyDir").is_some() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            (dir, false)
        } else if let Some(p) = v.get("projected") {
            let mut files = Vec::new();
            for src in p
                .get("sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = src.get("serviceAccountToken") {
                    let token = tokens.next().ok_or("serviceAccountToken not minted")?;
                    files.push((s(t, "/path").to_owned(), token.clone().into_bytes()));
                } else if let Some(cm) = src.get("configMap") {
                    files.extend(projected_items(st, ns, "ConfigMap", s(cm, "/name"), cm)?);
                } else if let Some(sec) = src.get("secret") {
                    files.extend(projected_items(st, ns, "Secret", s(sec, "/name"), sec)?);
                } else if let Some(d) = src.get("downwardAPI") {
                    for i in d
                        .get("items")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let value = field_ref(pod, s(i, "/fieldRef/fieldPath"), "")?;
                        files.push((s(i, "/path").to_owned(), value.into_bytes()));
                    }
                }
            }
            write_files(&dir, &files)?;
            (dir, true)
        } else if let Some(d) = v.get("downwardAPI") {
            let mut files = Vec::new();
            for i in d
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let value = field_ref(pod, s(i, "/fieldRef/fieldPath"), "")?;
                files.push((s(i, "/path").to_owned(), value.into_bytes()));
            }
            write_files(&dir, &files)?;
            (dir, true)
        } else if let Some(pvc) = v.get("persistentVolumeClaim") {
            let claim = s(pvc, "/claimName");
            let Some(bound) = st.one(&core("persistentvolumeclaims"), ns, claim) else {
                return Err(format!("persistentvolumeclaim \"{claim}\" not found"));
            };
            // A directory per claim object, as a volume per PersistentVolume: a claim
            // deleted and created again under the same name starts empty.
            let dir = claims_dir
                .join(ns)
                .join(format!("{claim}-{}", s(&bound, "/metadata/uid")));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            (dir, pvc["readOnly"] == true)
        } else if let Some(h) = v.get("hostPath") {
            (PathBuf::from(s(h, "/path")), false)
        } else {
            return Err(format!(
                "volume {name:?}: type not supported by the test kubelet"
            ));
        };
        out.insert(name, entry);
    }
    Ok(out)
}

// ------------------------------------------------------------------------ pod worker

/// What every container task of a pod shares.
struct PodCtx {
    shared: Arc<Shared>,
    kubelet: Arc<Kubelet>,
    pod: Value,
    dir: PathBuf,
    net: Option<Net>,
    base_env: Vec<(String, String)>,
    volumes: HashMap<String, (PathBuf, bool)>,
    runs: Mutex<Vec<ContainerRun>>,
    start_time: String,
}

impl PodCtx {
    fn pod_ip(&self) -> String {
        self.net
            .as_ref()
            .map(|n| n.ip.to_string())
            .unwrap_or_default()
    }

    fn update(&self, i: usize, f: impl FnOnce(&mut ContainerRun)) {
        f(&mut lock(&self.runs)[i]);
        self.publish();
    }

    /// Writes the pod's status from its containers.
    fn publish(&self) {
        let runs = lock(&self.runs).clone();
        let ns = s(&self.pod, "/metadata/namespace");
        let name = s(&self.pod, "/metadata/name");
        let uid = s(&self.pod, "/metadata/uid");
        let mut st = self.shared.lock();
        let Some(current) = st.one(&core("pods"), ns, name) else {
            return;
        };
        if s(&current, "/metadata/uid") != uid {
            return;
        }
        let status = wl::pod_status(
            &current,
            &runs,
            &self.pod_ip(),
            "127.0.0.1",
            &self.start_time,
            None,
            &util::now_rfc3339(),
        );
        st.write_status(&core("pods"), ns, name, status);
    }

    fn mounts(&self, c: &Value) -> Result<Vec<Mount>, String> {
        let mut out = Vec::new();
        for m in c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let vol = s(m, "/name");
            let (src, ro) = self
                .volumes
                .get(vol)
                .ok_or_else(|| format!("volumeMount {vol:?}: no volume of that name"))?;
            let mut src = src.clone();
            let sub = s(m, "/subPath");
            if !sub.is_empty() {
                src = src.join(sub);
                if !src.exists() {
                    std::fs::create_dir_all(&src)
                        .map_err(|e| format!("creating {}: {e}", src.display()))?;
                }
            }
            out.push(Mount {
                src,
                dst: s(m, "/mountPath").to_owned(),
                read_only: *ro || m["readOnly"] == true,
            });
        }
        Ok(out)
    }

    /// The command line of a container: the sandbox around its command and args (the
    /// image's entrypoint is the mapped executable; a `command` naming a program that
    /// is not on this machine runs the mapped executable too).
    fn command(
        &self,
        c: &Value,
        env: &[(String, String)],
        argv: Vec<String>,
    ) -> Result<tokio::process::Command, String> {
        let mut mounts = self.mounts(c)?;
        // The termination message file, empty at each start (as the kubelet's).
        let log = self.termination_file(c);
        std::fs::create_dir_all(log.parent().unwrap_or(self.dir.as_path()))
            .and_then(|()| std::fs::write(&log, b""))
            .map_err(|e| format!("creating {}: {e}", log.display()))?;
        mounts.push(Mount {
            src: log,
            dst: termination_path(c).to_owned(),
            read_only: false,
        });
        // The mapped executable is the image's content: visible at its own path (which
        // may be under the container's fresh /tmp).
        if let Some(exe) = self.kubelet.cfg.images.lookup(s(c, "/image")) {
            mounts.insert(
                0,
                Mount {
                    src: exe.to_path_buf(),
                    dst: exe.display().to_string(),
                    read_only: true,
                },
            );
        }
        let workdir = match s(c, "/workingDir") {
            "" => "/",
            w => w,
        };
        let args = bwrap_args(s(&self.pod, "/metadata/name"), &mounts, workdir, &argv);
        let mut cmd = match &self.net {
            Some(n) => {
                let mut cmd = tokio::process::Command::new("nsenter");
                cmd.arg(format!("--net=/run/netns/{}", n.ns))
                    .arg("--")
                    .arg("bwrap");
                cmd
            }
            None => tokio::process::Command::new("bwrap"),
        };
        cmd.args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .process_group(0);
        Ok(cmd)
    }

    /// The host file behind a container's `terminationMessagePath`.
    fn termination_file(&self, c: &Value) -> PathBuf {
        self.dir.join("termination").join(s(c, "/name"))
    }

    /// A container's termination message after it exited with `code`: what it wrote to
    /// its `terminationMessagePath`, else (`FallbackToLogsOnError`, failed) the end of
    /// its log; at most 4096 bytes, as the kubelet's.
    fn termination_message(&self, c: &Value, code: i32, log: &Path) -> String {
        let written = std::fs::read(self.termination_file(c)).unwrap_or_default();
        let mut text = if written.is_empty()
            && code != 0
            && s(c, "/terminationMessagePolicy") == "FallbackToLogsOnError"
        {
            let log = std::fs::read(log).unwrap_or_default();
            // The last 80 lines, at most 2048 bytes.
            let text = String::from_utf8_lossy(&log).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(80)..].join("\n");
            let from = tail.len().saturating_sub(2048);
            let from = (from..=tail.len())
                .find(|i| tail.is_char_boundary(*i))
                .unwrap_or(tail.len());
            tail[from..].to_owned()
        } else {
            String::from_utf8_lossy(&written).into_owned()
        };
        if text.len() > TERMINATION_MESSAGE_MAX {
            let mut cut = TERMINATION_MESSAGE_MAX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        text
    }

    fn argv(&self, c: &Value, env: &[(String, String)]) -> Vec<String> {
        let image = s(c, "/image");
        let exe = self
            .kubelet
            .cfg
            .images
            .lookup(image)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let list = |k: &str| -> Vec<String> {
            c.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|a| expand(a, env))
                .collect()
        };
        let (command, args) = (list("command"), list("args"));
        let mut argv = if command.is_empty() {
            vec![exe.clone()]
        } else {
            command
        };
        let program = Path::new(&argv[0]);
        let on_host = program.is_absolute() && program.is_file()
            || !argv[0].contains('/')
                && ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                    .iter()
                    .any(|d| Path::new(d).join(&argv[0]).is_file());
        if !on_host {
            argv[0] = exe;
        }
        argv.extend(args);
        argv
    }
}

/// Longest termination message kept (as the kubelet's).
const TERMINATION_MESSAGE_MAX: usize = 4096;

/// Where a container writes its termination message.
fn termination_path(c: &Value) -> &str {
    match s(c, "/terminationMessagePath") {
        "" => "/dev/termination-log",
        p => p,
    }
}

fn grace_of(pod: &Value) -> i64 {
    pod.pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30)
}

/// Relays each connection accepted on a pod's gateway address to `127.0.0.1:port` until
/// `stop` turns true (the pod's end).
async fn relay_to_loopback(
    listener: tokio::net::TcpListener,
    port: u16,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let mut inbound = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::debug!(port, "relay accept: {e}");
                continue;
            }
        };
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut outbound = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(port, "relay to 127.0.0.1: {e}");
                    return;
                }
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            tokio::select! {
                r = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {
                    if let Err(e) = r {
                        tracing::debug!(port, "relay ended: {e}");
                    }
                }
                _ = stop.changed() => {}
            }
        });
    }
}

async fn run_pod(
    shared: Arc<Shared>,
    kubelet: Arc<Kubelet>,
    pod: Value,
    mut stop: watch::Receiver<Option<i64>>,
) {
    let ns = s(&pod, "/metadata/namespace").to_owned();
    let name = s(&pod, "/metadata/name").to_owned();
    let uid = s(&pod, "/metadata/uid").to_owned();
    let dir = kubelet.dir.join("pods").join(&uid);
    let start_time = util::now_rfc3339();
    let runs: Vec<ContainerRun> = containers(&pod)
        .iter()
        .map(|c| ContainerRun::creating(s(c, "/name"), s(c, "/image")))
        .collect();
    // The network first (its address goes into the environment).
    let net = match Net::claim() {
        Ok(idx) => {
            lock(&kubelet.nets).insert(idx);
            match Net::create(idx).await {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::error!(pod = %name, "pod network: {e}");
                    Net::remove_sync(idx);
                    lock(&kubelet.nets).remove(&idx);
                    None
                }
            }
        }
        Err(e) => {
            tracing::error!(pod = %name, "pod network: {e}");
            None
        }
    };
    let port = shared.addr.port();
    let (api_stop, api_stop_rx) = watch::channel(false);
    let api_host = match &net {
        Some(n) => match tokio::net::TcpListener::bind((n.gateway, port)).await {
            Ok(l) => {
                tokio::spawn(super::serve_until(l, shared.clone(), api_stop_rx));
                n.gateway.to_string()
            }
            Err(e) => {
                tracing::error!(pod = %name, "serving the API at {}:{port}: {e}", n.gateway);
                "127.0.0.1".to_owned()
            }
        },
        None => "127.0.0.1".to_owned(),
    };
    if let Some(n) = &net {
        for &host_port in &kubelet.cfg.host_ports {
            match tokio::net::TcpListener::bind((n.gateway, host_port)).await {
                Ok(l) => {
                    tokio::spawn(relay_to_loopback(l, host_port, api_stop.subscribe()));
                }
                Err(e) => tracing::error!(
                    pod = %name,
                    "relaying {}:{host_port} to 127.0.0.1: {e}",
                    n.gateway
                ),
            }
        }
    }
    let base_env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOSTNAME".into(), name.clone()),
        ("HOME".into(), "/root".into()),
        ("KUBERNETES_SERVICE_HOST".into(), api_host.clone()),
        ("KUBERNETES_SERVICE_PORT".into(), port.to_string()),
        ("KUBERNETES_PORT".into(), format!("tcp://{api_host}:{port}")),
    ];
    // Volumes; a missing ConfigMap, Secret or claim is retried until it appears.
    let volumes = loop {
        let prepared = pod_tokens(&shared, &pod).and_then(|tokens| {
            let st = shared.lock();
            prepare_volumes(&st, &pod, &tokens, &dir, &kubelet.dir.join("claims"))
        });
        match prepared {
            Ok(v) => break Some(v),
            Err(e) => {
                let waiting: Vec<ContainerRun> = runs
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        r.state = ContainerState::Waiting {
                            reason: "ContainerCreating".into(),
                            message: format!("MountVolume.SetUp failed: {e}"),
                        };
                        r
                    })
                    .collect();
                {
                    let mut st = shared.lock();
                    if let Some(cur) = st
                        .one(&core("pods"), &ns, &name)
                        .filter(|p| s(p, "/metadata/uid") == uid)
                    {
                        let status = wl::pod_status(
                            &cur,
                            &waiting,
                            "",
                            "127.0.0.1",
                            &start_time,
                            None,
                            &util::now_rfc3339(),
                        );
                        st.write_status(&core("pods"), &ns, &name, status);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => break None,
                }
            }
        }
    };
    let ctx = Arc::new(PodCtx {
        shared: shared.clone(),
        kubelet: kubelet.clone(),
        pod: pod.clone(),
        dir: dir.clone(),
        net,
        base_env,
        volumes: volumes.clone().unwrap_or_default(),
        runs: Mutex::new(runs),
        start_time,
    });
    if volumes.is_some() {
        ctx.publish();
        let tasks: Vec<_> = (0..containers(&pod).len())
            .map(|i| tokio::spawn(run_container(ctx.clone(), i, stop.clone())))
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }
    // Every container stopped for good (or the pod is being deleted): take down the
    // sandbox; wait for the deletion, then forget the pod.
    let _ = api_stop.send(true);
    if let Some(n) = &ctx.net {
        Net::remove_sync(n.idx);
        lock(&kubelet.nets).remove(&n.idx);
    }
    while stop.borrow().is_none() {
        if stop.changed().await.is_err() {
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut pods = lock(&kubelet.pods);
        if pods
            .get(&(ns.clone(), name.clone()))
            .is_some_and(|h| h.uid == uid)
        {
            pods.remove(&(ns.clone(), name.clone()));
        }
    }
    shared.lock().finish_pod_deletion(&ns, &name, &uid);
}

/// Parsed probe.
#[derive(Clone, Debug)]
struct Probe {
    action: ProbeAction,
    initial_delay: Duration,
    period: Duration,
    timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
}

#[derive(Clone, Debug)]
enum ProbeAction {
    Exec(Vec<String>),
    Http { port: u16, path: String },
    Tcp { port: u16 },
}

fn port_of(c: &Value, v: Option<&Value>) -> u16 {
    match v {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u16,
        Some(Value::String(name)) => c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or(0) as u16,
        _ => 0,
    }
}

fn parse_probe(c: &Value, key: &str) -> Option<Probe> {
    let p = c.get(key)?;
    let secs = |k: &str, d: u64| Duration::from_secs(p.get(k).and_then(Value::as_u64).unwrap_or(d));
    let action = if let Some(cmd) = p.pointer("/exec/command").and_then(Value::as_array) {
        ProbeAction::Exec(
            cmd.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )
    } else if let Some(h) = p.get("httpGet") {
        ProbeAction::Http {
            port: port_of(c, h.get("port")),
            path: match s(h, "/path") {
                "" => "/".into(),
                x => x.into(),
            },
        }
    } else if let Some(t) = p.get("tcpSocket") {
        ProbeAction::Tcp {
            port: port_of(c, t.get("port")),
        }
    } else {
        return None;
    };
    Some(Probe {
        action,
        initial_delay: secs("initialDelaySeconds", 0),
        period: secs("periodSeconds", 10).max(Duration::from_secs(1)),
        timeout: secs("timeoutSeconds", 1).max(Duration::from_secs(1)),
        success_threshold: p
            .get("successThreshold")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1) as u32,
        failure_threshold: p
            .get("failureThreshold")
            .and_then(Value::as_u64)
            .unwrap_or(3)
            .max(1) as u32,
    })
}

async fn probe_once(ctx: &PodCtx, sandbox: u32, env: &[(String, String)], p: &Probe) -> bool {
    let host = match &ctx.net {
        Some(n) => n.ip.to_string(),
        None => "127.0.0.1".into(),
    };
    let attempt = async {
        match &p.action {
            ProbeAction::Exec(cmd) => {
                // In the container's own namespaces (its mount view, /tmp included).
                let Some(target) = children(sandbox).first().copied() else {
                    return false;
                };
                let mut command = tokio::process::Command::new("nsenter");
                command
                    .arg(format!("--target={target}"))
                    .args(["--mount", "--net", "--uts", "--ipc", "--"])
                    .args(cmd)
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true);
                matches!(command.status().await, Ok(st) if st.success())
            }
            ProbeAction::Tcp { port } => tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .is_ok(),
            ProbeAction::Http { port, path } => {
                let Ok(mut conn) = tokio::net::TcpStream::connect((host.as_str(), *port)).await
                else {
                    return false;
                };
                let req = format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                );
                if conn.write_all(req.as_bytes()).await.is_err() {
                    return false;
                }
                let mut buf = [0u8; 64];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n]);
                line.split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse::<u16>().ok())
                    .is_some_and(|code| (200..400).contains(&code))
            }
        }
    };
    tokio::time::timeout(p.timeout, attempt)
        .await
        .unwrap_or(false)
}

/// The direct children of a process (bwrap's child is the container's main process).
fn children(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// SIGTERM to the container's process, up to `grace` seconds, then SIGKILL to its group.
async fn stop_process(
    child: &mut tokio::process::Child,
    grace: i64,
) -> std::io::Result<std::process::ExitStatus> {
    let Some(pid) = child.id() else {
        return child.wait().await;
    };
    // nsenter execs bwrap, which forks the container's process.
    let mut targets = children(pid);
    if targets.is_empty() {
        targets.push(pid as i32);
    }
    for t in targets {
        // SAFETY: kill(2) on a process this kubelet started.
        unsafe {
            libc::kill(t, libc::SIGTERM);
        }
    }
    let grace = Duration::from_secs(grace.max(0) as u64);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(r) => r,
        Err(_) => {
            // SAFETY: kill(2) on the process group this kubelet created.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
            child.wait().await
        }
    }
}

enum Outcome {
    Exited(std::process::ExitStatus),
    Stopped(Option<std::process::ExitStatus>),
}

/// Runs one container for the pod's life: start, probe, restart with back-off.
async fn run_container(ctx: Arc<PodCtx>, i: usize, mut stop: watch::Receiver<Option<i64>>) {
    let c = containers(&ctx.pod)[i].clone();
    let cname = s(&c, "/name").to_owned();
    let policy = s(&ctx.pod, "/spec/restartPolicy").to_owned();
    let readiness = parse_probe(&c, "readinessProbe");
    let liveness = parse_probe(&c, "livenessProbe");
    let mut restarts: i64 = 0;
    loop {
        if stop.borrow().is_some() {
            return;
        }
        let env = {
            let st = ctx.shared.lock();
            container_env(&st, &ctx.pod, &c, &ctx.base_env, &ctx.pod_ip())
        };
        let env = match env {
            Ok(e) => e,
            Err(msg) => {
                ctx.update(i, |r| {
                    r.state = ContainerState::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: msg,
                    }
                });
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        let argv = ctx.argv(&c, &env);
        let log_dir = ctx.dir.join("logs").join(&cname);
        let log = std::fs::create_dir_all(&log_dir).and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_dir.join(format!("{restarts}.log")))
        });
        let started_at = util::now_rfc3339();
        let spawned = match (log, ctx.command(&c, &env, argv)) {
            (Ok(log), Ok(mut cmd)) => {
                let err = log
                    .try_clone()
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null());
                cmd.stdout(Stdio::from(log)).stderr(err).kill_on_drop(true);
                cmd.spawn().map_err(|e| e.to_string())
            }
            (Err(e), _) => Err(e.to_string()),
            (_, Err(e)) => Err(e),
        };
        let outcome = match spawned {
            Err(msg) => {
                let t = Terminated {
                    exit_code: 128,
                    signal: None,
                    reason: "StartError".into(),
                    message: msg,
                    started_at: started_at.clone(),
                    finished_at: util::now_rfc3339(),
                };
                ctx.update(i, |r| r.state = ContainerState::Terminated(t));
                None
            }
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                lock(&ctx.kubelet.groups).insert(pid as i32);
                let sa = started_at.clone();
                ctx.update(i, |r| {
                    r.state = ContainerState::Running { started_at: sa };
                    r.ready = readiness.is_none();
                    r.restarts = restarts;
                    r.id = format!("process://{pid}");
                });
                let outcome = supervise(
                    &ctx,
                    i,
                    &c,
                    &env,
                    &mut child,
                    readiness.as_ref(),
                    liveness.as_ref(),
                    &mut stop,
                )
                .await;
                lock(&ctx.kubelet.groups).remove(&(pid as i32));
                Some(outcome)
            }
        };
        let (status, stopped) = match outcome {
            None => (None, false),
            Some(Outcome::Exited(st)) => (Some(st), false),
            Some(Outcome::Stopped(st)) => (st, true),
        };
        if let Some(st) = status {
            use std::os::unix::process::ExitStatusExt as _;
            let (code, signal) = match (st.code(), st.signal()) {
                (Some(c), _) => (c, None),
                (None, Some(sig)) => (128 + sig, Some(sig)),
                _ => (255, None),
            };
            let t = Terminated {
                exit_code: code,
                signal,
                reason: if code == 0 { "Completed" } else { "Error" }.into(),
                message: ctx.termination_message(
                    &c,
                    code,
                    &log_dir.join(format!("{restarts}.log")),
                ),
                started_at: started_at.clone(),
                finished_at: util::now_rfc3339(),
            };
            ctx.update(i, |r| {
                r.state = ContainerState::Terminated(t);
                r.ready = false;
            });
        }
        if stopped {
            return;
        }
        let failed = {
            let runs = lock(&ctx.runs);
            !matches!(&runs[i].state, ContainerState::Terminated(t) if t.exit_code == 0)
        };
        let restart = match policy.as_str() {
            "Never" => false,
            "OnFailure" => failed,
            _ => true,
        };
        if !restart {
            return;
        }
        // The first restart is immediate, then the back-off doubles (as the kubelet's).
        let delay = if restarts == 0 {
            Duration::ZERO
        } else {
            (ctx.kubelet.cfg.crash_backoff * 2u32.saturating_pow((restarts - 1).min(16) as u32))
                .min(MAX_BACKOFF)
        };
        let last = match &lock(&ctx.runs)[i].state {
            ContainerState::Terminated(t) => Some(t.clone()),
            _ => None,
        };
        if !delay.is_zero() {
            let msg = format!(
                "back-off {}s restarting failed container={cname} pod={}_{}({})",
                delay.as_secs(),
                s(&ctx.pod, "/metadata/name"),
                s(&ctx.pod, "/metadata/namespace"),
                s(&ctx.pod, "/metadata/uid")
            );
            ctx.update(i, |r| {
                r.state = ContainerState::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: msg,
                };
                r.last = last.clone();
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return,
            }
        }
        restarts += 1;
        lock(&ctx.runs)[i].last = last;
    }
}

/// Waits for the process to exit, running its probes; a stop request or a failed
/// liveness probe ends it gracefully.
#[allow(clippy::too_many_arguments)]
async fn supervise(
    ctx: &PodCtx,
    i: usize,
    c: &Value,
    env: &[(String, String)],
    child: &mut tokio::process::Child,
    readiness: Option<&Probe>,
    liveness: Option<&Probe>,
    stop: &mut watch::Receiver<Option<i64>>,
) -> Outcome {
    let start = Instant::now();
    let sandbox = child.id().unwrap_or(0);
    let mut next_ready = readiness.map(|p| start + p.initial_delay);
    let mut next_live = liveness.map(|p| start + p.initial_delay);
    let (mut ready_ok, mut ready_bad, mut live_bad) = (0u32, 0u32, 0u32);
    loop {
        let due = [next_ready, next_live].into_iter().flatten().min();
        let sleep = async {
            match due {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            st = child.wait() => {
                return match st {
                    Ok(st) => Outcome::Exited(st),
                    Err(_) => Outcome::Stopped(None),
                };
            }
            _ = stop.changed() => {
                let grace = stop.borrow().unwrap_or(0);
                return Outcome::Stopped(stop_process(child, grace).await.ok());
            }
            _ = sleep => {}
        }
        let now = Instant::now();
        if let (Some(p), Some(t)) = (readiness, next_ready)
            && t <= now
        {
            if probe_once(ctx, sandbox, env, p).await {
                ready_ok += 1;
                ready_bad = 0;
            } else {
                ready_bad += 1;
                ready_ok = 0;
            }
            let was = lock(&ctx.runs)[i].ready;
            let now_ready = if was {
                ready_bad < p.failure_threshold
            } else {
                ready_ok >= p.success_threshold
            };
            if now_ready != was {
                ctx.update(i, |r| r.ready = now_ready);
            }
            next_ready = Some(Instant::now() + p.period);
        }
        if let (Some(p), Some(t)) = (liveness, next_live)
            && t <= now
        {
            if probe_once(ctx, sandbox, env, p).await {
                live_bad = 0;
            } else {
                live_bad += 1;
            }
            if live_bad >= p.failure_threshold {
                tracing::info!(container = %s(c, "/name"), "liveness probe failed; restarting");
                return match stop_process(child, grace_of(&ctx.pod)).await {
                    Ok(st) => Outcome::Exited(st),
                    Err(_) => Outcome::Stopped(None),
                };
            }
            next_live = Some(Instant::now() + p.period);
        }
    }
}

// ------------------------------------------------------------------------------ logs

/// What `GET pods/{name}/log` asks for.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// `container`; may be left out when the pod has one.
    pub container: Option<String>,
    /// `previous`: the run before the current one.
    pub previous: bool,
    /// `tailLines`.
    pub tail_lines: Option<usize>,
    /// `limitBytes`.
    pub limit_bytes: Option<usize>,
}

/// Where one run of a container logs, and which container/run that is: the current run,
/// or with `previous` the one before; the real server's errors for a missing container
/// name or run.
pub fn log_file(dir: &Path, pod: &Value, opts: &LogOptions) -> Result<LogTarget, ApiError> {
    let name = s(pod, "/metadata/name");
    let names: Vec<String> = containers(pod)
        .iter()
        .map(|c| s(c, "/name").to_owned())
        .collect();
    let container = match &opts.container {
        Some(c) => {
            if !names.contains(c) {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            c.clone()
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let status = container_status(pod, &container);
    let restarts = status["restartCount"].as_i64().unwrap_or(0);
    let run = if opts.previous {
        if restarts == 0 {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        restarts - 1
    } else {
        restarts
    };
    let path = dir
        .join("pods")
        .join(s(pod, "/metadata/uid"))
        .join("logs")
        .join(&container)
        .join(format!("{run}.log"));
    if !path.exists()
        && !opts.previous
        && status.pointer("/lastState/terminated").is_none()
        && let Some(reason) = status
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
    {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    Ok(LogTarget {
        path,
        container,
        run,
    })
}

/// One container run's log.
#[derive(Clone, Debug)]
pub struct LogTarget {
    /// The file.
    pub path: PathBuf,
    /// Container name.
    pub container: String,
    /// Run number (its `restartCount` when it started).
    pub run: i64,
}

fn container_status(pod: &Value, container: &str) -> Value {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|c| c["name"] == container))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Whether a run is still going (for `follow`): the pod is there with the same uid and
/// the container is running that run.
pub fn run_going(pod: Option<&Value>, uid: &str, target: &LogTarget) -> bool {
    let Some(pod) = pod.filter(|p| s(p, "/metadata/uid") == uid) else {
        return false;
    };
    let st = container_status(pod, &target.container);
    st["restartCount"].as_i64() == Some(target.run)
        && st.pointer("/state/terminated").is_none()
        && st.pointer("/state/waiting/reason").and_then(Value::as_str) != Some("CrashLoopBackOff")
}

/// A container's output as kept by the kubelet (empty for simulated containers, which
/// print nothing), `tailLines` and `limitBytes` applied.
pub fn read_log(dir: &Path, pod: &Value, opts: &LogOptions) -> Result<Vec<u8>, ApiError> {
    let target = log_file(dir, pod, opts)?;
    let mut bytes = std::fs::read(&target.path).unwrap_or_default();
    if let Some(n) = opts.tail_lines {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let keep = &lines[lines.len().saturating_sub(n)..];
        bytes = keep
            .iter()
            .flat_map(|l| l.bytes().chain(std::iter::once(b'\n')))
            .collect();
    }
    if let Some(n) = opts.limit_bytes {
        bytes.truncate(n);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_patterns() {
        let m = ImageMap::parse("tradewind-bot:*=/bin/sh, exact:1=/bin/sh").unwrap();
        assert!(m.lookup("tradewind-bot:0.1").is_some());
        assert!(m.lookup("ghcr.io/x/tradewind-bot:latest").is_some());
        assert!(m.lookup("exact:1").is_some());
        assert!(m.lookup("exact:2").is_none());
        assert!(m.lookup("other").is_none());
        let e = ImageMap::parse("nobin=/no/such/file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = ImageMap::parse("justtext").unwrap_err().to_string();
        assert!(e.contains("PATTERN=PATH"), "{e}");
    }

    #[test]
    fn glob_matching() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(!glob("a*c", "abd"));
        assert!(glob("a*b*c", "a1b2c"));
    }

    #[test]
    fn env_expansion() {
        let vars = vec![("A".to_owned(), "x".to_owned())];
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(
            b64_decode(&super::super::protobuf::base64(b"hello!?")).unwrap(),
            b"hello!?"
        );
    }

    #[test]
    fn view_binds_volumes_and_makes_room_for_new_mount_points() {
        let mounts = vec![
            Mount {
                src: "/tmp/v1".into(),
                dst: "/etc/tradewind-test-none/conf".into(),
                read_only: true,
            },
            Mount {
                src: "/tmp/v2".into(),
                dst: "/data".into(),
                read_only: false,
            },
        ];
        let a = bwrap_args("p", &mounts, "/", &["/bin/true".into()]);
        let joined = a.join(" ");
        assert!(joined.contains("--tmpfs /etc"), "{joined}");
        assert!(
            joined.contains("--ro-bind /etc/passwd /etc/passwd"),
            "{joined}"
        );
        assert!(joined.contains("--ro-bind /tmp/v1 /etc/tradewind-test-none/conf"));
        assert!(joined.contains("--bind /tmp/v2 /data"));
        assert!(joined.ends_with("--chdir / -- /bin/true"));
        assert!(!joined.contains("--ro-bind /proc"));
    }

    #[test]
    fn field_refs() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n", "labels": {"app.kubernetes.io/name": "x"}},
                         "spec": {"nodeName": "node"}});
        assert_eq!(
            field_ref(&pod, "metadata.labels['app.kubernetes.io/name']", "").unwrap(),
            "x"
        );
        assert_eq!(
            field_ref(&pod, "status.podIP", "10.0.0.2").unwrap(),
            "10.0.0.2"
        );
        assert!(field_ref(&pod, "spec.bogus", "").is_err());
    }
}
