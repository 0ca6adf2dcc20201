//! Checking registry, repository and tag names with distribution's own grammar, before Docker
//! is asked anything.

use anyhow::{anyhow, Result};

/// Longest image name (registry and repository) distribution accepts.
pub const NAME_MAX: usize = 255;
/// Longest tag distribution accepts.
pub const TAG_MAX: usize = 128;

/// `HOST[:PORT]`: DNS labels (or an IPv4 address, or `[IPv6]`), an optional port.
pub fn check_registry(registry: &str) -> Result<()> {
    let invalid = |why: &str| {
        anyhow!(
            "invalid registry {registry:?}: {why}; give HOST[:PORT] such as registry.example.com \
             or 127.0.0.1:5000 (no scheme, no path)"
        )
    };
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (registry, None),
    };
    if let Some(port) = port {
        let number = port
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0 && port.bytes().all(|b| b.is_ascii_digit()));
        if number.is_none() {
            return Err(invalid(&format!(
                "port {port:?} is not a number from 1 to 65535"
            )));
        }
    }
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid("not an IPv6 address in brackets"));
        }
        return Ok(());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err(invalid(
            "the host must be letters, digits and '-' in dot-separated labels",
        ));
    }
    Ok(())
}

/// A repository of distribution's reference grammar: `/`-separated path components
/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, the whole name at most 255 characters.
pub fn check_repository(repository: &str, docker_hub: bool, name_len: usize) -> Result<()> {
    let invalid = |why: String| {
        anyhow!(
            "invalid repository {repository:?}: {why}; a valid one is NAMESPACE/NAME in lowercase \
             letters and digits, joined inside a part only by '.', '_', '__' or dashes, such as \
             alice/dockerlab-nginx"
        )
    };
    if name_len > NAME_MAX {
        return Err(invalid(format!(
            "the image name with its registry is {name_len} characters, at most {NAME_MAX} are allowed"
        )));
    }
    if let Some(upper) = repository.chars().find(char::is_ascii_uppercase) {
        return Err(invalid(format!("it has the uppercase letter {upper:?}")));
    }
    if let Some(space) = repository.chars().find(|c| c.is_whitespace()) {
        return Err(invalid(format!("it has the blank {space:?}")));
    }
    let parts: Vec<&str> = repository.split('/').collect();
    if let Some(bad) = parts.iter().find(|part| !is_path_component(part)) {
        return Err(invalid(if bad.is_empty() {
            "it has an empty part (a '/' at an end or twice)".into()
        } else {
            format!("its part {bad:?} is not letters and digits joined by '.', '_', '__' or '-'")
        }));
    }
    if parts.len() > 1 && (parts[0].contains('.') || parts[0] == "localhost") {
        return Err(invalid(format!(
            "docker would read {:?} as a registry host: pass it with --registry",
            parts[0]
        )));
    }
    if docker_hub && parts.len() != 2 {
        return Err(invalid(
            "Docker Hub repositories are exactly NAMESPACE/NAME (your user or organisation, then \
             the image)"
                .into(),
        ));
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, without a regex engine.
fn is_path_component(part: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = part.as_bytes();
    if !bytes.first().is_some_and(|&b| alnum(b)) || !bytes.last().is_some_and(|&b| alnum(b)) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &part[start..i];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

/// A tag of distribution's grammar: `[\w][\w.-]{0,127}`.
pub fn check_tag(tag: &str) -> Result<()> {
    let invalid = |why: String| {
        anyhow!(
            "invalid tag {tag:?}: {why}; a tag is 1 to {TAG_MAX} letters, digits, '_', '.' or '-', \
             not starting with '.' or '-', such as 1.0.0 or stable"
        )
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match tag.chars().next() {
        None => return Err(invalid("it is empty".into())),
        Some(first) if !word(first) => return Err(invalid(format!("it starts with {first:?}"))),
        Some(_) => {}
    }
    if let Some(bad) = tag.chars().find(|&c| !(word(c) || c == '.' || c == '-')) {
        return Err(invalid(format!("it has {bad:?}")));
    }
    if tag.len() > TAG_MAX {
        return Err(invalid(format!("it is {} characters long", tag.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_follow_distribution() {
        for ok in [
            "nginx",
            "a",
            "dockerlab-nginx",
            "a__b",
            "a.b",
            "a_b",
            "a---b",
            "x1.2-3_4",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "Nginx", "-a", "a-", "a.", ".a", "a..b", "a___b", "a._b", "a-.b", "a b", "é",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn tags_follow_distribution() {
        for ok in ["1.0.0", "1.0.0-offline", "_x", "A", "e2e", &"v".repeat(128)] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-rc", ".x", "a b", "a/b", "a:b", "ü", &"v".repeat(129)] {
            let err = check_tag(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid tag") && !err.contains('\n'),
                "{err}"
            );
        }
    }

    #[test]
    fn repositories_are_checked() {
        assert!(check_repository("alice/dockerlab-nginx", true, 21).is_ok());
        assert!(check_repository("group/sub/app", false, 13).is_ok());
        assert!(check_repository("app", false, 3).is_ok());
        for (bad, hub, why) in [
            ("Alice/nginx", true, "uppercase"),
            ("alice/my nginx", true, "blank"),
            ("alice//nginx", false, "empty part"),
            ("alice/nginx-", false, "part \"nginx-\""),
            ("nginx", true, "exactly NAMESPACE/NAME"),
            ("a/b/c", true, "exactly NAMESPACE/NAME"),
            ("example.com/app", false, "registry host"),
            ("localhost/app", false, "registry host"),
        ] {
            let err = check_repository(bad, hub, bad.len())
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(
                err.contains("alice/dockerlab-nginx"),
                "says what is valid: {err}"
            );
        }
        let err = check_repository("a/b", false, 256).unwrap_err().to_string();
        assert!(err.contains("256 characters"), "{err}");
    }

    #[test]
    fn registries_are_checked() {
        for ok in [
            "127.0.0.1:5000",
            "localhost:5000",
            "registry.example.com",
            "ghcr.io",
            "[::1]:5000",
        ] {
            assert!(check_registry(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://x", "x/y", "x:0", "x:70000", "x:", "", "-x.com", "a..b", "[zz]:1", "my host",
        ] {
            assert!(check_registry(bad).is_err(), "{bad}");
        }
    }
}
