//! HTTP routing: discovery, the REST verbs, watch streams and the `/debug` endpoints.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Shared;
use super::error::ApiError;
use super::registry::ResourceDef;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{
    DeleteOpts, Event, EventType, Fault, PatchType, Propagation, WatchMsg, WriteCtx, present,
};
use super::table;
use super::util;

/// The response body type: a whole JSON document or a watch stream.
pub type ResBody = BoxBody<Bytes, Infallible>;

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 20;

/// A streamed body fed by a channel (watch responses).
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn full(body: impl Into<Bytes>) -> ResBody {
    Full::new(body.into()).boxed()
}

fn json_response(code: u16, content_type: &str, v: &Value) -> Response<ResBody> {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(ct) = content_type.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, ct);
    }
    resp
}

fn ok_json(code: u16, v: &Value) -> Response<ResBody> {
    json_response(code, "application/json", v)
}

fn error_response(e: &ApiError) -> Response<ResBody> {
    let mut resp = Response::new(full(e.to_status_body()));
    *resp.status_mut() = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Parsed request essentials.
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    accept: String,
    content_type: String,
    user_agent: String,
    body: Bytes,
    /// Who is asking (authenticated from the `Authorization` header).
    user: crate::auth::UserInfo,
}

impl Req {
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query parameter as the real server converts it: present and neither
    /// `0` nor `false` in any case (clients send `true`, `True` or `1`).
    fn flag(&self, key: &str) -> bool {
        self.q(key)
            .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }
}

/// Entry point for every request.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ResBody>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = util::parse_query(req.uri().query());
    let header = |h| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let accept = header(ACCEPT);
    let content_type = header(CONTENT_TYPE);
    let user_agent = header(USER_AGENT);
    let user = match crate::auth::authenticate(&shared, req.headers()) {
        Ok(u) => u,
        Err(e) => return Ok(error_response(&e)),
    };
    let body = match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading the body: {e}"
            ))));
        }
    };
    if body.len() > MAX_BODY {
        return Ok(error_response(&ApiError::new(
            413,
            "RequestEntityTooLarge",
            "request entity too large",
        )));
    }
    let r = Req {
        method,
        path,
        query,
        accept,
        content_type,
        user_agent,
        body,
        user,
    };
    tracing::debug!(method = %r.method, path = %r.path, query = ?r.query, accept = %r.accept, "request");
    let resp = match route(&shared, &r).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(method = %r.method, path = %r.path, code = e.code, "{}", e.message);
            error_response(&e)
        }
    };
    Ok(resp)
}

async fn route(shared: &Arc<Shared>, r: &Req) -> Result<Response<ResBody>, ApiError> {
    let segs: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
    // RBAC on non-resource paths, then the token and review endpoints.
    crate::auth::authorize_path(shared, &r.user, r.method.as_str(), &r.path)?;
    if let Some(answer) = crate::auth::review::serve(
        shared,
        &r.user,
        r.method.as_str(),
        &r.path,
        &r.body,
        &r.content_type,
    ) {
        return answer.map(|(code, v)| ok_json(code, &v));
    }
    match (r.method.clone(), segs.as_slice()) {
        (Method::GET, ["version"]) => Ok(ok_json(200, &version())),
        (Method::GET, ["healthz" | "readyz" | "livez", ..]) => {
            let mut resp = Response::new(full("ok"));
            resp.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain"),
            );
            Ok(resp)
        }
        (_, ["debug", rest @ ..]) => debug(shared, r, rest),
        (Method::GET, ["api"]) => {
            if let Some(ct) = aggregated_accept(&r.accept) {
                let mut doc = shared.lock().registry.aggregated(true);
                doc["apiVersion"] = json!(format!("apidiscovery.k8s.io/{}", ct.1));
                return Ok(json_response(200, &ct.0, &doc));
            }
            Ok(ok_json(
                200,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}]}),
            ))
        }
        (Method::GET, ["apis"]) => {
            if let Some(ct) = aggregated_accept(&r.accept) {
                let mut doc = shared.lock().registry.aggregated(false);
                doc["apiVersion"] = json!(format!("apidiscovery.k8s.io/{}", ct.1));
                return Ok(json_response(200, &ct.0, &doc));
            }
            Ok(ok_json(200, &shared.lock().registry.api_group_list()))
        }
        (Method::GET, ["api", "v1"]) => shared
            .lock()
            .registry
            .api_resource_list("", "v1")
            .map(|v| ok_json(200, &v))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        (Method::GET, ["apis", group]) => shared
            .lock()
            .registry
            .api_group(group)
            .map(|v| ok_json(200, &v))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        (Method::GET, ["apis", group, version]) => shared
            .lock()
            .registry
            .api_resource_list(group, version)
            .map(|v| ok_json(200, &v))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        (Method::GET, ["openapi", "v2"]) => {
            // JSON only: the protobuf (gnostic) encoding client-go asks for is not made.
            if r.accept.contains("protobuf") && !r.accept.contains("json") {
                return Err(ApiError::new(
                    406,
                    "NotAcceptable",
                    "only the following media types are accepted: application/json",
                ));
            }
            Ok(ok_json(200, &shared.lock().registry.openapi_v2()))
        }
        (Method::GET, ["openapi", "v3"]) => {
            Ok(ok_json(200, &shared.lock().registry.openapi_v3_root()))
        }
        (Method::GET, ["openapi", "v3", "api", "v1"]) => shared
            .lock()
            .registry
            .openapi_v3_gv("", "v1")
            .map(|v| ok_json(200, &v))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        (Method::GET, ["openapi", "v3", "apis", group, version]) => shared
            .lock()
            .registry
            .openapi_v3_gv(group, version)
            .map(|v| ok_json(200, &v))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            }),
        (_, ["api", "v1", rest @ ..]) => resource(shared, r, "", "v1", rest).await,
        (_, ["apis", group, version, rest @ ..]) => resource(shared, r, group, version, rest).await,
        _ => Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )),
    }
}

