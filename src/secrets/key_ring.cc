#include "secrets/key_ring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "openssl/evp.h"
#include "secrets/cipher.h"

namespace esdb::secrets {
namespace {

std::string IdOf(const std::string& key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(key.data(), key.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 8));
}

}  // namespace

absl::StatusOr<MasterKey> LoadMasterKey(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("secrets key file ", path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secrets key file ", path, " is readable or writable by others; chmod 600 it"));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string hex(absl::StripAsciiWhitespace(text.str()));
  bool ok = hex.size() == 2 * kKeyBytes;
  for (char c : hex) ok = ok && absl::ascii_isxdigit(c);
  if (!in || !ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "secrets key file ", path, " must hold 64 hex digits (32 random bytes), e.g. from "
        "`openssl rand -hex 32`"));
  }
  std::string bytes = absl::HexStringToBytes(hex);
  return MasterKey{IdOf(bytes), bytes};
}

absl::Status CreateMasterKeyFileIfMissing(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot create secrets key file ", path, ": ",
                                            std::strerror(errno)));
  }
  std::string text = absl::BytesToHexString(RandomKey()) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return absl::InternalError(absl::StrCat("cannot write secrets key file ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyRing> KeyRing::Load(const std::string& current_path,
                                      const std::string& previous_path) {
  if (current_path.empty()) {
    if (!previous_path.empty()) {
      return absl::InvalidArgumentError("a previous secrets key needs a current one");
    }
    return KeyRing();
  }
  auto current = LoadMasterKey(current_path);
  if (!current.ok()) return current.status();
  if (previous_path.empty()) return KeyRing(*std::move(current));
  auto previous = LoadMasterKey(previous_path);
  if (!previous.ok()) return previous.status();
  return KeyRing(*std::move(current), *std::move(previous));
}

const MasterKey* KeyRing::Find(const std::string& id) const {
  if (current_ && current_->id == id) return &*current_;
  if (previous_ && previous_->id == id) return &*previous_;
  return nullptr;
}

}  // namespace esdb::secrets
