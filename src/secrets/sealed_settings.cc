#include "secrets/sealed_settings.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/text.h"
#include "secrets/cipher.h"

namespace esdb::secrets {
namespace {

// Associated data: what a ciphertext is for, NUL-separated (NUL cannot occur in ids or keys).
std::string Place(const std::string& connector_id, absl::string_view what) {
  constexpr absl::string_view kNul("\0", 1);
  return absl::StrCat("esdb-connectors", kNul, connector_id, kNul, what);
}

absl::StatusOr<std::string> UnwrapDataKey(const std::string& connector_id,
                                          const SealedSecrets& secrets, const KeyRing& ring) {
  const MasterKey* master = ring.Find(secrets.key_id);
  if (master == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the secrets of connector '", connector_id, "' were sealed under master key ",
        secrets.key_id, ", which this host does not have (--secrets-key-file, "
        "--secrets-previous-key-file)"));
  }
  std::string wrapped;
  if (!absl::Base64Unescape(secrets.wrapped_data_key, &wrapped)) {
    return absl::DataLossError("a wrapped data key is not base64");
  }
  return Open(master->bytes, wrapped, Place(connector_id, "data-key"));
}

}  // namespace

absl::StatusOr<SealedSecrets> SealSettings(const std::string& connector_id,
                                           std::vector<std::string> secret_keys,
                                           SettingsMap& settings, const KeyRing& ring) {
  std::sort(secret_keys.begin(), secret_keys.end());
  secret_keys.erase(std::unique(secret_keys.begin(), secret_keys.end()), secret_keys.end());
  std::erase_if(secret_keys, [&](const std::string& k) { return !settings.contains(k); });
  SealedSecrets out;
  if (secret_keys.empty()) return out;
  if (ring.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Excerpt(secret_keys.front()), ": this host cannot store secret settings: it has no "
        "secrets key (--secrets-key-file)"));
  }
  std::string data_key = RandomKey();
  for (const std::string& k : secret_keys) {
    auto sealed = Seal(data_key, settings[k], Place(connector_id, k));
    if (!sealed.ok()) return sealed.status();
    settings[k] = absl::StrCat(kSealedPrefix, absl::Base64Escape(*sealed));
  }
  auto wrapped = Seal(ring.current()->bytes, data_key, Place(connector_id, "data-key"));
  if (!wrapped.ok()) return wrapped.status();
  out.keys = std::move(secret_keys);
  out.key_id = ring.current()->id;
  out.wrapped_data_key = absl::Base64Escape(*wrapped);
  return out;
}

absl::StatusOr<SettingsMap> OpenSettings(const std::string& connector_id,
                                         const SettingsMap& settings,
                                         const SealedSecrets& secrets, const KeyRing& ring) {
  SettingsMap out = settings;
  if (secrets.keys.empty()) return out;
  auto data_key = UnwrapDataKey(connector_id, secrets, ring);
  if (!data_key.ok()) return data_key.status();
  for (const std::string& k : secrets.keys) {
    auto it = out.find(k);
    if (it == out.end()) continue;
    absl::string_view text = it->second;
    std::string sealed;
    if (!absl::ConsumePrefix(&text, kSealedPrefix) || !absl::Base64Unescape(text, &sealed)) {
      return absl::DataLossError(absl::StrCat(k, ": the stored secret is not sealed"));
    }
    auto plain = Open(*data_key, sealed, Place(connector_id, k));
    if (!plain.ok()) return absl::DataLossError(absl::StrCat(k, ": ", plain.status().message()));
    it->second = *std::move(plain);
  }
  return out;
}

absl::StatusOr<SealedSecrets> Rewrap(const std::string& connector_id, const SealedSecrets& secrets,
                                     const KeyRing& ring) {
  if (secrets.keys.empty() || ring.empty()) return secrets;
  auto data_key = UnwrapDataKey(connector_id, secrets, ring);
  if (!data_key.ok()) return data_key.status();
  auto wrapped = Seal(ring.current()->bytes, *data_key, Place(connector_id, "data-key"));
  if (!wrapped.ok()) return wrapped.status();
  SealedSecrets out = secrets;
  out.key_id = ring.current()->id;
  out.wrapped_data_key = absl::Base64Escape(*wrapped);
  return out;
}

}  // namespace esdb::secrets
