#include "secrets/sealed_settings.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "secrets/cipher.h"

namespace esdb::secrets {
namespace {

using ::testing::HasSubstr;

MasterKey Key() {
  std::string bytes = RandomKey();
  return MasterKey{"id-" + std::to_string(bytes[0] & 0xff) + std::to_string(bytes[1] & 0xff),
                   bytes};
}

TEST(CipherTest, OpensWhatItSealedAndNothingAltered) {
  std::string key = RandomKey();
  auto sealed = Seal(key, "hunter2", "here");
  ASSERT_TRUE(sealed.ok());
  EXPECT_FALSE(absl::StrContains(*sealed, "hunter2"));
  EXPECT_EQ(*Open(key, *sealed, "here"), "hunter2");
  EXPECT_NE(*Seal(key, "hunter2", "here"), *sealed);  // a fresh nonce every time
  EXPECT_TRUE(absl::IsDataLoss(Open(key, *sealed, "elsewhere").status()));
  EXPECT_TRUE(absl::IsDataLoss(Open(RandomKey(), *sealed, "here").status()));
  std::string flipped = *sealed;
  flipped[14] ^= 1;
  EXPECT_TRUE(absl::IsDataLoss(Open(key, flipped, "here").status()));
  EXPECT_TRUE(absl::IsDataLoss(Open(key, sealed->substr(0, 10), "here").status()));
}

TEST(SealedSettingsTest, SecretValuesAreSealedBoundToConnectorAndKey) {
  KeyRing ring(Key());
  SettingsMap settings = {{"url", "https://x"}, {"password", "hunter2"}, {"token", "t0k3n"}};
  auto secrets = SealSettings("c1", {"token", "password", "password", "absent"}, settings, ring);
  ASSERT_TRUE(secrets.ok()) << secrets.status();
  EXPECT_EQ(secrets->keys, (std::vector<std::string>{"password", "token"}));
  EXPECT_EQ(secrets->key_id, ring.current()->id);
  EXPECT_EQ(settings["url"], "https://x");
  EXPECT_TRUE(absl::StartsWith(settings["password"], kSealedPrefix));
  EXPECT_FALSE(absl::StrContains(settings["password"] + settings["token"], "hunter2"));
  auto opened = OpenSettings("c1", settings, *secrets, ring);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)["password"], "hunter2");
  EXPECT_EQ((*opened)["token"], "t0k3n");
  // Moved to another connector, or one value moved to another key: refused.
  EXPECT_FALSE(OpenSettings("c2", settings, *secrets, ring).ok());
  SettingsMap swapped = settings;
  std::swap(swapped["password"], swapped["token"]);
  EXPECT_TRUE(absl::IsDataLoss(OpenSettings("c1", swapped, *secrets, ring).status()));
}

TEST(SealedSettingsTest, NoSecretsNeedNoKeyButSecretsDo) {
  SettingsMap plain = {{"url", "https://x"}};
  auto none = SealSettings("c1", {}, plain, KeyRing());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->keys.empty());
  SettingsMap secret = {{"password", "hunter2"}};
  auto refused = SealSettings("c1", {"password"}, secret, KeyRing());
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_THAT(refused.status().message(), HasSubstr("--secrets-key-file"));
  EXPECT_EQ(secret["password"], "hunter2");  // nothing half-sealed
}

TEST(SealedSettingsTest, RotationRewrapsTheDataKeyAndTheOldKeyIsThenNotNeeded) {
  MasterKey old_key = Key(), new_key = Key();
  SettingsMap settings = {{"password", "hunter2"}};
  auto sealed = SealSettings("c1", {"password"}, settings, KeyRing(old_key));
  ASSERT_TRUE(sealed.ok());
  // The new key alone cannot read it, and says which key it needs.
  auto missing = OpenSettings("c1", settings, *sealed, KeyRing(new_key));
  EXPECT_TRUE(absl::IsFailedPrecondition(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr(old_key.id));
  auto rewrapped = Rewrap("c1", *sealed, KeyRing(new_key, old_key));
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.status();
  EXPECT_EQ(rewrapped->key_id, new_key.id);
  auto opened = OpenSettings("c1", settings, *rewrapped, KeyRing(new_key));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)["password"], "hunter2");
}

TEST(KeyRingTest, KeyFilesAreCreatedPrivateAndLoadedWithStableIds) {
  auto dir = std::filesystem::temp_directory_path() / ("esdb-keys-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "secrets.key").string();
  ASSERT_TRUE(CreateMasterKeyFileIfMissing(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto a = LoadMasterKey(path);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(CreateMasterKeyFileIfMissing(path).ok());  // exists: left alone
  auto b = LoadMasterKey(path);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->id.size(), 16u);
  ::chmod(path.c_str(), 0644);
  EXPECT_TRUE(absl::IsFailedPrecondition(LoadMasterKey(path).status()));
  {
    std::ofstream bad(dir / "bad.key");
    bad << "not a key\n";
  }
  ::chmod((dir / "bad.key").c_str(), 0600);
  auto bad = LoadMasterKey((dir / "bad.key").string());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(bad.status().message(), HasSubstr("64 hex digits"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace esdb::secrets
