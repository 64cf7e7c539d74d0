//! Just enough of the Kubernetes protobuf encoding to read the bodies that client-go's
//! typed clients send (they default to `application/vnd.kubernetes.protobuf`): the
//! `k8s\0` envelope, `ObjectMeta`, and the kinds those clients write in practice —
//! ConfigMap and Secret (`kubectl create configmap|secret`, Helm's release storage),
//! Namespace, ServiceAccount — plus `DeleteOptions`. Responses are always JSON, which
//! those clients accept.

use serde_json::{Map, Value, json};

use super::error::ApiError;

/// A decoded protobuf field value.
#[derive(Debug)]
pub(crate) enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn bad(what: &str) -> ApiError {
    ApiError::bad_request(format!("malformed protobuf body: {what}"))
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, ApiError> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or_else(|| bad("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("varint too long"))
}

/// The fields of a protobuf message, in order.
pub(crate) fn fields(buf: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, ApiError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (field, wt) = (key >> 3, key & 7);
        let w = match wt {
            0 => Wire::Varint(varint(buf, &mut pos)?),
            1 => {
                pos += 8;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| bad("length"))?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or_else(|| bad("truncated field"))?;
                let b = &buf[pos..end];
                pos = end;
                Wire::Bytes(b)
            }
            5 => {
                pos += 4;
                Wire::Fixed
            }
            _ => return Err(bad("unsupported wire type")),
        };
        if pos > buf.len() {
            return Err(bad("truncated"));
        }
        out.push((field, w));
    }
    Ok(out)
}

/// A protobuf string field.
pub(crate) fn string(b: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(b.to_vec()).map_err(|_| bad("string is not UTF-8"))
}

/// Standard base64 (with padding), as JSON carries `[]byte`.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `map<string, string|bytes>` entry list into a JSON object.
fn map_entry(b: &[u8], bytes_values: bool, into: &mut Map<String, Value>) -> Result<(), ApiError> {
    let mut key = String::new();
    let mut value = Value::String(String::new());
    for (f, w) in fields(b)? {
        if let Wire::Bytes(v) = w {
            match f {
                1 => key = string(v)?,
                2 if bytes_values => value = json!(base64(v)),
                2 => value = json!(string(v)?),
                _ => {}
            }
        }
    }
    into.insert(key, value);
    Ok(())
}

fn insert_nonempty(m: &mut Map<String, Value>, key: &str, v: String) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