/// If the client asks for aggregated discovery: (content type, version).
fn aggregated_accept(accept: &str) -> Option<(String, &'static str)> {
    for part in accept.split(',') {
        if part.contains("as=APIGroupDiscoveryList") && part.contains("g=apidiscovery.k8s.io") {
            let v = if part.contains("v=v2beta1") {
                "v2beta1"
            } else {
                "v2"
            };
            return Some((
                format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"),
                v,
            ));
        }
    }
    None
}

/// `(table apiVersion)` if the client asks for the Table format.
fn table_accept(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        if part.contains("as=Table") && part.contains("g=meta.k8s.io") {
            return Some(if part.contains("v=v1beta1") {
                "v1beta1"
            } else {
                "v1"
            });
        }
    }
    None
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-tradewind",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn debug(shared: &Arc<Shared>, r: &Req, rest: &[&str]) -> Result<Response<ResBody>, ApiError> {
    match (r.method.clone(), rest) {
        (Method::GET, ["counters"]) => {
            let st = shared.lock();
            let items: Vec<Value> = st
                .counters
                .iter()
                .map(|((v, res), n)| json!({"verb": v, "resource": res, "count": n}))
                .collect();
            Ok(ok_json(200, &json!({"counters": items})))
        }
        (Method::DELETE, ["counters"]) => {
            shared.lock().counters.clear();
            Ok(ok_json(200, &json!({})))
        }
        (Method::POST, ["faults"]) => {
            let v: Value = serde_json::from_slice(&r.body)
                .map_err(|e| ApiError::bad_request(format!("bad fault: {e}")))?;
            let mut st = shared.lock();
            if let Some(f) = v.get("fail") {
                let fault: Fault = serde_json::from_value(f.clone())
                    .map_err(|e| ApiError::bad_request(format!("bad fault: {e}")))?;
                st.faults.push(fault);
            }
            if v.get("closeWatches") == Some(&Value::Bool(true)) {
                st.close_watches();
            }
            if let Some(n) = v.get("goneNextWatches").and_then(Value::as_u64) {
                st.gone_next_watches += u32::try_from(n).unwrap_or(u32::MAX);
            }
            if v.get("goneNextWatch") == Some(&Value::Bool(true)) {
                st.gone_next_watches += 1;
            }
            if let Some(d) = v.get("failDeployment") {
                let ns = d
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let name = d.get("name").and_then(Value::as_str).unwrap_or("");
                st.failing_deployments
                    .insert((ns.to_owned(), name.to_owned()));
            }
            Ok(ok_json(200, &json!({"faults": st.faults})))
        }
        _ => Err(ApiError::new(404, "NotFound", "unknown debug endpoint")),
    }
}

