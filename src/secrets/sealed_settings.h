// A connector's settings as they are stored: every secret value sealed under a data key made for
// that settings version, the data key wrapped by the host's current master key. Ciphertexts are
// bound to the connector and the setting they belong to, so none can be moved elsewhere.
#ifndef ESDB_SECRETS_SEALED_SETTINGS_H_
#define ESDB_SECRETS_SEALED_SETTINGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/settings.h"
#include "secrets/key_ring.h"

namespace esdb::secrets {

// How a sealed value starts; such values are never shown, whatever the connector says is secret.
inline constexpr char kSealedPrefix[] = "sealed:v1:";

// Seals the values of `secret_keys` (those present in `settings`) in place and returns how to open
// them again. No secret keys: nothing is sealed and the result is empty. FailedPrecondition when
// there are secrets but `ring` has no key.
absl::StatusOr<SealedSecrets> SealSettings(const std::string& connector_id,
                                           std::vector<std::string> secret_keys,
                                           SettingsMap& settings, const KeyRing& ring);

// `settings` with every sealed value opened. FailedPrecondition when the master key that wrapped
// the data key is not in `ring` (naming its id); DataLoss when a value does not open.
absl::StatusOr<SettingsMap> OpenSettings(const std::string& connector_id,
                                         const SettingsMap& settings,
                                         const SealedSecrets& secrets, const KeyRing& ring);

// The same secrets with the data key wrapped by the current master key instead (for rotation).
absl::StatusOr<SealedSecrets> Rewrap(const std::string& connector_id, const SealedSecrets& secrets,
                                     const KeyRing& ring);

}  // namespace esdb::secrets

#endif  // ESDB_SECRETS_SEALED_SETTINGS_H_