fn object_meta(b: &[u8]) -> Result<Value, ApiError> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    let mut owners = Vec::new();
    for (f, w) in fields(b)? {
        match (f, w) {
            (1, Wire::Bytes(v)) => {
                insert_nonempty(&mut m, "name", string(v)?);
            }
            (2, Wire::Bytes(v)) => {
                insert_nonempty(&mut m, "generateName", string(v)?);
            }
            (3, Wire::Bytes(v)) => {
                insert_nonempty(&mut m, "namespace", string(v)?);
            }
            (5, Wire::Bytes(v)) => {
                insert_nonempty(&mut m, "uid", string(v)?);
            }
            (6, Wire::Bytes(v)) => {
                insert_nonempty(&mut m, "resourceVersion", string(v)?);
            }
            (11, Wire::Bytes(v)) => map_entry(v, false, &mut labels)?,
            (12, Wire::Bytes(v)) => map_entry(v, false, &mut annotations)?,
            (13, Wire::Bytes(v)) => {
                let mut r = Map::new();
                for (of, ow) in fields(v)? {
                    match (of, ow) {
                        (1, Wire::Bytes(s)) => {
                            r.insert("kind".into(), json!(string(s)?));
                        }
                        (3, Wire::Bytes(s)) => {
                            r.insert("name".into(), json!(string(s)?));
                        }
                        (4, Wire::Bytes(s)) => {
                            r.insert("uid".into(), json!(string(s)?));
                        }
                        (5, Wire::Bytes(s)) => {
                            r.insert("apiVersion".into(), json!(string(s)?));
                        }
                        (6, Wire::Varint(x)) => {
                            r.insert("controller".into(), json!(x != 0));
                        }
                        (7, Wire::Varint(x)) => {
                            r.insert("blockOwnerDeletion".into(), json!(x != 0));
                        }
                        _ => {}
                    }
                }
                owners.push(Value::Object(r));
            }
            (14, Wire::Bytes(v)) => finalizers.push(json!(string(v)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    if !owners.is_empty() {
        m.insert("ownerReferences".into(), Value::Array(owners));
    }
    Ok(Value::Object(m))
}

/// Decodes a `k8s\0`-enveloped object into its JSON form; `None` for kinds this
/// decoder does not know (the caller answers 415).
pub fn decode_object(body: &[u8]) -> Result<Option<Value>, ApiError> {
    let inner = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| bad("missing k8s envelope"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (f, w) in fields(inner)? {
        match (f, w) {
            (1, Wire::Bytes(tm)) => {
                for (tf, tw) in fields(tm)? {
                    match (tf, tw) {
                        (1, Wire::Bytes(v)) => api_version = string(v)?,
                        (2, Wire::Bytes(v)) => kind = string(v)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(v)) => raw = v,
            _ => {}
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind.clone()));
    let mut data = Map::new();
    let mut binary = Map::new();
    let mut string_data = Map::new();
    for (f, w) in fields(raw)? {
        match (kind.as_str(), f, w) {
            (_, 1, Wire::Bytes(v)) => {
                obj.insert("metadata".into(), object_meta(v)?);
            }
            ("ConfigMap", 2, Wire::Bytes(v)) => map_entry(v, false, &mut data)?,
            ("ConfigMap", 3, Wire::Bytes(v)) => map_entry(v, true, &mut binary)?,
            ("ConfigMap", 4, Wire::Varint(x)) | ("Secret", 5, Wire::Varint(x)) => {
                obj.insert("immutable".into(), json!(x != 0));
            }
            ("Secret", 2, Wire::Bytes(v)) => map_entry(v, true, &mut data)?,
            ("Secret", 3, Wire::Bytes(v)) => {
                obj.insert("type".into(), json!(string(v)?));
            }
            ("Secret", 4, Wire::Bytes(v)) => map_entry(v, false, &mut string_data)?,
            ("ConfigMap" | "Secret" | "Namespace" | "ServiceAccount", _, _) => {}
            _ => return Ok(None),
        }
    }
    if !matches!(
        kind.as_str(),
        "ConfigMap" | "Secret" | "Namespace" | "ServiceAccount"
    ) {
        return Ok(None);
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if !string_data.is_empty() {
        obj.insert("stringData".into(), Value::Object(string_data));
    }
    Ok(Some(Value::Object(obj)))
}

/// Decodes protobuf `DeleteOptions` (`propagationPolicy`, `preconditions`, `dryRun`).
pub fn decode_delete_options(body: &[u8]) -> Result<Value, ApiError> {
    let inner = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| bad("missing k8s envelope"))?;
    let mut raw = &[][..];
    for (f, w) in fields(inner)? {
        if let (2, Wire::Bytes(v)) = (f, w) {
            raw = v;
        }
    }
    let mut out = Map::new();
    let mut dry = Vec::new();
    for (f, w) in fields(raw)? {
        match (f, w) {
            (2, Wire::Bytes(v)) => {
                let mut p = Map::new();
                for (pf, pw) in fields(v)? {
                    match (pf, pw) {
                        (1, Wire::Bytes(s)) => {
                            p.insert("uid".into(), json!(string(s)?));
                        }
                        (2, Wire::Bytes(s)) => {
                            p.insert("resourceVersion".into(), json!(string(s)?));
                        }
                        _ => {}
                    }
                }
                out.insert("preconditions".into(), Value::Object(p));
            }
            (3, Wire::Varint(x)) => {
                out.insert("orphanDependents".into(), json!(x != 0));
            }
            (4, Wire::Bytes(v)) => {
                out.insert("propagationPolicy".into(), json!(string(v)?));
            }
            (5, Wire::Bytes(v)) => dry.push(json!(string(v)?)),
            _ => {}
        }
    }
    if !dry.is_empty() {
        out.insert("dryRun".into(), Value::Array(dry));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![((n << 3) | 2) as u8, bytes.len() as u8];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn decodes_a_secret_envelope() {
        let meta = [
            field(1, b"s"),
            field(11, &[field(1, b"app"), field(2, b"web")].concat()),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &[field(1, b"k"), field(2, b"hi!")].concat()),
            field(3, b"Opaque"),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend([field(1, &type_meta), field(2, &secret)].concat());
        let v = decode_object(&body).expect("decodes").expect("known kind");
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "s", "labels": {"app": "web"}}, "data": {"k": "aGkh"}})
        );
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