struct Target {
    def: ResourceDef,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
    watch_path: bool,
}

fn resolve(shared: &Shared, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let (watch_path, rest) = match rest.split_first() {
        Some((&"watch", tail)) => (true, tail),
        _ => (false, rest),
    };
    let st = shared.lock();
    let reg = &st.registry;
    let (ns, plural, name, sub) = if rest.len() >= 3
        && rest[0] == "namespaces"
        && reg
            .find(group, version, rest[2])
            .is_some_and(|d| d.namespaced)
    {
        (
            Some(rest[1]),
            rest[2],
            rest.get(3).copied(),
            rest.get(4).copied(),
        )
    } else {
        let plural = rest.first().copied().ok_or_else(not_found)?;
        (None, plural, rest.get(1).copied(), rest.get(2).copied())
    };
    if rest.len() > if ns.is_some() { 5 } else { 3 } {
        return Err(not_found());
    }
    let def = reg
        .find(group, version, plural)
        .cloned()
        .ok_or_else(not_found)?;
    if let Some(s) = sub
        && !(s == "status" && def.has_status
            || s == "log" && def.has_log()
            || s == "scale" && def.scale().is_some())
    {
        return Err(not_found());
    }
    Ok(Target {
        def,
        ns: ns.map(str::to_owned),
        name: name.map(str::to_owned),
        sub: sub.map(str::to_owned),
        watch_path,
    })
}

fn field_manager(r: &Req) -> Option<String> {
    r.q("fieldManager").map(str::to_owned).or_else(|| {
        let ua = r.user_agent.split('/').next().unwrap_or("");
        (!ua.is_empty()).then(|| ua.to_owned())
    })
}

fn write_ctx(r: &Req) -> WriteCtx {
    WriteCtx {
        field_manager: field_manager(r),
        force: r.flag("force"),
        dry_run: r.q("dryRun").is_some_and(|v| v == "All"),
        applying: false,
    }
}

fn parse_body(r: &Req) -> Result<Value, ApiError> {
    if r.content_type.contains("protobuf") {
        return super::protobuf::decode_object(&r.body)?
            .ok_or_else(|| ApiError::unsupported_media(&r.content_type));
    }
    if r.content_type.contains("cbor") {
        return Err(ApiError::unsupported_media(&r.content_type));
    }
    if r.content_type.contains("yaml") {
        return super::store::parse_yaml_or_json(&r.body);
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the body: {e}")))
}

fn delete_opts(r: &Req) -> Result<DeleteOpts, ApiError> {
    let body: Value = if r.body.is_empty() {
        json!({})
    } else if r.content_type.contains("protobuf") {
        super::protobuf::decode_delete_options(&r.body)?
    } else {
        serde_json::from_slice(&r.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let policy = r.q("propagationPolicy").map(str::to_owned).or_else(|| {
        body.get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let orphan = body.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        || r.q("orphanDependents") == Some("true");
    let propagation = match policy.as_deref() {
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some("Background") | None if !orphan => Propagation::Background,
        Some("Background") | None => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown propagationPolicy {other:?}"
            )));
        }
    };
    let dry = r.q("dryRun") == Some("All")
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOpts {
        propagation,
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        dry_run: dry,
        grace_period: r
            .q("gracePeriodSeconds")
            .and_then(|g| g.parse().ok())
            .or_else(|| body.get("gracePeriodSeconds").and_then(Value::as_i64)),
    })
}

fn selectors(r: &Req, def: &ResourceDef) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let extra = if def.crd.is_some() {
        &[][..]
    } else {
        super::selectors::extra_field_labels(&def.group, &def.plural)
    };
    Ok((
        LabelSelector::parse(r.q("labelSelector").unwrap_or(""))?,
        FieldSelector::parse_for(r.q("fieldSelector").unwrap_or(""), extra)?,
    ))
}

fn respond_obj(r: &Req, def: &ResourceDef, code: u16, obj: &Value) -> Response<ResBody> {
    match table_accept(&r.accept) {
        Some(v) => {
            let mut t = table::to_table(
                def,
                std::slice::from_ref(obj),
                r.q("includeObject").unwrap_or("Metadata"),
                json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)}),
            );
            t["apiVersion"] = json!(format!("meta.k8s.io/{v}"));
            json_response(
                code,
                &format!("application/json;as=Table;v={v};g=meta.k8s.io"),
                &t,
            )
        }
        None => ok_json(code, obj),
    }
}

