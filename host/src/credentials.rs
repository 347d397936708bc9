//! Where the host finds the credential it acts with, and what the guest may know of it.
//!
//! Three ways reach an API server (see DESIGN.md): a kubeconfig, the pod's ServiceAccount
//! files, or a `kubectl proxy` URL. With no flag the search order is the one
//! `@kubernetes/client-node` and client-go use: every file in `$KUBECONFIG` (missing ones
//! skipped, merged first-wins), else `~/.kube/config`, else in-cluster when the
//! ServiceAccount token exists, else `http://localhost:8080` with no credential.
//!
//! Parsing kubeconfig files and authenticating (tokens, token files re-read on rotation,
//! client certificates, exec plugins) is kube-client's `Config`; this module only decides
//! which source applies and keeps the facts a guest may see ([`Identity`]).

use std::path::{Path, PathBuf};

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::trusted::{TrustedPath, find_command};

/// The directory the kubelet mounts a pod's ServiceAccount credential into.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where the credential came from. Mirrors the WIT `credentials.source` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A kubeconfig file.
    Kubeconfig,
    /// The pod's ServiceAccount files.
    InCluster,
    /// A URL given with `--server` (e.g. `kubectl proxy`): no credential is sent.
    Proxy,
    /// Nothing configured: `http://localhost:8080` with no credential.
    Anonymous,
}

/// How requests are authenticated. Mirrors the WIT `credentials.auth-kind` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// No credential.
    None,
    /// A bearer token (inline, token file, or ServiceAccount token).
    BearerToken,
    /// A TLS client certificate.
    ClientCertificate,
    /// An exec credential plugin.
    ExecPlugin,
    /// HTTP basic authentication.
    Basic,
}

/// What a guest may know about the credential: every field is safe to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Where the credential came from.
    pub source: Source,
    /// How requests are authenticated.
    pub auth: AuthKind,
    /// The API server's base URL.
    pub server: String,
    /// The default namespace for commands that name none.
    pub namespace: String,
    /// The kubeconfig context in use.
    pub context: Option<String>,
    /// The kubeconfig user entry, or `system:serviceaccount:NS:NAME` in a pod.
    pub user: Option<String>,
}

/// How to find the credential; the fields are the host's command-line flags.
#[derive(Clone, Debug, Default)]
pub struct CredentialOptions {
    /// `--kubeconfig`: use only this file (it must exist).
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: use this kubeconfig context instead of `current-context`.
    pub context: Option<String>,
    /// `--server`: with no kubeconfig flag, talk to this URL with no credential (a
    /// `kubectl proxy`); with `--kubeconfig` or `--context`, override the cluster's server.
    pub server: Option<String>,
    /// `--in-cluster`: use the pod's ServiceAccount, skipping kubeconfig files.
    pub in_cluster: bool,
    /// `--service-account-dir`: where the ServiceAccount files are; by default
    /// [`SERVICE_ACCOUNT_DIR`].
    pub service_account_dir: Option<PathBuf>,
    /// `-n/--namespace`: the default namespace given to the guest.
    pub namespace: Option<String>,
    /// `--insecure-skip-tls-verify`: do not verify the server's certificate.
    pub insecure_skip_tls_verify: bool,
    /// Which exec credential plugins a kubeconfig may run (`--exec-plugins`,
    /// `--exec-plugin-allow`), as kubectl's kuberc `credentialPluginPolicy`.
    pub exec_plugins: ExecPluginPolicy,
}

/// Which exec credential plugins a kubeconfig may make the host run. Running a plugin
/// is running code, so an operator can refuse or allowlist them, as kubectl's kuberc
/// `credentialPluginPolicy` / `credentialPluginAllowlist` do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ExecPluginPolicy {
    /// Any plugin (kubectl's default).
    #[default]
    AllowAll,
    /// None: a kubeconfig user with `exec` is an error.
    DenyAll,
    /// Only these commands, matched by full path or by file name.
    Allowlist(Vec<String>),
}

