#pragma once
/// \file
/// Internal to data::ImageFolder: the listing of `root/<class>/<image>` (which sub-folders are
/// classes, in which order, and their image files), without reading any image.

#include <selfsup/data/detail/decode.hpp>

#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::data::detail {

/// Names that listings leave out: hidden files and folders (".ipynb_checkpoints", ".DS_Store").
inline bool is_hidden(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name.front() == '.';
}

struct FolderListing {
  std::vector<std::string> class_names, empty_folders, missing_classes, unlisted_folders;
  std::vector<std::string> files;  ///< relative to the root, class by class, sorted within each
  std::vector<int64_t> labels;     ///< of each file
};

/// Lists `root`'s classes and image files. `classes` empty: the sub-folders holding at least one
/// image, sorted; otherwise that list, in that order (unlisted sub-folders left out, listed ones
/// without images reported). `warn` receives a line for each folder left out.
inline FolderListing list_folder(const std::filesystem::path& root, const std::vector<std::string>& classes,
                                 std::string_view fn, const std::function<void(const std::string&)>& warn) {
  std::map<std::string, std::vector<std::string>> folders;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    if (!e.is_directory() || is_hidden(e.path())) continue;
    auto& files = folders[e.path().filename().string()];
    for (const auto& f : std::filesystem::directory_iterator(e.path())) {
      if (f.is_regular_file() && !is_hidden(f.path()) && is_image_name(f.path())) {
        files.push_back(std::filesystem::relative(f.path(), root).generic_string());
      }
    }
    std::sort(files.begin(), files.end());
  }
  FolderListing out;
  if (classes.empty()) {
    for (const auto& [name, files] : folders) {
      if (files.empty()) {
        out.empty_folders.push_back(name);
        warn(fmt::format("{}/{} holds no .jpg, .jpeg or .png image: not a class", root.string(), name));
      } else {
        out.class_names.push_back(name);
      }
    }
  } else {
    out.class_names = classes;
    std::set<std::string> seen;
    for (const auto& name : out.class_names) {
      TORCH_CHECK(seen.insert(name).second, fn, ": ImageFolderOptions::classes lists '", name, "' twice");
      auto it = folders.find(name);
      if (it == folders.end() || it->second.empty()) out.missing_classes.push_back(name);
    }
    for (const auto& [name, files] : folders) {
      if (seen.count(name) == 0) {
        out.unlisted_folders.push_back(name);
        warn(fmt::format("{}/{} is not one of the {} given classes: its {} images are left out", root.string(), name,
                         out.class_names.size(), files.size()));
      }
    }
    const auto& missing = out.missing_classes;
    if (!missing.empty()) {
      std::string names;
      for (size_t i = 0; i < missing.size() && i < 10; ++i) names += (i ? ", " : "") + missing[i];
      warn(fmt::format("{} has no images of {} of the {} given classes ({}{})", root.string(), missing.size(),
                       out.class_names.size(), names, missing.size() > 10 ? ", ..." : ""));
    }
  }
  for (size_t c = 0; c < out.class_names.size(); ++c) {
    auto it = folders.find(out.class_names[c]);
    if (it == folders.end()) continue;
    for (auto& f : it->second) {
      out.files.push_back(std::move(f));
      out.labels.push_back(static_cast<int64_t>(c));
    }
  }
  TORCH_CHECK(!out.files.empty(), fn, ": no .jpg, .jpeg or .png images in ", root.string(), "/<class>/ (",
              folders.size(), " class folders found)");
  return out;
}

}  // namespace selfsup::data::detail
