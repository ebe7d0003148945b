//! Which proxy a request goes through, as curl decides it (SPEC §10.2):
//! `https_proxy` for https targets, `http_proxy` for http ones, else
//! `all_proxy`, each in either case, unless the host is in `no_proxy`.
//! The HTTP client's own reading of the environment is not used: it takes
//! the first variable set whatever the target's scheme.

/// The proxy URL for `target` (a URL), read through `env`; `None` for a
/// direct connection.
pub fn for_target(target: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |name: &str| env(&name.to_ascii_lowercase()).or_else(|| env(&name.to_ascii_uppercase()));
    let lower = target.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").unwrap_or(("https", lower.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    if var("no_proxy").is_some_and(|list| bypassed(host, &list)) {
        return None;
    }
    let own = if scheme == "http" { "http_proxy" } else { "https_proxy" };
    var(own).or_else(|| var("all_proxy")).filter(|p| !p.trim().is_empty())
}

/// Whether `host` matches an entry of a `no_proxy` list: `*`, the host
/// itself, or a domain it is in (`example.com` and `.example.com` both
/// cover `api.example.com`).
fn bypassed(host: &str, list: &str) -> bool {
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        let entry = entry.to_ascii_lowercase();
        let entry = entry.trim_start_matches('.');
        let entry = entry.trim_start_matches('[').trim_end_matches(']');
        entry == "*" || host == entry || host.ends_with(&format!(".{entry}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_scheme_picks_the_variable_in_either_case() {
        let vars = [
            ("HTTPS_PROXY", "http://s:1"),
            ("http_proxy", "http://p:2"),
            ("ALL_PROXY", "http://a:3"),
        ];
        assert_eq!(
            for_target("https://h/v1/logs", env(&vars)).as_deref(),
            Some("http://s:1")
        );
        assert_eq!(for_target("http://h:4318", env(&vars)).as_deref(), Some("http://p:2"));
        let only_all = [("all_proxy", "http://a:3")];
        assert_eq!(for_target("http://h", env(&only_all)).as_deref(), Some("http://a:3"));
        assert_eq!(for_target("http://h", env(&[])), None);
    }

    #[test]
    fn no_proxy_bypasses_hosts_and_domains() {
        let vars = [
            ("HTTPS_PROXY", "http://s:1"),
            ("NO_PROXY", "localhost, .internal,example.com,[::1]"),
        ];
        assert_eq!(for_target("https://localhost:4318", env(&vars)), None);
        assert_eq!(for_target("https://otel.internal", env(&vars)), None);
        assert_eq!(for_target("https://api.example.com", env(&vars)), None);
        assert_eq!(for_target("https://[::1]:4318", env(&vars)), None);
        assert!(for_target("https://notexample.com", env(&vars)).is_some());
        let all = [("HTTPS_PROXY", "http://s:1"), ("no_proxy", "*")];
        assert_eq!(for_target("https://anything", env(&all)), None);
    }
}
