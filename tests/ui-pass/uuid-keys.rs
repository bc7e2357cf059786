//! `uuid::Uuid` ids and tenants, marked explicitly on fields with other names.
#![deny(warnings)]

use manifest_core::{ColumnRole, Entity, ManifestEntity};
use uuid::Uuid;

#[derive(Debug, Clone, ManifestEntity)]
struct Member {
    #[manifest(tenant)]
    org: Uuid,
    #[manifest(id)]
    member_id: Uuid,
    // Not the id: another field is marked.
    id: String,
}

fn main() {
    let roles: Vec<_> = Member::COLUMNS.iter().map(|c| c.role).collect();
    assert_eq!(roles, [ColumnRole::Tenant, ColumnRole::Id, ColumnRole::Data]);
    assert_eq!(
        Member::SQLITE.delete,
        r#"DELETE FROM "member" WHERE "org" = ? AND "member_id" = ?"#
    );
    let mut member = Member {
        org: Uuid::nil(),
        member_id: Uuid::new_v4(),
        id: "legacy".into(),
    };
    let id: Uuid = *member.id();
    assert_eq!(id, member.member_id);
    *member.tenant_mut().unwrap() = Uuid::new_v4();
    assert!(!member.org.is_nil());
    assert_eq!(member.version(), None);
    assert!(!Member::VERSIONED);
    assert_eq!(Member::expected_version(&MemberPatch { id: None }), None);
}
