// The host's master keys for secrets at rest. A key file holds 64 hex digits (32 random bytes)
// and nothing else but white space; a key's id is derived from it, so ids need no bookkeeping.
// The current key wraps new data keys; the previous one (optional) only unwraps, so that the
// master key can be rotated: start with the new key as current and the old one as previous, and
// every data key wrapped by the old one is wrapped again by the new one.
#ifndef ESDB_SECRETS_KEY_RING_H_
#define ESDB_SECRETS_KEY_RING_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace esdb::secrets {

struct MasterKey {
  std::string id;     // 16 hex digits of SHA-256(bytes): names the key, reveals nothing useful
  std::string bytes;  // 32 bytes
};

// Reads a key file. InvalidArgument (naming the file, never quoting it) for anything but 64 hex
// digits; FailedPrecondition when the file can be read or written by others than its owner.
absl::StatusOr<MasterKey> LoadMasterKey(const std::string& path);

// Creates a key file with a new random key, mode 0600, unless `path` exists (then it is left
// alone and OK is returned). Hosts call it for their default key file.
absl::Status CreateMasterKeyFileIfMissing(const std::string& path);

class KeyRing {
 public:
  KeyRing() = default;  // no key: secrets cannot be stored
  explicit KeyRing(MasterKey current, std::optional<MasterKey> previous = std::nullopt)
      : current_(std::move(current)), previous_(std::move(previous)) {}

  // From key files; `previous_path` may be empty. "" for `current_path` gives an empty ring.
  static absl::StatusOr<KeyRing> Load(const std::string& current_path,
                                      const std::string& previous_path);

  bool empty() const { return !current_.has_value(); }
  const MasterKey* current() const { return current_ ? &*current_ : nullptr; }
  // The current or the previous key with this id; nullptr when neither has it.
  const MasterKey* Find(const std::string& id) const;

 private:
  std::optional<MasterKey> current_;
  std::optional<MasterKey> previous_;
};

}  // namespace esdb::secrets

#endif  // ESDB_SECRETS_KEY_RING_H_
