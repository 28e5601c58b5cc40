// The management page's files, embedded in the library at build time (the generated
// ui_assets.cc, made by cmake/EsdbEmbedFiles.cmake from src/management/ui/).
#ifndef ESDB_MANAGEMENT_UI_ASSETS_H_
#define ESDB_MANAGEMENT_UI_ASSETS_H_

#include <cstddef>
#include <string_view>

namespace esdb {

struct UiAsset {
  const char* route;         // the path that serves it, e.g. "/ui/connectors"
  const char* content_type;  // with charset for text
  std::string_view bytes;    // the file as it was at build time; static storage
};

extern const UiAsset kUiAssets[];
extern const size_t kUiAssetCount;

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_UI_ASSETS_H_
