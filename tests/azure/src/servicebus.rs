//! Service Bus REST data plane (`{ns}.servicebus.localhost`): send to a topic (single or
//! batch), receive-and-delete from a subscription.

use serde_json::{Map, Value, json};

use crate::state::{Audience, Message, State};
use crate::util::{Reply, now_rfc1123, random_uuid};

/// Content type of a batch send.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";

fn sb_error(status: u16, detail: &str) -> Reply {
    Reply {
        status,
        headers: vec![(
            "content-type".into(),
            "application/xml; charset=utf-8".into(),
        )],
        body: format!("<Error><Code>{status}</Code><Detail>{detail}</Detail></Error>").into_bytes(),
    }
}

/// (body, content type, broker properties, user properties) of a message being sent.
type Outgoing = (
    Vec<u8>,
    Option<String>,
    Map<String, Value>,
    Map<String, Value>,
);

/// What a Service Bus path addresses.
pub(crate) enum SbTarget {
    Send { topic: String },
    Receive { topic: String, sub: String },
}

/// Checks auth and the namespace, and parses the path.
pub(crate) fn route(
    st: &State,
    ns: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Result<SbTarget, Reply> {
    if st
        .find_by_name("microsoft.servicebus/namespaces", ns)
        .is_none()
    {
        return Err(sb_error(404, &format!("Namespace '{ns}' does not exist.")));
    }
    let ok = crate::arm::bearer(authorization)
        .and_then(|t| st.tokens.get(t))
        .is_some_and(|t| t.audience == Audience::ServiceBus);
    if !ok {
        return Err(sb_error(
            401,
            "InvalidSignature: The token is missing, invalid or not for https://servicebus.azure.net.",
        ));
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segs.as_slice()) {
        ("POST", [topic, m]) if m.eq_ignore_ascii_case("messages") => Ok(SbTarget::Send {
            topic: (*topic).to_owned(),
        }),
        ("DELETE", [topic, s, sub, m, h])
            if s.eq_ignore_ascii_case("subscriptions")
                && m.eq_ignore_ascii_case("messages")
                && h.eq_ignore_ascii_case("head") =>
        {
            Ok(SbTarget::Receive {
                topic: (*topic).to_owned(),
                sub: (*sub).to_owned(),
            })
        }
        _ => Err(sb_error(400, "Operation not supported by the fake.")),
    }
}

fn topic_id(st: &State, ns: &str, topic: &str) -> Option<String> {
    let ns_id = st
        .find_by_name("microsoft.servicebus/namespaces", ns)?
        .id
        .clone();
    let key = format!("{ns_id}/topics/{topic}").to_ascii_lowercase();
    st.resources.contains_key(&key).then_some(key)
}

/// Sends one message or a batch to every subscription of the topic.
pub(crate) fn send(
    st: &mut State,
    ns: &str,
    topic: &str,
    content_type: Option<&str>,
    broker_header: Option<&str>,
    body: &[u8],
) -> Reply {
    let Some(tkey) = topic_id(st, ns, topic) else {
        return sb_error(
            404,
            &format!("The messaging entity '{ns}:topic:{topic}' could not be found."),
        );
    };
    let batch = content_type.is_some_and(|c| c.starts_with(BATCH_CONTENT_TYPE));
    let mut msgs: Vec<Outgoing> = Vec::new();
    if batch {
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
            return sb_error(400, "The batch body must be a JSON array.");
        };
        for it in items {
            let body = match it.get("Body") {
                Some(Value::String(s)) => s.clone().into_bytes(),
                Some(v) => v.to_string().into_bytes(),
                None => Vec::new(),
            };
            let obj = |k: &str| {
                it.get(k)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            msgs.push((body, None, obj("BrokerProperties"), obj("UserProperties")));
        }
    } else {
        let broker = match broker_header {
            Some(h) => match serde_json::from_str::<Value>(h) {
                Ok(Value::Object(m)) => m,
                _ => return sb_error(400, "The BrokerProperties header is not a JSON object."),
            },
            None => Map::new(),
        };
        msgs.push((
            body.to_vec(),
            content_type.map(str::to_owned),
            broker,
            Map::new(),
        ));
    }
    let prefix = format!("{tkey}/subscriptions/");
    let subs: Vec<String> = st
        .resources
        .iter()
        .filter(|(k, r)| {
            k.starts_with(&prefix)
                && r.type_key == "microsoft.servicebus/namespaces/topics/subscriptions"
        })
        .filter_map(|(_, r)| crate::state::sb_queue_key(&r.id))
        .collect();
    for (body, ct, mut broker, user) in msgs {
        st.sequence += 1;
        broker
            .entry("MessageId")
            .or_insert_with(|| json!(random_uuid().replace('-', "")));
        let m = Message {
            body,
            content_type: ct,
            broker,
            user,
            sequence: st.sequence,
            enqueued: now_rfc1123(),
        };
        for q in &subs {
            st.queues.entry(q.clone()).or_default().push_back(m.clone());
        }
    }
    Reply::empty(201)
}

/// Receive-and-delete: `Ok(None)` when the subscription is empty.
pub(crate) fn receive(
    st: &mut State,
    ns: &str,
    topic: &str,
    sub: &str,
) -> Result<Option<Reply>, Reply> {
    let Some(tkey) = topic_id(st, ns, topic) else {
        return Err(sb_error(
            404,
            &format!("The messaging entity '{ns}:topic:{topic}' could not be found."),
        ));
    };
    let skey = format!("{tkey}/subscriptions/{sub}").to_ascii_lowercase();
    let Some(id) = st.resources.get(&skey).map(|r| r.id.clone()) else {
        return Err(sb_error(
            404,
            &format!("The messaging entity '{ns}:topic:{topic}|{sub}' could not be found."),
        ));
    };
    let Some(q) = crate::state::sb_queue_key(&id) else {
        return Ok(None);
    };
    let Some(m) = st.queues.get_mut(&q).and_then(|q| q.pop_front()) else {
        return Ok(None);
    };
    let mut broker = m.broker.clone();
    broker.insert("SequenceNumber".into(), json!(m.sequence));
    broker.insert("EnqueuedSequenceNumber".into(), json!(m.sequence));
    broker.insert("EnqueuedTimeUtc".into(), json!(m.enqueued));
    broker.insert("DeliveryCount".into(), json!(1));
    broker.insert("State".into(), json!("Active"));
    let mut reply = Reply {
        status: 200,
        headers: vec![("brokerproperties".into(), Value::Object(broker).to_string())],
        body: m.body.clone(),
    };
    let ct = m
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    reply = reply.header("content-type", ct);
    for (k, v) in &m.user {
        // User properties travel as headers; strings keep their JSON quotes, as the service does.
        if k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            reply = reply.header(k, v.to_string());
        }
    }
    Ok(Some(reply))
}
