// The certificate files of a secure host (--tls-cert-file, --tls-key-file, --tls-ca-file), read
// once at start-up and checked with OpenSSL, so that a wrong file stops the host with a message
// naming it instead of failing every client's handshake later.
#ifndef ESDB_HOSTING_TLS_FILES_H_
#define ESDB_HOSTING_TLS_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace esdb::hosting {

struct TlsFiles {
  std::string certificate_chain_pem;  // the host's certificate, then any intermediates
  std::string private_key_pem;
  std::string ca_pem;  // empty without --tls-ca-file
  // What the checks found, for the start-up log.
  std::string subject;
  absl::Time not_after;
};

// Reads and checks: each file exists and holds PEM that OpenSSL parses (the key file a private
// key, the others certificates); the key belongs to the first certificate; that certificate is
// valid now (not before its start, not after its end) and usable by a TLS server; with a CA file,
// the chain verifies up to a certificate in it. InvalidArgument naming the flag and the file
// otherwise.
absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& cert_file, const std::string& key_file,
                                      const std::string& ca_file);

}  // namespace esdb::hosting

#endif  // ESDB_HOSTING_TLS_FILES_H_