impl ExecPluginPolicy {
    /// Whether `command` may run.
    pub fn allows(&self, command: &str) -> bool {
        match self {
            ExecPluginPolicy::AllowAll => true,
            ExecPluginPolicy::DenyAll => false,
            ExecPluginPolicy::Allowlist(names) => {
                let base = Path::new(command)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                names.iter().any(|n| n == command || *n == base)
            }
        }
    }
}

/// Why no credential could be loaded. Each message names the file or variable involved
/// and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// `--kubeconfig` names a file that does not exist or cannot be read.
    #[error("failed to read kubeconfig {path:?}: {error}")]
    ReadKubeconfig {
        /// The file.
        path: PathBuf,
        /// kube-client's error, each cause said once.
        error: String,
    },
    /// The kubeconfig was read but does not describe a usable cluster/user/context.
    #[error("failed to load kubeconfig {files}: {error}")]
    LoadKubeconfig {
        /// The files that were merged, for the message.
        files: String,
        /// kube-client's error, each cause said once.
        error: String,
    },
    /// The kubeconfig does not say which context, cluster or user to use, or names one
    /// it does not define. The message names the files and what is there.
    #[error("{0}")]
    Kubeconfig(String),
    /// The kubeconfig user runs an exec plugin the operator did not allow.
    #[error(
        "the kubeconfig user {user:?} runs the exec credential plugin {command:?}, which --exec-plugins does not allow; allow it with --exec-plugin-allow {command}"
    )]
    ExecPluginDenied {
        /// The kubeconfig user entry.
        user: String,
        /// The plugin command.
        command: String,
    },
    /// `insecure-skip-tls-verify` and a CA are both set for one cluster.
    #[error(
        "cluster {cluster:?} in {files} sets both insecure-skip-tls-verify and a certificate-authority; remove one (client-go refuses this combination too)"
    )]
    InsecureWithCa {
        /// The cluster entry.
        cluster: String,
        /// The kubeconfig files.
        files: String,
    },
    /// A ServiceAccount file is missing or unreadable.
    #[error(
        "failed to read the pod's ServiceAccount {what} {path:?}: {error} (is a ServiceAccount token mounted? set automountServiceAccountToken or pass --service-account-dir)"
    )]
    ServiceAccountFile {
        /// Which file (`token`, `ca.crt`, `namespace`).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The underlying error, said in the message (not chained, so that it is said
        /// once, before the hint).
        error: std::io::Error,
    },
    /// A token file (kubeconfig `tokenFile`, or the ServiceAccount token) is unreadable.
    #[error("failed to read the token file {path:?}")]
    ReadTokenFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A token file kube-client would send with surrounding whitespace, which no server
    /// accepts.
    #[error(
        "the token file {0:?} has whitespace or a newline around the token; kube-client sends the file as it is, so remove it (e.g. write the file with `printf %s TOKEN` instead of `echo`)"
    )]
    TokenFileWhitespace(PathBuf),
    /// `KUBERNETES_SERVICE_HOST`/`_PORT` are not set while `--in-cluster` was asked for.
    #[error(
        "cannot use the in-cluster ServiceAccount: {0} is not set (it is set in every pod; outside a pod use --kubeconfig or --server)"
    )]
    MissingServiceEnv(&'static str),
    /// A server URL (from `--server` or the environment) does not parse.
    #[error("invalid API server URL {url:?}: {reason}")]
    InvalidServerUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA bundle could not be parsed.
    #[error("failed to parse the cluster CA in {path:?}: {reason}")]
    InvalidCa {
        /// Where the CA came from.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A loaded credential: kube-client's `Config` (which holds the secrets and refreshes
/// them) plus the printable [`Identity`] and a description of where the cluster CA came
/// from, for TLS error messages.
#[derive(Clone)]
pub struct Credentials {
    /// kube-client's configuration: server URL, CA, auth. Never handed to a guest.
    pub config: Config,
    /// The printable description the guest may read.
    pub identity: Identity,
    /// Where the trusted CA came from, e.g. `certificate-authority-data of cluster "demo"
    /// in /home/me/.kube/config`; `None` when the system roots apply.
    pub ca_source: Option<String>,
    /// The files this credential is read from or runs (kubeconfig files, token file,
    /// client certificate and key, CA file, exec plugin) and the pod's ServiceAccount
    /// directory: a guest must be given none of them (see [`crate::trusted`]).
    pub trusted_files: Vec<TrustedPath>,
}

impl std::fmt::Debug for Credentials {
    // `Config` holds the token; never print it, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("identity", &self.identity)
            .field("ca_source", &self.ca_source)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Finds and loads the credential the options ask for, in the documented search order.
    pub async fn load(options: &CredentialOptions) -> Result<Self, CredentialError> {
        let sa_dir = options
            .service_account_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR));

        let mut kubeconfig_files = Vec::new();
        let mut credentials = if options.in_cluster {
            Self::in_cluster(&sa_dir)?
        } else if let Some(path) = &options.kubeconfig {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|e| CredentialError::ReadKubeconfig {
                    path: path.clone(),
                    error: root_cause(&e),
                })?;
            kubeconfig_files.push(path.clone());
            Self::from_kubeconfig(kubeconfig, &path.display().to_string(), options).await?
        } else if let (Some(server), None) = (&options.server, &options.context) {
            Self::proxy(server)?
        } else if let Some((kubeconfig, paths)) = Self::find_kubeconfig()? {
            let files = paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            kubeconfig_files = paths;
            Self::from_kubeconfig(kubeconfig, &files, options).await?
        } else if sa_dir.join("token").exists() && std::env::var_os(SERVICE_HOST_ENV).is_some() {
            Self::in_cluster(&sa_dir)?
        } else {
            Self::anonymous("http://localhost:8080")?
        };

        if let Some(server) = &options.server
            && credentials.identity.source == Source::Kubeconfig
        {
            credentials.config.cluster_url = parse_server_url(server)?;
            credentials.identity.server = server.clone();
        }
        if let Some(namespace) = &options.namespace {
            credentials.config.default_namespace = namespace.clone();
            credentials.identity.namespace = namespace.clone();
        }
        if options.insecure_skip_tls_verify {
            // As kubectl's flag does: ignore the kubeconfig's CA rather than fail on it.
            credentials.config.accept_invalid_certs = true;
            credentials.config.root_cert = None;
            credentials.config.root_cert_file = None;
        }
        if credentials.config.accept_invalid_certs {
            eprintln!(
                "warning: the API server's certificate is NOT verified (insecure-skip-tls-verify); anyone on the network path can read the credential"
            );
        }
        // Retries are the guest's decision (it knows which requests are idempotent).
        credentials.config.default_retry = false;
        if let Some(path) = &credentials.config.auth_info.token_file {
            check_token_file(Path::new(path))?;
        }
        credentials.trusted_files = trusted_files(&credentials.config, kubeconfig_files, &sa_dir);
        Ok(credentials)
    }

    /// Every file in `$KUBECONFIG` that exists, merged first-wins; else `~/.kube/config`;
    /// with the files it came from. `None` when neither exists.
    fn find_kubeconfig() -> Result<Option<(Kubeconfig, Vec<PathBuf>)>, CredentialError> {
        let mut paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG") {
            Some(value) => std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => Vec::new(),
        };
        paths.retain(|p| p.exists());
        if paths.is_empty()
            && let Some(home) = std::env::var_os("HOME")
        {
            let default = Path::new(&home).join(".kube").join("config");
            if default.exists() {
                paths.push(default);
            }
        }
        if paths.is_empty() {
            return Ok(None);
        }
        let mut merged = Kubeconfig::default();
        for path in &paths {
            let next =
                Kubeconfig::read_from(path).map_err(|e| CredentialError::ReadKubeconfig {
                    path: path.clone(),
                    error: root_cause(&e),
                })?;
            merged = merged
                .merge(next)
                .map_err(|e| CredentialError::ReadKubeconfig {
                    path: path.clone(),
                    error: crate::transport::error_chain(&e),
                })?;
        }
        Ok(Some((merged, paths)))
    }

    async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        files: &str,
        options: &CredentialOptions,
    ) -> Result<Self, CredentialError> {
        let context_name = options
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone());
        let context = context_name.as_ref().and_then(|name| {
            kubeconfig
                .contexts
                .iter()
                .find(|c| &c.name == name)
                .and_then(|c| c.context.clone())
        });
        let user = context.as_ref().and_then(|c| c.user.clone());
        let cluster_name = context.as_ref().map(|c| c.cluster.clone());
        let cluster = cluster_name.as_ref().and_then(|name| {
            kubeconfig
                .clusters
                .iter()
                .find(|c| &c.name == name)
                .and_then(|c| c.cluster.clone())
        });
        let auth_info = user.as_ref().and_then(|name| {
            kubeconfig
                .auth_infos
                .iter()
                .find(|a| &a.name == name)
                .and_then(|a| a.auth_info.clone())
        });
        validate_selection(&kubeconfig, files, context_name.as_deref(), options)?;
        if let (Some(user), Some(exec)) = (&user, auth_info.as_ref().and_then(|a| a.exec.as_ref()))
        {
            let command = exec.command.clone().unwrap_or_default();
            if !options.exec_plugins.allows(&command) {
                return Err(CredentialError::ExecPluginDenied {
                    user: user.clone(),
                    command,
                });
            }
        }
        if let Some(cluster) = &cluster
            && cluster.insecure_skip_tls_verify == Some(true)
            && (cluster.certificate_authority.is_some()
                || cluster.certificate_authority_data.is_some())
        {
            return Err(CredentialError::InsecureWithCa {
                cluster: cluster_name.clone().unwrap_or_default(),
                files: files.to_string(),
            });
        }

        let kube_options = KubeConfigOptions {
            context: options.context.clone(),
            cluster: None,
            user: None,
        };
        let config = Config::from_custom_kubeconfig(kubeconfig, &kube_options)
            .await
            .map_err(|e| CredentialError::LoadKubeconfig {
                files: files.to_string(),
                error: crate::transport::error_chain(&e),
            })?;

        let auth = match &auth_info {
            None => AuthKind::None,
            Some(a) if a.exec.is_some() => AuthKind::ExecPlugin,
            Some(a) if a.token.is_some() || a.token_file.is_some() => AuthKind::BearerToken,
            Some(a) if a.client_certificate.is_some() || a.client_certificate_data.is_some() => {
                AuthKind::ClientCertificate
            }
            Some(a) if a.username.is_some() => AuthKind::Basic,
            Some(_) => AuthKind::None,
        };
        let cluster_label = cluster_name.unwrap_or_default();
        let ca_source = cluster.as_ref().and_then(|c| {
            if let Some(path) = &c.certificate_authority {
                Some(format!(
                    "certificate-authority {path:?} of cluster {cluster_label:?} in {files}"
                ))
            } else if c.certificate_authority_data.is_some() {
                Some(format!(
                    "certificate-authority-data of cluster {cluster_label:?} in {files}"
                ))
            } else {
                None
            }
        });
        let identity = Identity {
            source: Source::Kubeconfig,
            auth,
            server: config
                .cluster_url
                .to_string()
                .trim_end_matches('/')
                .to_string(),
            namespace: config.default_namespace.clone(),
            context: context_name,
            user,
        };
        Ok(Self {
            config,
            identity,
            ca_source,
            trusted_files: Vec::new(),
        })
    }

    /// The pod's ServiceAccount: token and CA files under `sa_dir` (re-read by
    /// kube-client when the kubelet rotates them), server from `KUBERNETES_SERVICE_HOST`
    /// and `KUBERNETES_SERVICE_PORT`, namespace from the `namespace` file.
    fn in_cluster(sa_dir: &Path) -> Result<Self, CredentialError> {
        let host = std::env::var(SERVICE_HOST_ENV)
            .map_err(|_| CredentialError::MissingServiceEnv(SERVICE_HOST_ENV))?;
        let port = std::env::var(SERVICE_PORT_ENV)
            .map_err(|_| CredentialError::MissingServiceEnv(SERVICE_PORT_ENV))?;
        let server = in_cluster_url(&host, &port);
        let cluster_url = parse_server_url(&server)?;

        let read = |what: &'static str| read_service_account_file(sa_dir, what);
        let token = read("token")?;
        let ca_path = sa_dir.join("ca.crt");
        let ca = read("ca.crt")?;
        // client-go reads POD_NAMESPACE (set through the downward API) before the file.
        let namespace = match std::env::var("POD_NAMESPACE") {
            Ok(ns) if !ns.is_empty() => ns,
            _ => String::from_utf8_lossy(&read("namespace")?)
                .trim()
                .to_string(),
        };
        let root_certs = pem_certificates(&ca).map_err(|reason| CredentialError::InvalidCa {
            path: ca_path.clone(),
            reason,
        })?;

        let mut config = Config::new(cluster_url);
        config.default_namespace = namespace.clone();
        config.root_cert = Some(root_certs);
        config.root_cert_file = Some(ca_path.clone());
        config.auth_info.token_file = Some(sa_dir.join("token").display().to_string());

        let identity = Identity {
            source: Source::InCluster,
            auth: AuthKind::BearerToken,
            server,
            namespace,
            context: None,
            user: service_account_subject(&token),
        };
        Ok(Self {
            config,
            identity,
            ca_source: Some(format!("ServiceAccount CA {}", ca_path.display())),
            trusted_files: Vec::new(),
        })
    }

    /// `--server URL` alone: a `kubectl proxy` that authenticates for us.
    fn proxy(server: &str) -> Result<Self, CredentialError> {
        let mut credentials = Self::anonymous(server)?;
        credentials.identity.source = Source::Proxy;
        Ok(credentials)
    }

    fn anonymous(server: &str) -> Result<Self, CredentialError> {
        let config = Config::new(parse_server_url(server)?);
        let identity = Identity {
            source: Source::Anonymous,
            auth: AuthKind::None,
            server: server.trim_end_matches('/').to_string(),
            namespace: config.default_namespace.clone(),
            context: None,
            user: None,
        };
        Ok(Self {
            config,
            identity,
            ca_source: None,
            trusted_files: Vec::new(),
        })
    }
}