async fn resource(
    shared: &Arc<Shared>,
    r: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<ResBody>, ApiError> {
    let t = resolve(shared, group, version, rest)?;
    if t.sub.as_deref() == Some("log") {
        if r.method != Method::GET {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                r.method, r.path
            )));
        }
        if let Some(e) = shared.lock().count_and_fault("get", "pods/log") {
            return Err(e);
        }
        return pod_log(shared, r, &t);
    }
    let def = &t.def;
    let ns = t.ns.as_deref();
    let status_only = t.sub.is_some();
    let res_name = match &t.sub {
        Some(s) => format!("{}/{s}", def.plural),
        None => def.plural.clone(),
    };
    let is_watch = t.watch_path || r.flag("watch") && r.q("watch") != Some("false");
    let verb = match (&r.method, &t.name) {
        (&Method::GET, None) if is_watch => "watch",
        (&Method::GET, Some(_)) if is_watch => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, None) => "create",
        (&Method::PUT, Some(_)) => "update",
        (&Method::PATCH, Some(_)) => "patch",
        (&Method::DELETE, Some(_)) => "delete",
        (&Method::DELETE, None) => "deletecollection",
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                r.method, r.path
            )));
        }
    };
    crate::auth::authorize(
        shared,
        &r.user,
        &crate::auth::resource_request(
            verb,
            def,
            t.sub.as_deref(),
            ns,
            t.name.as_deref(),
            r.q("fieldSelector"),
        ),
    )?;
    if let Some(e) = shared.lock().count_and_fault(verb, &res_name) {
        return Err(e);
    }
    if def.namespaced && ns.is_none() && !matches!(verb, "list" | "watch" | "create") {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    if !def.namespaced && ns.is_some() {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    if t.sub.as_deref() == Some("scale") {
        return scale(shared, r, def, ns, t.name.as_deref().unwrap_or(""), verb);
    }
    match verb {
        "watch" => watch(shared, r, &t).await,
        "get" => {
            let name = t.name.as_deref().unwrap_or("");
            let obj = shared.lock().get(def, ns, name)?;
            Ok(respond_obj(r, def, 200, &obj))
        }
        "list" => list(shared, r, def, ns),
        "create" => {
            let obj = parse_body(r)?;
            strict_fields(r, def, &obj)?;
            let created = shared.lock().create(def, ns, obj, &write_ctx(r))?;
            Ok(ok_json(201, &created))
        }
        "update" => {
            let name = t.name.as_deref().unwrap_or("");
            let obj = parse_body(r)?;
            strict_fields(r, def, &obj)?;
            let updated = shared
                .lock()
                .update(def, ns, name, obj, status_only, &write_ctx(r))?;
            Ok(ok_json(200, &updated))
        }
        "patch" => {
            let name = t.name.as_deref().unwrap_or("");
            let ct = r.content_type.split(';').next().unwrap_or("").trim();
            let kind = match ct {
                "application/merge-patch+json" => PatchType::Merge,
                "application/json-patch+json" => PatchType::Json,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                "application/apply-patch+yaml" | "application/apply-patch+yml" => PatchType::Apply,
                other => return Err(ApiError::unsupported_media(other)),
            };
            if matches!(
                kind,
                PatchType::Merge | PatchType::Strategic | PatchType::Apply
            ) && r.q("fieldValidation") == Some("Strict")
            {
                let body = super::store::parse_yaml_or_json(&r.body)?;
                strict_fields(r, def, &body)?;
            }
            let (obj, created) =
                shared
                    .lock()
                    .patch(def, ns, name, kind, &r.body, status_only, &write_ctx(r))?;
            Ok(ok_json(if created { 201 } else { 200 }, &obj))
        }
        "delete" => {
            let name = t.name.as_deref().unwrap_or("");
            let opts = delete_opts(r)?;
            let obj = shared.lock().delete(def, ns, name, &opts)?;
            Ok(ok_json(200, &obj))
        }
        "deletecollection" => {
            let (labels, fields) = selectors(r, def)?;
            let opts = delete_opts(r)?;
            let mut st = shared.lock();
            let items = st.delete_collection(def, ns, &labels, &fields, &opts)?;
            let rv = st.resource_version();
            Ok(ok_json(
                200,
                &json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(), "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
            ))
        }
        _ => Err(ApiError::method_not_allowed("unsupported verb")),
    }
}

/// `fieldValidation=Strict` (kubectl's default `--validate=strict`): fields the kind's
/// schema does not know are a 400, as kube-apiserver's strict decoding answers.
fn strict_fields(r: &Req, def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    if r.q("fieldValidation") != Some("Strict") {
        return Ok(());
    }
    let mut unknown = match def.crd.as_ref() {
        Some(crd) => crd
            .schema
            .as_ref()
            .map(|s| super::openapi::unknown_fields_in(s, obj))
            .unwrap_or_default(),
        None => super::openapi::unknown_fields(&def.group, &def.version, &def.kind, obj),
    };
    // Patch directives are not fields.
    unknown.retain(|p| !p.split('.').any(|s| s.starts_with('$')));
    if unknown.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field {p:?}"))
        .collect();
    Err(ApiError::bad_request(format!(
        "{kind} in version {v:?} cannot be handled as a {kind}: strict decoding error: {}",
        list.join(", "),
        kind = def.kind,
        v = def.version
    )))
}

/// `GET|PUT|PATCH .../{name}/scale` (autoscaling/v1 Scale).
fn scale(
    shared: &Arc<Shared>,
    r: &Req,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    verb: &str,
) -> Result<Response<ResBody>, ApiError> {
    use super::scale::{self as sc, ScalePatch};
    let obj = match verb {
        "get" => sc::get(shared, def, ns, name)?,
        "update" => sc::update(shared, def, ns, name, &parse_body(r)?, &write_ctx(r))?,
        "patch" => {
            let kind = match r.content_type.split(';').next().unwrap_or("").trim() {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    ScalePatch::Merge
                }
                "application/json-patch+json" => ScalePatch::Json,
                other => return Err(ApiError::unsupported_media(other)),
            };
            sc::patch(shared, def, ns, name, kind, &r.body, &write_ctx(r))?
        }
        _ => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                r.method, r.path
            )));
        }
    };
    Ok(ok_json(200, &obj))
}

