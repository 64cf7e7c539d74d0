//! The ledger's PostgreSQL flexible server: Entra ID authentication only, the platform's
//! identity (and any extra people or groups) as Entra administrators, the ledger database,
//! backups for point-in-time restore, optional geo-redundant backups and zone-redundant HA.

use serde_json::json;

use super::{Builder, Resource, ResourceKind, reference};
use crate::env::spec::PrincipalType;

/// The server, its database, its administrators and (public environments) the firewall
/// rule that lets Azure services, the cluster included, connect.
pub(super) fn postgres(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let (Some(id), Some(pg), Some(platform)) =
        (&b.ids.postgres, &s.postgres, &b.ids.platform_identity)
    else {
        return vec![];
    };
    let mut network = json!({"publicNetworkAccess": "Enabled"});
    b.lock_down(&mut network);
    let mut server = b.top(
        id,
        ResourceKind::PostgresServer,
        json!({
            "sku": {"name": pg.sku, "tier": pg.tier.as_str()},
            "properties": {
                "version": pg.version,
                "storage": {"storageSizeGB": pg.storage_size_gb, "autoGrow": "Enabled"},
                "backup": {
                    "backupRetentionDays": pg.backup_retention_days,
                    "geoRedundantBackup": if pg.geo_redundant_backup { "Enabled" } else { "Disabled" },
                },
                "highAvailability": {"mode": pg.high_availability.as_str()},
                // No password exists: only Entra tokens sign in.
                "authConfig": {
                    "activeDirectoryAuth": "Enabled",
                    "passwordAuth": "Disabled",
                    "tenantId": s.tenant_id,
                },
                "network": network,
            }
        }),
    );
    if let Some(vnet) = &b.ids.vnet {
        // The private endpoint needs the subnet; nothing else in the body does.
        server.depends_on.push(vnet.clone());
    }
    let mut out = vec![server];
    out.push(b.child(
        id.child("databases", &pg.database),
        ResourceKind::PostgresDatabase,
        &[id],
        json!({"properties": {"charset": "UTF8", "collation": "en_US.utf8"}}),
    ));
    // The platform's identity is an administrator: the ledger signs in as it with a token.
    let mut admin = b.child(
        id.child("administrators", "platform-identity"),
        ResourceKind::PostgresAdministrator,
        &[id, platform],
        json!({"properties": {
            "principalType": "ServicePrincipal",
            "principalName": platform.name(),
            "tenantId": s.tenant_id,
        }}),
    );
    admin.name_from = Some(reference(platform, "/properties/principalId"));
    out.push(admin);
    for a in &pg.administrators {
        out.push(b.child(
            id.child("administrators", &a.object_id),
            ResourceKind::PostgresAdministrator,
            &[id],
            json!({"properties": {
                "principalType": match a.principal_type {
                    PrincipalType::User => "User",
                    PrincipalType::Group => "Group",
                    PrincipalType::ServicePrincipal => "ServicePrincipal",
                },
                "principalName": a.principal_name,
                "tenantId": s.tenant_id,
            }}),
        ));
    }
    if !b.private() {
        // 0.0.0.0–0.0.0.0 is Azure's spelling of "connections from Azure services".
        out.push(b.child(
            id.child("firewallRules", "AllowAzureServices"),
            ResourceKind::PostgresFirewallRule,
            &[id],
            json!({"properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}}),
        ));
    }
    out
}