/// The files behind `config` (see [`Credentials::trusted_files`]).
fn trusted_files(config: &Config, kubeconfigs: Vec<PathBuf>, sa_dir: &Path) -> Vec<TrustedPath> {
    let mut files: Vec<TrustedPath> = kubeconfigs
        .into_iter()
        .map(|path| TrustedPath::new(path, "the kubeconfig file"))
        .collect();
    files.push(TrustedPath::new(sa_dir, "the ServiceAccount directory"));
    let auth = &config.auth_info;
    for (path, what) in [
        (&auth.token_file, "the token file"),
        (&auth.client_certificate, "the client certificate"),
        (&auth.client_key, "the client key"),
    ] {
        if let Some(path) = path {
            files.push(TrustedPath::new(path, what));
        }
    }
    if let Some(path) = &config.root_cert_file {
        files.push(TrustedPath::new(path, "the cluster CA file"));
    }
    if let Some(path) = auth
        .exec
        .as_ref()
        .and_then(|exec| exec.command.as_deref())
        .and_then(find_command)
    {
        files.push(TrustedPath::new(path, "the exec credential plugin"));
    }
    files
}

/// Checks once, at start-up, that a token file is readable and holds a token kube-client
/// can send. (client-go trims whitespace around file tokens; kube-client 5 does not, and
/// its error would only say "invalid bearer token".)
fn check_token_file(path: &Path) -> Result<(), CredentialError> {
    let token = std::fs::read(path).map_err(|source| CredentialError::ReadTokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    if token.first().is_some_and(u8::is_ascii_whitespace)
        || token.last().is_some_and(u8::is_ascii_whitespace)
    {
        return Err(CredentialError::TokenFileWhitespace(path.to_path_buf()));
    }
    Ok(())
}

/// The innermost cause of `error`: for kube-client's read errors, whose outer levels
/// only repeat the file name the caller says itself.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut e = error;
    while let Some(source) = e.source() {
        e = source;
    }
    e.to_string()
}

