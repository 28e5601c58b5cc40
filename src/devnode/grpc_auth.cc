#include "devnode/grpc_auth.h"

#include <string>

#include "auth/basic_credentials.h"

namespace esdb::devnode {

grpc::Status BasicAuthProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* context,
                                         OutputMetadata* consumed_auth_metadata,
                                         OutputMetadata* /*response_metadata*/) {
  auto found = auth_metadata.find("authorization");
  if (found == auth_metadata.end()) return grpc::Status::OK;  // anonymous
  if (auth_metadata.count("authorization") > 1) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "more than one authorization value");
  }
  const std::string value(found->second.data(), found->second.size());
  absl::StatusOr<std::optional<auth::BasicCredentials>> credentials =
      auth::ParseAuthorization(value);
  if (!credentials.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        std::string(credentials.status().message()));
  }
  if (!credentials->has_value()) return grpc::Status::OK;  // an empty value: none sent
  absl::StatusOr<http::Principal> who = check_(**credentials);
  if (!who.ok()) {
    return grpc::Status(absl::IsUnavailable(who.status()) ? grpc::StatusCode::UNAVAILABLE
                                                          : grpc::StatusCode::UNAUTHENTICATED,
                        std::string(who.status().message()));
  }
  context->AddProperty(kUserProperty, who->name);
  for (const std::string& role : who->roles) context->AddProperty(kRoleProperty, role);
  // The services read who called from the AuthContext; the password goes no further.
  consumed_auth_metadata->emplace("authorization", value);
  return grpc::Status::OK;
}

}  // namespace esdb::devnode
