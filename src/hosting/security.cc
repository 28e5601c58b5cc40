#include "hosting/security.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace esdb::hosting {

absl::StatusOr<Security> ReadSecurityFlags(const Flags& flags) {
  absl::StatusOr<bool> insecure = flags.GetBool("insecure");
  if (!insecure.ok()) return insecure.status();
  const std::string& cert = flags.Get("tls-cert-file");
  const std::string& key = flags.Get("tls-key-file");
  const std::string& ca = flags.Get("tls-ca-file");
  Security out;
  if (*insecure) {
    if (!cert.empty() || !key.empty() || !ca.empty()) {
      return absl::InvalidArgumentError(
          "--insecure turns TLS and authentication off: it cannot be combined with "
          "--tls-cert-file, --tls-key-file or --tls-ca-file (drop one or the other)");
    }
    out.insecure = true;
    return out;
  }
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        "secure by default: give --tls-cert-file and --tls-key-file (this host's certificate "
        "and its private key, PEM), or --insecure to run without TLS and without "
        "authentication (local development only); see docs/operations.md, \"Security\"");
  }
  absl::StatusOr<TlsFiles> files = LoadTlsFiles(cert, key, ca);
  if (!files.ok()) return files.status();
  out.tls = *std::move(files);
  return out;
}

void LogSecurity(const Security& security, const std::string& program) {
  if (security.insecure) {
    spdlog::warn(
        "{} runs INSECURE (--insecure): no TLS and no authentication; anyone who can reach its "
        "ports can read and write every stream and manage every connector",
        program);
    return;
  }
  spdlog::info("TLS certificate {} (valid until {}){}", security.tls.subject,
               absl::FormatTime("%Y-%m-%d", security.tls.not_after, absl::UTCTimeZone()),
               security.tls.ca_pem.empty() ? "" : ", checked against --tls-ca-file");
  if (security.tls.not_after - absl::Now() < absl::Hours(24 * 30)) {
    spdlog::warn("the TLS certificate expires within 30 days ({})",
                 absl::FormatTime("%Y-%m-%d", security.tls.not_after, absl::UTCTimeZone()));
  }
}

void SecureServer(const Security& security, auth::CredentialCheck check,
                  http::ServerOptions& options) {
  if (security.insecure) {
    options.authenticate = [](const http::Request&) -> absl::StatusOr<http::Principal> {
      return http::Principal{http::Principal::Kind::kInsecure};
    };
    return;
  }
  options.tls = http::ServerOptions::Tls{security.tls.certificate_chain_pem,
                                         security.tls.private_key_pem};
  options.authenticate = [check = std::move(check)](const http::Request& request) {
    return auth::AuthenticateRequest(request, check);
  };
}

}  // namespace esdb::hosting