/// Reads the ServiceAccount file `what` (`token`, `ca.crt`, `namespace`) in `sa_dir`.
fn read_service_account_file(
    sa_dir: &Path,
    what: &'static str,
) -> Result<Vec<u8>, CredentialError> {
    let path = sa_dir.join(what);
    std::fs::read(&path).map_err(|error| CredentialError::ServiceAccountFile { what, path, error })
}

const SERVICE_HOST_ENV: &str = "KUBERNETES_SERVICE_HOST";
const SERVICE_PORT_ENV: &str = "KUBERNETES_SERVICE_PORT";

/// `https://HOST:PORT`, with an IPv6 host in brackets as client-go does, and plain
/// `http` for the ports @kubernetes/client-node treats as insecure (80, 8080, 8001).
fn in_cluster_url(host: &str, port: &str) -> String {
    let scheme = match port {
        "80" | "8080" | "8001" => "http",
        _ => "https",
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("{scheme}://[{host}]:{port}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

/// Checks that the kubeconfig names a context, and that the context's cluster and user
/// exist, with a one-line error naming the files and what they do define.
fn validate_selection(
    kubeconfig: &Kubeconfig,
    files: &str,
    context_name: Option<&str>,
    options: &CredentialOptions,
) -> Result<(), CredentialError> {
    let names = |items: Vec<&String>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let contexts = names(kubeconfig.contexts.iter().map(|c| &c.name).collect());
    let Some(context_name) = context_name else {
        return Err(CredentialError::Kubeconfig(format!(
            "{files} sets no current-context: pass --context NAME (contexts defined: {contexts})"
        )));
    };
    let Some(context) = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
    else {
        let flag = if options.context.is_some() {
            "--context"
        } else {
            "current-context"
        };
        return Err(CredentialError::Kubeconfig(format!(
            "context {context_name:?} ({flag}) is not defined in {files} (contexts defined: {contexts})"
        )));
    };
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref());
    match cluster {
        None => {
            let clusters = names(kubeconfig.clusters.iter().map(|c| &c.name).collect());
            return Err(CredentialError::Kubeconfig(format!(
                "context {context_name:?} in {files} names cluster {:?}, which is not defined (clusters defined: {clusters})",
                context.cluster
            )));
        }
        Some(cluster) if cluster.server.is_none() && options.server.is_none() => {
            return Err(CredentialError::Kubeconfig(format!(
                "cluster {:?} in {files} has no server: set clusters[].cluster.server or pass --server",
                context.cluster
            )));
        }
        Some(_) => {}
    }
    if let Some(user) = &context.user
        && !kubeconfig.auth_infos.iter().any(|a| &a.name == user)
    {
        let users = names(kubeconfig.auth_infos.iter().map(|a| &a.name).collect());
        return Err(CredentialError::Kubeconfig(format!(
            "context {context_name:?} in {files} names user {user:?}, which is not defined (users defined: {users})"
        )));
    }
    Ok(())
}

fn parse_server_url(url: &str) -> Result<http::Uri, CredentialError> {
    let invalid = |reason: &str| CredentialError::InvalidServerUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(invalid("it must start with http:// or https://")),
    }
    if uri.host().is_none() {
        return Err(invalid("it has no host"));
    }
    Ok(uri)
}

/// The DER certificates in a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".to_string());
    }
    Ok(certs)
}

