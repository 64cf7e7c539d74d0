//! The one Node every pod is scheduled to: this machine, as `kubectl get nodes` and
//! `kubectl describe node` show it (Ready, its CPU count and memory, its address).

use serde_json::{Value, json};

use super::kubelet::NODE_NAME;
use super::registry::GroupResource;
use super::store::{State, WriteCtx};
use super::util;

/// Total memory in KiB from `/proc/meminfo`, if readable.
fn mem_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Creates the Node object with a Ready status.
pub fn register(st: &mut State) {
    let Some(def) = st.registry.find("", "v1", "nodes").cloned() else {
        return;
    };
    let node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {
            "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
            "node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.77.0.0/16"}});
    if let Err(e) = st.create(&def, None, node, &WriteCtx::default()) {
        tracing::warn!(%e, "registering the node");
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = mem_kib().map_or(Value::Null, |k| json!(format!("{k}Ki")));
    let now = util::now_rfc3339();
    let capacity = json!({"cpu": cpus.to_string(), "memory": mem, "pods": "110"});
    let status = json!({
        "capacity": capacity, "allocatable": capacity,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
            "lastTransitionTime": now}],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                      {"type": "Hostname", "address": NODE_NAME}],
        "nodeInfo": {"kubeletVersion": "v1.33.0", "operatingSystem": "linux",
            "architecture": std::env::consts::ARCH, "containerRuntimeVersion": "tradewind://process",
            "kernelVersion": "", "osImage": "", "kubeProxyVersion": "", "machineID": "",
            "systemUUID": "", "bootID": ""},
    });
    let gr = GroupResource {
        group: String::new(),
        resource: "nodes".into(),
    };
    st.write_status(&gr, "", NODE_NAME, status);
}
