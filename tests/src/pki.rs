//! Certificates for the fake cluster, generated fresh for every server with rcgen.
//!
//! Like a kubeadm cluster, one CA (`CN=kubernetes`) signs both the API server's serving
//! certificate and the client certificates it accepts (`--client-ca-file` = the cluster CA).
//! A second, unrelated CA exists so a test can make the server present a certificate its clients
//! were not told to trust (curl's "unable to get local issuer certificate" case).

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority that can issue leaf certificates.
pub struct CertificateAuthority {
    /// PEM of the CA certificate (what clients put in `certificate-authority-data`).
    pub cert_pem: String,
    /// DER of the CA certificate (for rustls root stores).
    pub cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf certificate with its private key.
pub struct IssuedCert {
    /// PEM of the certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of the private key.
    pub key_pem: String,
    /// DER of the certificate.
    pub cert_der: CertificateDer<'static>,
    /// DER (PKCS#8) of the private key.
    pub key_der: Vec<u8>,
}

impl IssuedCert {
    /// The private key in the form rustls wants.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

impl CertificateAuthority {
    /// Creates a self-signed CA with this common name.
    pub fn new(common_name: &str) -> Result<Self> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().context("generating a CA key")?;
        let cert = params
            .self_signed(&key)
            .context("self-signing the CA certificate")?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Issues an API server serving certificate for `127.0.0.1` and `localhost`.
    pub fn issue_serving_cert(&self) -> Result<IssuedCert> {
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .context("serving certificate SANs")?;
        params.distinguished_name = dn("kube-apiserver");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// Issues a client certificate; the API server reads the user from CN and groups from O.
    pub fn issue_client_cert(&self, user: &str, groups: &[&str]) -> Result<IssuedCert> {
        let mut params = CertificateParams::default();
        let mut name = dn(user);
        for g in groups {
            name.push(DnType::OrganizationName, *g);
        }
        params.distinguished_name = name;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Result<IssuedCert> {
        let key = KeyPair::generate().context("generating a leaf key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing a leaf certificate")?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Everything the fake cluster needs: its CA, serving and admin client certificates, and the
/// unrelated CA with a serving certificate of its own.
pub struct ClusterPki {
    /// The cluster CA: trusted by clients, and trusted by the server for client certificates.
    pub ca: CertificateAuthority,
    /// Serving certificate signed by the cluster CA.
    pub serving: IssuedCert,
    /// `CN=kubernetes-admin, O=system:masters`, signed by the cluster CA.
    pub admin_client: IssuedCert,
    /// A CA clients know nothing about.
    pub untrusted_ca: CertificateAuthority,
    /// Serving certificate (same SANs) signed by `untrusted_ca`.
    pub untrusted_serving: IssuedCert,
}

impl ClusterPki {
    /// Generates a complete, fresh set of keys and certificates.
    pub fn generate() -> Result<Self> {
        let ca = CertificateAuthority::new("kubernetes")?;
        let serving = ca.issue_serving_cert()?;
        let admin_client = ca.issue_client_cert("kubernetes-admin", &["system:masters"])?;
        let untrusted_ca = CertificateAuthority::new("kubewasm-untrusted-ca")?;
        let untrusted_serving = untrusted_ca.issue_serving_cert()?;
        Ok(ClusterPki {
            ca,
            serving,
            admin_client,
            untrusted_ca,
            untrusted_serving,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pems_have_the_expected_armour() {
        let pki = ClusterPki::generate().unwrap();
        assert!(pki.ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(
            pki.admin_client
                .key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert_ne!(pki.ca.cert_pem, pki.untrusted_ca.cert_pem);
    }
}