/// The `sub` claim of a ServiceAccount JWT (`system:serviceaccount:NS:NAME`). The claim
/// names the account and is not secret; the token itself never leaves the host.
fn service_account_subject(token: &[u8]) -> Option<String> {
    let token = std::str::from_utf8(token).ok()?.trim();
    let payload = token.split('.').nth(1)?;
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    sub.starts_with("system:serviceaccount:")
        .then(|| sub.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_cluster_url_brackets_ipv6_hosts() {
        assert_eq!(in_cluster_url("fd00::1", "443"), "https://[fd00::1]:443");
        assert_eq!(in_cluster_url("10.96.0.1", "443"), "https://10.96.0.1:443");
    }

    #[test]
    fn in_cluster_url_uses_http_for_insecure_ports() {
        assert_eq!(in_cluster_url("10.0.0.1", "8080"), "http://10.0.0.1:8080");
        assert_eq!(in_cluster_url("10.0.0.1", "80"), "http://10.0.0.1:80");
        assert_eq!(in_cluster_url("fd00::1", "8001"), "http://[fd00::1]:8001");
    }

    #[test]
    fn exec_plugin_allowlist_matches_full_path_or_file_name() {
        let policy = ExecPluginPolicy::Allowlist(vec!["aws".into(), "/opt/bin/gke-auth".into()]);
        assert!(policy.allows("/usr/local/bin/aws"));
        assert!(policy.allows("aws"));
        assert!(policy.allows("/opt/bin/gke-auth"));
        assert!(!policy.allows("/tmp/gke-auth"));
        assert!(!policy.allows("curl"));
        assert!(!ExecPluginPolicy::DenyAll.allows("aws"));
        assert!(ExecPluginPolicy::AllowAll.allows("anything"));
    }

    fn kubeconfig(yaml: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(yaml).unwrap()
    }

    const TWO_CONTEXTS: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://x\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\n- name: b\n  context:\n    cluster: missing\n    user: u\n- name: d\n  context:\n    cluster: c\n    user: nobody\n";

    #[test]
    fn unknown_context_names_the_file_and_the_defined_contexts() {
        let err = validate_selection(
            &kubeconfig(TWO_CONTEXTS),
            "/k",
            Some("prod"),
            &CredentialOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            r#"context "prod" (current-context) is not defined in /k (contexts defined: a, b, d)"#
        );
    }

    #[test]
    fn missing_cluster_or_user_is_named() {
        let options = CredentialOptions::default();
        let config = kubeconfig(TWO_CONTEXTS);
        let err = validate_selection(&config, "/k", Some("b"), &options).unwrap_err();
        assert!(
            err.to_string().contains(r#"names cluster "missing""#),
            "{err}"
        );
        let err = validate_selection(&config, "/k", Some("d"), &options).unwrap_err();
        assert!(err.to_string().contains(r#"names user "nobody""#), "{err}");
        assert!(validate_selection(&config, "/k", Some("a"), &options).is_ok());
    }

    #[test]
    fn no_current_context_says_to_pass_context() {
        let err = validate_selection(
            &kubeconfig(TWO_CONTEXTS),
            "/k",
            None,
            &CredentialOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--context"), "{err}");
    }

    #[test]
    fn service_account_subject_reads_sub_claim_only() {
        // header.payload.signature, payload = {"sub":"system:serviceaccount:demo:reader"}
        let payload = "eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVtbzpyZWFkZXIifQ";
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        assert_eq!(
            service_account_subject(token.as_bytes()).as_deref(),
            Some("system:serviceaccount:demo:reader")
        );
        assert_eq!(service_account_subject(b"not-a-jwt"), None);
    }

    #[test]
    fn every_credential_error_says_its_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let errors: Vec<anyhow::Error> = vec![
            read_service_account_file(&missing, "ca.crt")
                .unwrap_err()
                .into(),
            check_token_file(&missing).unwrap_err().into(),
            CredentialError::ReadKubeconfig {
                path: missing.clone(),
                error: root_cause(&Kubeconfig::read_from(&missing).unwrap_err()),
            }
            .into(),
        ];
        for err in errors {
            let text = format!("{err:#}");
            assert_eq!(
                text.matches("No such file or directory").count(),
                1,
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_server_url_without_scheme() {
        let err = parse_server_url("127.0.0.1:8001").unwrap_err();
        assert!(err.to_string().contains("http:// or https://"), "{err}");
    }
}