/// `GET pods/{name}/log`: what the kubelet kept of a container's output (`container`,
/// `previous`, `tailLines`, `limitBytes`).
fn pod_log(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<ResBody>, ApiError> {
    let name = t.name.as_deref().unwrap_or("");
    let pod = shared.lock().get(&t.def, t.ns.as_deref(), name)?;
    let opts = super::kubelet::LogOptions {
        container: r.q("container").map(str::to_owned),
        previous: r.q("previous") == Some("true"),
        tail_lines: r.q("tailLines").and_then(|n| n.parse().ok()),
        limit_bytes: r.q("limitBytes").and_then(|n| n.parse().ok()),
    };
    let text = super::kubelet::read_log(shared.runtime_dir(), &pod, &opts)?;
    let body = if r.q("follow") == Some("true") {
        follow_log(shared, &pod, &opts, text)?
    } else {
        full(text)
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

/// `follow=true`: what is there, then what the run writes until it ends (or the pod goes,
/// the client leaves, the server stops).
fn follow_log(
    shared: &Arc<Shared>,
    pod: &Value,
    opts: &super::kubelet::LogOptions,
    first: Vec<u8>,
) -> Result<ResBody, ApiError> {
    let target = super::kubelet::log_file(shared.runtime_dir(), pod, opts)?;
    // Read through an open handle: the kubelet removes the pod's files once it is gone,
    // and what the run wrote last must still reach the client.
    let mut file = std::fs::File::open(&target.path).ok();
    if let Some(f) = &mut file {
        use std::io::Seek as _;
        let _ = f.seek(std::io::SeekFrom::End(0));
    }
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ns = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let shared = shared.clone();
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        let mut shutdown = shared.shutdown.subscribe();
        let pods = super::registry::GroupResource {
            group: String::new(),
            resource: "pods".into(),
        };
        loop {
            let going = super::kubelet::run_going(
                shared.lock().one(&pods, &ns, &name).as_ref(),
                &uid,
                &target,
            );
            let mut chunk = Vec::new();
            if let Some(f) = &mut file {
                use std::io::Read as _;
                let _ = f.read_to_end(&mut chunk);
            } else {
                file = std::fs::File::open(&target.path).ok();
            }
            if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            if !going {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(BoxBody::new(ChannelBody { rx }))
}

fn list(
    shared: &Arc<Shared>,
    r: &Req,
    def: &ResourceDef,
    ns: Option<&str>,
) -> Result<Response<ResBody>, ApiError> {
    let (labels, fields) = selectors(r, def)?;
    let limit = match r.q("limit") {
        Some(l) if !l.is_empty() => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        _ => 0,
    };
    let (items, rv) = {
        let st = shared.lock();
        (st.list(def, ns, &labels, &fields), st.resource_version())
    };
    let key_of = |o: &Value| {
        format!(
            "{}/{}",
            o.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(""),
            o.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        )
    };
    let mut items = items;
    let mut list_rv = rv.to_string();
    if let Some(token) = r.q("continue").filter(|c| !c.is_empty()) {
        let decoded = util::hex_decode(token)
            .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        let (token_rv, after) = decoded
            .split_once('|')
            .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
        list_rv = token_rv.to_owned();
        items.retain(|o| key_of(o).as_str() > after);
    }
    let mut meta = json!({"resourceVersion": list_rv});
    if limit > 0 && items.len() > limit {
        let remaining = items.len() - limit;
        items.truncate(limit);
        if let Some(last) = items.last() {
            meta["continue"] = json!(util::hex_encode(&format!("{list_rv}|{}", key_of(last))));
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    if let Some(v) = table_accept(&r.accept) {
        let mut t = table::to_table(
            def,
            &items,
            r.q("includeObject").unwrap_or("Metadata"),
            meta,
        );
        t["apiVersion"] = json!(format!("meta.k8s.io/{v}"));
        return Ok(json_response(
            200,
            &format!("application/json;as=Table;v={v};g=meta.k8s.io"),
            &t,
        ));
    }
    Ok(ok_json(
        200,
        &json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(), "metadata": meta, "items": items}),
    ))
}

/// Formats a watch event line; `None` if the object is filtered out.
struct WatchView {
    def: ResourceDef,
    ns: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    table: Option<(&'static str, String)>,
}

impl WatchView {
    fn matches(&self, o: &Value) -> bool {
        let ns_ok = self
            .ns
            .as_deref()
            .is_none_or(|n| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(n));
        let name_ok = self
            .name
            .as_deref()
            .is_none_or(|n| o.pointer("/metadata/name").and_then(Value::as_str) == Some(n));
        ns_ok && name_ok && self.labels.matches(o) && self.fields.matches(o)
    }

    fn line(&self, ty: &str, obj: &Value) -> Bytes {
        let obj = present(&self.def, obj);
        let obj = match &self.table {
            Some((v, include)) if ty != "BOOKMARK" && ty != "ERROR" => {
                let mut t = table::to_table(
                    &self.def,
                    std::slice::from_ref(&obj),
                    include,
                    json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)}),
                );
                t["apiVersion"] = json!(format!("meta.k8s.io/{v}"));
                t
            }
            _ => obj,
        };
        // `type` before `object`, as kube-apiserver writes watch events.
        let mut s = format!(r#"{{"type":"{ty}","object":"#).into_bytes();
        s.extend(serde_json::to_vec(&obj).unwrap_or_default());
        s.extend(b"}\n");
        Bytes::from(s)
    }

    fn event(&self, ev: &Event) -> Option<Bytes> {
        let now = self.matches(&ev.object);
        let before = ev.old.as_ref().map(|o| self.matches(o)).unwrap_or(now);
        let ty = match (ev.kind, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Deleted, _, true) => "DELETED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, false, true) => "ADDED",
            (EventType::Modified, true, false) => "DELETED",
            _ => return None,
        };
        Some(self.line(ty, &ev.object))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj =
            json!({"kind": self.def.kind, "apiVersion": self.def.api_version(), "metadata": meta});
        self.line("BOOKMARK", &obj)
    }
}

async fn watch(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<ResBody>, ApiError> {
    let (labels, fields) = selectors(r, &t.def)?;
    let view = WatchView {
        def: t.def.clone(),
        ns: t.ns.clone(),
        name: t.name.clone(),
        labels,
        fields,
        table: table_accept(&r.accept)
            .map(|v| (v, r.q("includeObject").unwrap_or("Metadata").to_owned())),
    };
    let rv_param = r.q("resourceVersion").unwrap_or("");
    let send_initial = match r.q("sendInitialEvents") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let bookmarks = r.flag("allowWatchBookmarks");
    if send_initial.is_some() && r.q("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::invalid(
            "ListOptions",
            "",
            &[("sendInitialEvents".into(), "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and resourceVersionMatch is NotOlderThan".into())],
        ));
    }
    if send_initial == Some(true) && !bookmarks {
        return Err(ApiError::invalid(
            "ListOptions",
            "",
            &[(
                "allowWatchBookmarks".into(),
                "Forbidden: allowWatchBookmarks must be true if sendInitialEvents is true".into(),
            )],
        ));
    }
    let from_rv: Option<u64> = match rv_param {
        "" | "0" => None,
        v => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {v:?}")))?,
        ),
    };
    let initial = match send_initial {
        Some(b) => b,
        None => from_rv.is_none(),
    };
    let timeout = r
        .q("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(1024);
    let mut first: Vec<Bytes> = Vec::new();
    // Only copies are taken under the store's lock; the initial events are serialised
    // after it is released (with thousands of objects that is most of the work).
    let mut initial_objects: Vec<Value> = Vec::new();
    let mut initial_end: Option<u64> = None;
    let mut replayed: Vec<Arc<Event>> = Vec::new();
    let registered = {
        let mut st = shared.lock();
        let replay_from = if initial { None } else { from_rv };
        match st.watch(&view.def.gr(), replay_from) {
            Ok((replay, rx)) => {
                if initial {
                    initial_objects =
                        st.list(&view.def, view.ns.as_deref(), &view.labels, &view.fields);
                    if send_initial == Some(true) {
                        initial_end = Some(st.resource_version());
                    }
                }
                replayed = replay;
                Some(rx)
            }
            Err(e) => {
                first.push(view.line("ERROR", &e.to_status()));
                None
            }
        }
    };
    for o in initial_objects.iter().filter(|o| view.matches(o)) {
        first.push(view.line("ADDED", o));
    }
    drop(initial_objects);
    if let Some(rv) = initial_end {
        first.push(view.bookmark(rv, true));
    }
    for ev in replayed {
        if let Some(b) = view.event(&ev) {
            first.push(b);
        }
    }
    let shared2 = shared.clone();
    tokio::spawn(async move {
        for b in first {
            if out_tx.send(b).await.is_err() {
                return;
            }
        }
        let Some(mut rx) = registered else {
            return;
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut shutdown = shared2.shutdown.subscribe();
        let mut tick = tokio::time::interval(shared2.bookmark_interval);
        tick.tick().await;
        loop {
            let sleep_until = deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400));
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(WatchMsg::Event(ev)) => {
                        if let Some(b) = view.event(&ev)
                            && out_tx.send(b).await.is_err()
                        {
                            return;
                        }
                    }
                    None => return,
                },
                _ = tick.tick(), if bookmarks => {
                    // Events are queued under the store's lock, so taking the version and
                    // the queue in one hold sends every event up to it, and none past it,
                    // before the bookmark (a client resumes from the bookmark's version).
                    let (rv, pending) = {
                        let st = shared2.lock();
                        let mut pending = Vec::new();
                        while let Ok(WatchMsg::Event(ev)) = rx.try_recv() {
                            pending.push(ev);
                        }
                        (st.resource_version(), pending)
                    };
                    for ev in pending {
                        if let Some(b) = view.event(&ev)
                            && out_tx.send(b).await.is_err()
                        {
                            return;
                        }
                    }
                    if out_tx.send(view.bookmark(rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(sleep_until) => return,
                _ = shutdown.changed() => return,
            }
        }
    });
    let mut resp = Response::new(BoxBody::new(ChannelBody { rx: out_rx }));
    let ct = match &view_table_ct(r) {
        Some(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
        None => "application/json".to_owned(),
    };
    if let Ok(v) = ct.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    Ok(resp)
}

fn view_table_ct(r: &Req) -> Option<&'static str> {
    table_accept(&r.accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_parsing() {
        let a = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_accept(a).map(|x| x.1), Some("v2"));
        assert_eq!(aggregated_accept("application/json"), None);
        let t = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(table_accept(t), Some("v1"));
    }
}
