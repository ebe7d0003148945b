//! Resource and scope of an OTLP block (SPEC §6.3).
//!
//! A block's resource comes from the context of the first event of the block;
//! user attributes (`--resource-attr`, `OTEL_RESOURCE_ATTRIBUTES`) are added
//! to every resource and win over a built-in attribute of the same key.

use super::write::write_str;
use super::{write_attr_str, Sep};
use crate::row::Context;

pub const SERVICE_NAME: &str = "coder-vscode-extension";
pub const SCOPE_NAME: &str = "coder.vscode-coder.telemetry.export";

/// Built-in resource attributes, in output order, from the context.
pub(crate) fn built_in<'a>(c: &Context<'a>) -> [(&'static str, Option<&'a str>); 9] {
    [
        ("service.version", c.extension_version),
        ("service.instance.id", c.session_id),
        ("host.id", c.machine_id),
        ("host.arch", c.host_arch),
        ("os.type", c.os_type),
        ("os.version", c.os_version),
        ("vscode.platform.name", c.platform_name),
        ("vscode.platform.version", c.platform_version),
        ("coder.deployment.url", c.deployment_url),
    ]
}

/// Writes the `resource` object: `{"attributes":[...]}`.
pub fn write_resource(out: &mut Vec<u8>, c: &Context<'_>, extra: &[(String, String)]) {
    let overridden = |k: &str| extra.iter().any(|(ek, _)| ek == k);
    out.extend_from_slice(b"{\"attributes\":[");
    let mut sep = Sep::default();
    if !overridden("service.name") {
        write_attr_str(out, &mut sep, "service.name", SERVICE_NAME);
    }
    for (key, value) in built_in(c) {
        if let Some(v) = value {
            if !overridden(key) {
                write_attr_str(out, &mut sep, key, v);
            }
        }
    }
    for (k, v) in extra {
        write_attr_str(out, &mut sep, k, v);
    }
    out.extend_from_slice(b"]}");
}

/// Writes the `scope` object: `{"name":...,"version":...}`.
pub fn write_scope(out: &mut Vec<u8>, c: &Context<'_>) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, SCOPE_NAME);
    if let Some(v) = c.extension_version {
        out.extend_from_slice(b",\"version\":");
        write_str(out, v);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{header_ctx, pretty, text};

    #[test]
    fn snapshot_resource_and_scope() {
        let mut c = header_ctx();
        c.deployment_url = Some("https://coder.example.com");
        let r = text(|o| write_resource(o, &c, &[]));
        let s = text(|o| write_scope(o, &c));
        insta::assert_snapshot!(format!("{}\n{}", pretty(&r), pretty(&s)));
    }

    #[test]
    fn missing_context_fields_are_left_out() {
        let c = Context::default();
        assert_eq!(
            text(|o| write_resource(o, &c, &[])),
            r#"{"attributes":[{"key":"service.name","value":{"stringValue":"coder-vscode-extension"}}]}"#
        );
        assert_eq!(
            text(|o| write_scope(o, &c)),
            r#"{"name":"coder.vscode-coder.telemetry.export"}"#
        );
    }

    #[test]
    fn user_attributes_are_added_and_override_built_ins() {
        let c = header_ctx();
        let extra = vec![
            ("deployment.environment".to_string(), "prod".to_string()),
            ("host.id".to_string(), "override".to_string()),
        ];
        let v: serde_json::Value = serde_json::from_str(&text(|o| write_resource(o, &c, &extra))).unwrap();
        let attrs = v["attributes"].as_array().unwrap();
        let host: Vec<_> = attrs.iter().filter(|a| a["key"] == "host.id").collect();
        assert_eq!(host.len(), 1);
        assert_eq!(host[0]["value"]["stringValue"], "override");
        assert_eq!(attrs.last().unwrap()["key"], "host.id");
        assert!(attrs.iter().any(|a| a["key"] == "deployment.environment"));
    }
}
