// The security flags both hosts share: secure by default (TLS with --tls-cert-file and
// --tls-key-file, optional --tls-ca-file; callers authenticated), or --insecure (plain, anonymous,
// unchecked), which must be asked for and is never combined with certificate flags.
#ifndef ESDB_HOSTING_SECURITY_H_
#define ESDB_HOSTING_SECURITY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "auth/request_auth.h"
#include "hosting/flags.h"
#include "http/server.h"
#include "hosting/tls_files.h"

namespace esdb::hosting {

struct Security {
  bool insecure = false;
  TlsFiles tls;  // loaded and checked (tls_files.h); empty when insecure
};

// Reads --insecure, --tls-cert-file, --tls-key-file and --tls-ca-file (which `flags` must
// declare). InvalidArgument, with what to do about it, when neither --insecure nor both
// certificate flags are given, when --insecure comes with certificate flags, or when the files
// do not pass LoadTlsFiles.
absl::StatusOr<Security> ReadSecurityFlags(const Flags& flags);

// Logs the mode once at start-up: a warning for --insecure (anyone who can reach the ports may
// do anything), the certificate's subject and end of validity otherwise.
void LogSecurity(const Security& security, const std::string& program);

// Sets up `options` for `security`: with --insecure every caller is kInsecure; otherwise TLS with
// the loaded certificate and HTTP Basic callers checked by `check`.
void SecureServer(const Security& security, auth::CredentialCheck check,
                  http::ServerOptions& options);

}  // namespace esdb::hosting

#endif  // ESDB_HOSTING_SECURITY_H_
