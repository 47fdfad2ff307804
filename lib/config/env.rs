//! Which deployment this is, and the Redis key namespace that follows from it.

/// The Vercel environment (`VERCEL_ENV`); absent means local development.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployEnv {
    /// `main` on Vercel: live keys allowed.
    Production,
    /// A branch deployment: test keys only, Redis keys namespaced by branch.
    Preview,
    /// `scripts/dev`, tests, `vercel dev`.
    Development,
}

impl DeployEnv {
    /// Parses `VERCEL_ENV`; `None` for an unknown value.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None => Some(Self::Development),
            Some("production") => Some(Self::Production),
            Some("preview") => Some(Self::Preview),
            Some("development") => Some(Self::Development),
            Some(_) => None,
        }
    }

    /// The lower-case name, as Vercel spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Preview => "preview",
            Self::Development => "development",
        }
    }
}

/// The Redis key prefix: `ob:` in production, `ob:preview:<branch>:` in a
/// preview (branches sharing one Upstash database never collide), `ob:dev:`
/// locally. Branch names are reduced to `[a-z0-9-]` and 40 characters.
pub fn redis_prefix(env: DeployEnv, git_ref: Option<&str>) -> String {
    match env {
        DeployEnv::Production => "ob:".to_string(),
        DeployEnv::Development => "ob:dev:".to_string(),
        DeployEnv::Preview => {
            let branch: String = git_ref
                .unwrap_or("unknown")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .take(40)
                .collect();
            format!("ob:preview:{branch}:")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_of_different_branches_never_share_a_prefix() {
        let a = redis_prefix(DeployEnv::Preview, Some("feat/login"));
        let b = redis_prefix(DeployEnv::Preview, Some("feat/billing"));
        assert_eq!(a, "ob:preview:feat-login:");
        assert_ne!(a, b);
        assert_ne!(a, redis_prefix(DeployEnv::Production, Some("feat/login")));
    }

    #[test]
    fn a_hostile_branch_name_cannot_escape_its_namespace() {
        let p = redis_prefix(DeployEnv::Preview, Some("x:*\r\nFLUSHALL"));
        assert_eq!(p, "ob:preview:x----flushall:");
    }
}
