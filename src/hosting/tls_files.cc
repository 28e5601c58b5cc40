#include "hosting/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace esdb::hosting {
namespace {

// Certificates and keys are a few KiB; a bigger file is the wrong file.
constexpr size_t kMaxFileBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;

absl::Status Invalid(const std::string& flag, const std::string& file, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", file, "': ", what));
}

// The reason OpenSSL gives for its last failure (and clears the queue).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  std::string out = reason != nullptr ? reason : "unknown error";
  ERR_clear_error();
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Invalid(flag, path, "cannot open it");
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Invalid(flag, path, "cannot read it");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) return Invalid(flag, path, "larger than 1 MiB: not a PEM file");
  if (text.empty()) return Invalid(flag, path, "the file is empty");
  return text;
}

absl::StatusOr<std::vector<Cert>> Certificates(const std::string& flag, const std::string& path,
                                               const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<Cert> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the file reads as an error
  if (out.empty()) return Invalid(flag, path, "no PEM certificate in it");
  return out;
}

std::string Name(X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Time NotAfter(X509* cert) {
  struct tm t {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) != 1) return absl::InfinitePast();
  return absl::FromTM(t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<TlsFiles> LoadTlsFiles(const std::string& cert_file, const std::string& key_file,
                                      const std::string& ca_file) {
  TlsFiles out;
  absl::StatusOr<std::string> cert_pem = ReadFile("tls-cert-file", cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile("tls-key-file", key_file);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::vector<Cert>> chain = Certificates("tls-cert-file", cert_file, *cert_pem);
  if (!chain.ok()) return chain.status();
  X509* leaf = chain->front().get();

  Bio key_bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return Invalid("tls-key-file", key_file,
                   absl::StrCat("no unencrypted PEM private key in it (", OpenSslError(), ")"));
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return Invalid("tls-key-file", key_file,
                   absl::StrCat("this key does not belong to the certificate in ", cert_file));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
    return Invalid("tls-cert-file", cert_file, "the certificate is not valid yet");
  }
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    return Invalid("tls-cert-file", cert_file, "the certificate has expired");
  }
  if (X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) != 1) {
    return Invalid("tls-cert-file", cert_file,
                   "the certificate may not be used by a TLS server (its key usage says so)");
  }

  if (!ca_file.empty()) {
    absl::StatusOr<std::string> ca_pem = ReadFile("tls-ca-file", ca_file);
    if (!ca_pem.ok()) return ca_pem.status();
    absl::StatusOr<std::vector<Cert>> roots = Certificates("tls-ca-file", ca_file, *ca_pem);
    if (!roots.ok()) return roots.status();
    std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
    for (const Cert& root : *roots) X509_STORE_add_cert(store.get(), root.get());
    std::unique_ptr<STACK_OF(X509), StackFree> intermediates(sk_X509_new_null());
    for (size_t i = 1; i < chain->size(); ++i) {
      X509_up_ref((*chain)[i].get());
      sk_X509_push(intermediates.get(), (*chain)[i].get());
    }
    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> context(X509_STORE_CTX_new());
    if (X509_STORE_CTX_init(context.get(), store.get(), leaf, intermediates.get()) != 1) {
      return absl::InternalError("cannot set up a certificate check (OpenSSL)");
    }
    X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
    if (X509_verify_cert(context.get()) != 1) {
      return Invalid(
          "tls-cert-file", cert_file,
          absl::StrCat("the certificate does not verify against --tls-ca-file '", ca_file, "': ",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()))));
    }
    out.ca_pem = *std::move(ca_pem);
  }

  out.subject = Name(X509_get_subject_name(leaf));
  out.not_after = NotAfter(leaf);
  out.certificate_chain_pem = *std::move(cert_pem);
  out.private_key_pem = *std::move(key_pem);
  return out;
}

}  // namespace esdb::hosting
