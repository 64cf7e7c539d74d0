//! The messaging family: the Service Bus and Event Hubs namespaces.

use serde_json::json;

use super::{Builder, Resource, ResourceKind};

/// The Service Bus namespace (TLS 1.2; messaging units for Premium).
pub(super) fn service_bus(b: &Builder) -> Resource {
    let sb = &b.spec().service_bus;
    let mut sku = json!({"name": sb.sku.name(), "tier": sb.sku.name()});
    if let Some(c) = sb.capacity {
        sku["capacity"] = json!(c);
    }
    let mut props = json!({"minimumTlsVersion": "1.2"});
    b.lock_down(&mut props);
    b.top(
        &b.ids.service_bus,
        ResourceKind::ServiceBusNamespace,
        json!({"sku": sku, "properties": props}),
    )
}

/// The Event Hubs namespace, if the spec has one.
pub(super) fn event_hubs(b: &Builder) -> Option<Resource> {
    let (Some(id), Some(eh)) = (&b.ids.event_hubs, &b.spec().event_hubs) else {
        return None;
    };
    Some(b.top(
        id,
        ResourceKind::EventHubsNamespace,
        json!({
            "sku": {"name": eh.sku.name(), "tier": eh.sku.name(), "capacity": eh.capacity},
            "properties": {"minimumTlsVersion": "1.2"}
        }),
    ))
}
