// curate: semantic pairs made by hand. Mine candidates with a backbone, review them in a browser
// (keyboard first; every decision journaled to disk before the page says saved), export the
// accepted ones as the pair table train --pairs reads, and compare runs trained on them.
//
//   curate mine    --init PATH|--checkpoint PATH --out candidates.csv [--data ...] [--k K] [--mutual]
//                  [--threshold X] [--max-per-image M] [--max-per-hub M] [--json PATH]
//   curate review  --candidates candidates.csv --journal alice.jsonl [--data ...] [--reviewer NAME]
//                  [--host 127.0.0.1] [--port 0] [--hide-labels]
//   curate export  --candidates candidates.csv --journal alice.jsonl [--journal bob.jsonl ...]
//                  [--agree all|any|majority] [--unreviewed] --out pairs.csv [--disagreements PATH] [--json PATH]
//   curate compare BASELINE.json RUN.json ... [--names a,b,...] [--json PATH]
//
// The review page's API and the files' formats: docs/curation.md.
#include "common/backbone.hpp"
#include "common/example_support.hpp"
#include "curate/server.hpp"

#include <selfsup/curate/agreement.hpp>
#include <selfsup/curate/candidates.hpp>
#include <selfsup/curate/candidates_file.hpp>
#include <selfsup/curate/journal.hpp>
#include <selfsup/eval/statistics.hpp>
#include <selfsup/report/json.hpp>

#include <fmt/core.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace ss = selfsup;
namespace ex = selfsup::examples;
namespace sc = selfsup::curate;
using Json = ss::report::Json;

namespace {

/// The candidates file at `path`, its errors beginning with the program and flag.
sc::CandidateSet candidates_for(std::string_view program, const std::string& path) {
  try {
    return sc::read_candidates(path);
  } catch (const std::exception& e) {
    throw std::invalid_argument(fmt::format("{}: --candidates {}", program, e.what()));
  }
}

/// --pairs comes with the data options, but mining and reviewing make pairs rather than read them.
void refuse_pairs(std::string_view program, const ex::DataOptions& d) {
  if (!d.pairs.empty()) {
    throw std::invalid_argument(fmt::format("{}: --pairs does not apply here (it gives train a pair table); drop it",
                                            program));
  }
}

/// The data settings a candidates file records, so that review finds the same images.
Json data_record(const ex::DataOptions& d) {
  return Json{{"data", d.spec}, {"per_class", d.per_class ? Json(*d.per_class) : Json(nullptr)}, {"seed", d.seed},
              {"image_size", d.image_size ? Json(*d.image_size) : Json(nullptr)}};
}

/// A label's name: the folder's class name, else the id.
std::string label_name(const ex::Data& d, std::int64_t label) {
  if (label >= 0 && static_cast<std::size_t>(label) < d.class_names.size()) return d.class_names[static_cast<std::size_t>(label)];
  return std::to_string(label);
}

/// How a pair table names each training image of the loaded split: its path under train/
/// (folders), or its index in the full split (a --per-class subset's mapped back).
std::vector<std::string> image_names(const ex::Data& d) {
  if (!d.train_paths.empty()) return d.train_paths;
  std::vector<std::string> names(static_cast<std::size_t>(d.train.size()));
  if (d.chosen.defined()) {
    const auto chosen = d.chosen.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < chosen.size(0); ++i) names[static_cast<std::size_t>(i)] = std::to_string(chosen[i]);
  } else {
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = std::to_string(i);
  }
  return names;
}

std::vector<std::string> labels_of(const ex::Data& d) {
  std::vector<std::string> out;
  if (!d.train.has_labels()) return out;
  const auto y = d.train.all_labels().cpu();
  const auto a = y.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < a.size(0); ++i) out.push_back(label_name(d, a[i]));
  return out;
}

int mine(const ex::Common& c, const sc::CandidateOptions& o, const std::string& out) {
  constexpr std::string_view program = "curate mine";
  refuse_pairs(program, c.data);
  const auto device = ex::parse_device(program, c.device);
  ex::check_output(program, "--out", out);
  ex::check_output(program, "--json", c.json);
  std::string description;
  auto model = ex::load_backbone(program, c, device, description);
  const auto d = ex::load_data(program, c.data, device);
  if (!c.quiet) {
    fmt::print("curate mine: {} from {} on {} ({} training images), k {}{}\n", description,
               c.init.empty() ? c.checkpoint : c.init, d.name, d.train.size(), o.k, o.mutual ? ", mutual" : "");
  }
  const auto features = ex::embed(model, d.train, c.batch_size, "train", c.quiet);
  const auto mined = sc::mine_candidates(features, o);
  const auto labels = labels_of(d);
  sc::CandidateSet set;
  set.meta = Json{{"images", mined.images},
                  {"k", mined.k},
                  {"mutual", o.mutual},
                  {"threshold", o.threshold},
                  {"max_per_image", o.max_per_image},
                  {"max_per_hub", o.max_per_hub},
                  {"median_nn_distance", ss::report::number(mined.median_nn_distance)},
                  {"k_occurrence_skewness", ss::report::number(mined.hubness.skewness)},
                  {"never_chosen", mined.hubness.never_chosen},
                  {"max_occurrence", mined.hubness.max_occurrence},
                  {"backbone", description},
                  {"init", c.init.empty() ? c.checkpoint : c.init}};
  const auto record = data_record(c.data);
  for (const auto& [key, value] : record.items()) set.meta[key] = value;
  const auto names = image_names(d);
  std::int64_t same = 0;
  std::set<std::int64_t> covered;
  for (std::int64_t p = 0; p < mined.size(); ++p) {
    const auto a = mined.first[static_cast<std::size_t>(p)], b = mined.second[static_cast<std::size_t>(p)];
    sc::Candidate row{names[static_cast<std::size_t>(a)], names[static_cast<std::size_t>(b)], mined.cosine[static_cast<std::size_t>(p)],
                      mined.rank[static_cast<std::size_t>(p)], mined.partner_rank[static_cast<std::size_t>(p)],
                      mined.relative_distance[static_cast<std::size_t>(p)], mined.k_occurrence[static_cast<std::size_t>(a)],
                      mined.k_occurrence[static_cast<std::size_t>(b)], {}, {}};
    if (!labels.empty()) {
      row.label_first = labels[static_cast<std::size_t>(a)];
      row.label_second = labels[static_cast<std::size_t>(b)];
      same += row.same_label();
    }
    covered.insert(a);
    covered.insert(b);
    set.rows.push_back(std::move(row));
  }
  ex::write_output(program, out, [&](const std::string& path) { sc::write_candidates(set, path); });
  const double precision = labels.empty() || set.rows.empty() ? NAN : static_cast<double>(same) / static_cast<double>(set.rows.size());
  fmt::print("{} candidates ({} before the caps); {} of {} images ({:.1f}%) in a pair", set.size(), mined.before_caps,
             covered.size(), mined.images, 100.0 * static_cast<double>(covered.size()) / static_cast<double>(mined.images));
  if (std::isfinite(precision)) fmt::print("; precision (same label) {:.4f}", precision);
  fmt::print("\nhubness of the {}-nearest-neighbour lists: k-occurrence skewness {:.3f}, most listed image {} times, {} "
             "images ({:.1f}%) in no list; median nearest-neighbour distance {:.4f}\n",
             mined.k, mined.hubness.skewness, mined.hubness.max_occurrence, mined.hubness.never_chosen,
             100.0 * static_cast<double>(mined.hubness.never_chosen) / static_cast<double>(mined.images),
             mined.median_nn_distance);
  if (!c.json.empty()) {
    Json json = set.meta;
    json["out"] = out;
    json["candidates"] = set.size();
    json["before_caps"] = mined.before_caps;
    json["images_covered"] = covered.size();
    json["precision"] = ss::report::number(precision);
    ex::write_output(program, c.json, [&](const std::string& path) { ss::report::write_json(json, path); });
  }
  return EXIT_SUCCESS;
}

/// Checks that the data loaded now is the data the candidates were mined on.
void check_same_data(const sc::CandidateSet& set, const ex::DataOptions& options, std::int64_t images) {
  const auto now = data_record(options);
  std::vector<std::string> differences;
  for (const auto& [key, value] : now.items()) {
    if (set.meta.contains(key) && set.meta[key] != value) {
      differences.push_back(fmt::format("--{} {} here, {} when mined", key == "per_class" ? "per-class" : key == "image_size" ? "image-size" : key,
                                        value.dump(), set.meta[key].dump()));
    }
  }
  if (set.meta.contains("images") && set.meta["images"] != images) {
    differences.push_back(fmt::format("{} training images here, {} when mined", images, set.meta["images"].dump()));
  }
  if (!differences.empty()) {
    std::string list;
    for (const auto& d : differences) list += "\n  " + d;
    throw std::invalid_argument(fmt::format("curate review: '{}' was mined on other data; give the --data, --per-class, "
                                            "--seed and --image-size curate mine was given:{}", set.path, list));
  }
}

int review(ex::DataOptions& data, const std::string& candidates_path, const std::string& journal_path,
           const std::string& reviewer, const std::string& host, int port, bool hide_labels) {
  constexpr std::string_view program = "curate review";
  refuse_pairs(program, data);
  auto set = candidates_for(program, candidates_path);
  if (set.rows.empty()) throw std::invalid_argument(fmt::format("{}: '{}' holds no candidates", program, candidates_path));
  const auto d = ex::load_data(program, data, torch::kCPU);
  check_same_data(set, data, d.train.size());
  // Each candidate's images in the loaded split: by path (folders) or by full-split index.
  std::unordered_map<std::string, std::int64_t> index;
  const auto names = image_names(d);
  for (std::size_t i = 0; i < names.size(); ++i) index.emplace(names[i], static_cast<std::int64_t>(i));
  ex::curate::ReviewSetup setup;
  setup.candidates = &set;
  setup.images = d.train.size();
  const auto labels = labels_of(d);
  for (std::size_t p = 0; p < set.rows.size(); ++p) {
    const auto& row = set.rows[p];
    for (const auto* name : {&row.first, &row.second}) {
      const auto it = index.find(*name);
      if (it == index.end()) {
        throw std::invalid_argument(fmt::format("{}: '{}' pair {} names image '{}', which --data {} does not hold", program,
                                                candidates_path, p, *name, data.spec));
      }
      (name == &row.first ? setup.first_image : setup.second_image).push_back(it->second);
    }
    if (row.has_labels() && !labels.empty() &&
        (labels[static_cast<std::size_t>(setup.first_image.back())] != row.label_first ||
         labels[static_cast<std::size_t>(setup.second_image.back())] != row.label_second)) {
      throw std::invalid_argument(fmt::format("{}: '{}' pair {}: its labels ({}, {}) are not the data's ({}, {}); the "
                                              "candidates were mined on other data", program, candidates_path, p,
                                              row.label_first, row.label_second,
                                              labels[static_cast<std::size_t>(setup.first_image.back())],
                                              labels[static_cast<std::size_t>(setup.second_image.back())]));
    }
  }
  if (set.has_labels()) {
    std::set<std::string> seen;
    for (const auto& row : set.rows) {
      seen.insert(row.label_first);
      seen.insert(row.label_second);
    }
    setup.classes.assign(seen.begin(), seen.end());
    std::sort(setup.classes.begin(), setup.classes.end(), [](const std::string& a, const std::string& b) {
      // Numeric names in numeric order, others as text.
      const bool na = !a.empty() && a.find_first_not_of("0123456789") == std::string::npos;
      const bool nb = !b.empty() && b.find_first_not_of("0123456789") == std::string::npos;
      if (na && nb && a.size() != b.size()) return a.size() < b.size();
      return a < b;
    });
  }
  setup.hide_labels = hide_labels;
  setup.host = host;
  setup.port = port;
  setup.token = ex::curate::random_token();
  // Images: a folder's files as they are; tensors encoded as PNG once, on first request.
  const bool folder = !d.train_paths.empty();
  const std::filesystem::path root = folder ? std::filesystem::path(data.spec.substr(7)) / "train" : std::filesystem::path();
  auto images = d.train.all_images().cpu();
  std::mutex png_mutex;
  std::unordered_map<std::int64_t, std::string> png_cache;
  setup.read_image = [&](std::int64_t i) -> ex::curate::ImageBytes {
    if (folder) {
      const auto& rel = d.train_paths[static_cast<std::size_t>(i)];
      std::ifstream in(root / rel, std::ios::binary);
      if (!in) throw std::runtime_error("'" + (root / rel).string() + "' cannot be read");
      std::ostringstream bytes;
      bytes << in.rdbuf();
      auto ext = std::filesystem::path(rel).extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      return {bytes.str(), ext == ".png" ? "image/png" : "image/jpeg"};
    }
    std::lock_guard lock(png_mutex);
    auto it = png_cache.find(i);
    if (it == png_cache.end()) {
      const auto hwc = images[i].permute({1, 2, 0}).contiguous();
      std::string png;
      const int ok = stbi_write_png_to_func(
          [](void* context, void* bytes, int size) { static_cast<std::string*>(context)->append(static_cast<const char*>(bytes), static_cast<std::size_t>(size)); },
          &png, static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(2)),
          hwc.data_ptr<std::uint8_t>(), static_cast<int>(hwc.size(1) * hwc.size(2)));
      if (ok == 0) throw std::runtime_error("PNG encoding failed");
      it = png_cache.emplace(i, std::move(png)).first;
    }
    return {it->second, "image/png"};
  };
  std::vector<std::string> notes;
  auto open_journal = [&]() -> sc::Journal* {
    try {
      return new sc::Journal(journal_path, {std::filesystem::path(candidates_path).filename().string(),
                                            sc::crc_hex(set.crc32c), set.size(), reviewer, {}}, &notes);
    } catch (const std::exception& e) {
      throw std::invalid_argument(fmt::format("{}: --journal {}", program, e.what()));
    }
  };
  const std::unique_ptr<sc::Journal> journal_owner(open_journal());
  auto& journal = *journal_owner;
  for (const auto& note : notes) fmt::print(stderr, "{}: {}\n", program, note);
  const auto counts = journal.state().counts();
  fmt::print("curate review: {} candidates from {}; journal {} (reviewer {}): {} accepted, {} rejected, {} skipped, {} "
             "undecided\n", set.size(), candidates_path, journal_path, journal.header().reviewer, counts.accept,
             counts.reject, counts.skip, counts.undecided);
  if (host != "127.0.0.1" && host != "localhost" && host != "::1") {
    fmt::print(stderr, "curate review: warning: serving on {}, not only this machine's loopback: anyone who can reach "
               "it and has the URL (its token) can see the images and change the journal\n", host);
  }
  const int status = ex::curate::serve_review(setup, journal, [](const std::string& url) {
    fmt::print("curate review: open {}\n(keys: a accept, r reject, s skip, u undo, arrows next/previous; Ctrl-C stops, "
               "every saved decision is already on disk)\n", url);
    std::fflush(stdout);
  });
  const auto after = journal.state().counts();
  fmt::print("curate review: stopped; {} accepted, {} rejected, {} skipped, {} undecided, all in {}\n", after.accept,
             after.reject, after.skip, after.undecided, journal_path);
  return status;
}

int export_table(const std::string& candidates_path, const std::vector<std::string>& journals, const std::string& agree,
                 bool unreviewed, const std::string& out, const std::string& disagreements_path, const std::string& json_path) {
  constexpr std::string_view program = "curate export";
  ex::check_output(program, "--out", out);
  ex::check_output(program, "--disagreements", disagreements_path);
  ex::check_output(program, "--json", json_path);
  if (unreviewed == !journals.empty()) {
    throw std::invalid_argument(unreviewed ? "curate export: --unreviewed exports every candidate; leave out --journal"
                                           : "curate export: give the review journals (--journal PATH, once per reviewer), "
                                             "or --unreviewed for every candidate");
  }
  const auto rule = sc::parse_agree_rule(agree);
  const auto set = candidates_for(program, candidates_path);
  const auto n = set.size();
  std::vector<sc::JournalReplay> replays;
  std::vector<std::vector<sc::Decision>> decisions;
  std::map<std::string, std::string> reviewers;
  for (const auto& path : journals) {
    auto r = sc::read_journal(path);
    if (r.header.pairs < 0) throw std::invalid_argument(fmt::format("curate export: '{}' is empty (no header line)", path));
    for (const auto& note : r.notes) fmt::print(stderr, "{}: '{}': {}\n", program, path, note);
    sc::check_journal_matches(r, candidates_path, set.crc32c, n);
    if (const auto [it, fresh] = reviewers.emplace(r.header.reviewer, path); !fresh) {
      throw std::invalid_argument(fmt::format("curate export: '{}' and '{}' are both the journal of reviewer '{}'; give "
                                              "each reviewer's journal once", it->second, path, r.header.reviewer));
    }
    std::vector<sc::Decision> d;
    for (const auto m : r.state.marks()) d.push_back(sc::decision_of(m));
    decisions.push_back(std::move(d));
    replays.push_back(std::move(r));
  }
  std::vector<std::int64_t> accepted;
  std::vector<std::int64_t> disagreements;
  std::int64_t undecided_somewhere = 0;
  for (std::int64_t p = 0; p < n; ++p) {
    if (unreviewed) {
      accepted.push_back(p);
      continue;
    }
    std::vector<sc::Decision> votes;
    for (const auto& d : decisions) votes.push_back(d[static_cast<std::size_t>(p)]);
    bool any_accept = false, any_reject = false, any_undecided = false;
    for (const auto v : votes) {
      any_accept |= v == sc::Decision::accept;
      any_reject |= v == sc::Decision::reject;
      any_undecided |= v == sc::Decision::undecided;
    }
    undecided_somewhere += any_undecided;
    if (any_accept && any_reject) disagreements.push_back(p);
    if (sc::combine(votes, rule) == sc::Decision::accept) accepted.push_back(p);
  }
  // The table train --pairs reads, whole or not at all.
  std::string text = fmt::format("# curate export: {} of {} candidates of {}{}\nfirst,second\n", accepted.size(), n,
                                 std::filesystem::path(candidates_path).filename().string(),
                                 unreviewed ? " (unreviewed: all)" : fmt::format(" (--agree {}, {} journal{})", agree, journals.size(), journals.size() == 1 ? "" : "s"));
  std::set<std::string> covered;
  std::map<std::string, std::int64_t> per_class;
  std::int64_t same = 0, same_all = 0;
  for (const auto p : accepted) {
    const auto& c = set.rows[static_cast<std::size_t>(p)];
    text += c.first + "," + c.second + "\n";
    covered.insert(c.first);
    covered.insert(c.second);
    if (c.has_labels()) {
      ++per_class[c.same_label() ? c.label_first : std::string("(two classes)")];
      same += c.same_label();
    }
  }
  for (const auto& c : set.rows) same_all += c.same_label();
  ex::write_output(program, out, [&](const std::string& path) { ss::detail::write_whole_file(path, text, "curate export: --out"); });

  const auto images = set.meta.value("images", std::int64_t{0});
  fmt::print("{} of {} candidates accepted{}; {} images in an accepted pair{}\n", accepted.size(), n,
             unreviewed ? " (--unreviewed: all)" : fmt::format(" (--agree {})", agree), covered.size(),
             images > 0 ? fmt::format(" ({:.1f}% of {})", 100.0 * static_cast<double>(covered.size()) / static_cast<double>(images), images) : "");
  Json kappa_json = nullptr;
  if (decisions.size() == 2) {
    const auto k = sc::cohen_kappa(decisions[0], decisions[1]);
    fmt::print("Cohen's kappa ({} and {}): {} over {} pairs both decided (observed agreement {:.4f}, by chance {:.4f})\n",
               replays[0].header.reviewer, replays[1].header.reviewer,
               std::isfinite(k.value) ? fmt::format("{:.4f}", k.value) : "undefined (one answer throughout)", k.items, k.observed, k.expected);
    kappa_json = Json{{"kind", "cohen"}, {"value", ss::report::number(k.value)}, {"items", k.items},
                      {"observed", ss::report::number(k.observed)}, {"expected", ss::report::number(k.expected)}};
  } else if (decisions.size() > 2) {
    const auto k = sc::fleiss_kappa(decisions);
    fmt::print("Fleiss' kappa ({} reviewers): {} over {} pairs all decided (observed agreement {:.4f}, by chance {:.4f})\n",
               decisions.size(), std::isfinite(k.value) ? fmt::format("{:.4f}", k.value) : "undefined (one answer throughout)",
               k.items, k.observed, k.expected);
    kappa_json = Json{{"kind", "fleiss"}, {"value", ss::report::number(k.value)}, {"items", k.items},
                      {"observed", ss::report::number(k.observed)}, {"expected", ss::report::number(k.expected)}};
  }
  if (decisions.size() >= 2) {
    fmt::print("{} pairs on which reviewers disagree (resolved by --agree {}); {} pairs left undecided by some reviewer\n",
               disagreements.size(), agree, undecided_somewhere);
    for (std::size_t i = 0; i < std::min<std::size_t>(disagreements.size(), 5); ++i) {
      const auto p = disagreements[i];
      std::string votes;
      for (std::size_t r = 0; r < replays.size(); ++r) {
        votes += fmt::format(" {}:{}", replays[r].header.reviewer, sc::mark_name(replays[r].state.marks()[static_cast<std::size_t>(p)]));
      }
      fmt::print("  pair {} ({}, {}){}\n", p, set.rows[static_cast<std::size_t>(p)].first, set.rows[static_cast<std::size_t>(p)].second, votes);
    }
  }
  if (!disagreements_path.empty()) {
    std::string d = "pair,first,second";
    for (const auto& r : replays) d += "," + r.header.reviewer;
    d += "\n";
    for (const auto p : disagreements) {
      d += fmt::format("{},{},{}", p, set.rows[static_cast<std::size_t>(p)].first, set.rows[static_cast<std::size_t>(p)].second);
      for (const auto& r : replays) d += "," + std::string(sc::mark_name(r.state.marks()[static_cast<std::size_t>(p)]));
      d += "\n";
    }
    ex::write_output(program, disagreements_path, [&](const std::string& path) { ss::detail::write_whole_file(path, d, "curate export: --disagreements"); });
  }
  const bool labels = set.has_labels();
  const double precision = labels && !accepted.empty() ? static_cast<double>(same) / static_cast<double>(accepted.size()) : NAN;
  const double precision_all = labels && n > 0 ? static_cast<double>(same_all) / static_cast<double>(n) : NAN;
  if (labels) {
    fmt::print("precision against the labels: {} of the accepted pairs (the candidates: {:.4f})\n",
               std::isfinite(precision) ? fmt::format("{:.4f}", precision) : "-", precision_all);
    fmt::print("accepted pairs per class:");
    for (const auto& [name, count] : per_class) fmt::print(" {}:{}", name, count);
    fmt::print("\n");
  }
  const double skew = set.meta.contains("k_occurrence_skewness") && set.meta["k_occurrence_skewness"].is_number()
                          ? set.meta["k_occurrence_skewness"].get<double>() : NAN;
  const auto never = set.meta.value("never_chosen", std::int64_t{-1});
  if (never >= 0) {
    fmt::print("hubness of the candidates' neighbour lists: k-occurrence skewness {:.3f}; {} of {} images in no list\n", skew,
               never, images);
  }
  if (!json_path.empty()) {
    Json per = Json::object();
    for (const auto& [name, count] : per_class) per[name] = count;
    Json reviewer_list = Json::array();
    for (const auto& r : replays) {
      const auto c = r.state.counts();
      reviewer_list.push_back(Json{{"reviewer", r.header.reviewer}, {"journal", r.path}, {"accept", c.accept},
                                   {"reject", c.reject}, {"skip", c.skip}, {"undecided", c.undecided}});
    }
    const Json json{{"candidates", candidates_path},
                    {"candidate_pairs", n},
                    {"out", out},
                    {"agree", unreviewed ? Json(nullptr) : Json(agree)},
                    {"reviewers", reviewer_list},
                    {"accepted", accepted.size()},
                    {"images_covered", covered.size()},
                    {"images", images},
                    {"precision", ss::report::number(precision)},
                    {"candidate_precision", ss::report::number(precision_all)},
                    {"per_class", labels ? per : Json(nullptr)},
                    {"kappa", kappa_json},
                    {"disagreements", disagreements.size()},
                    {"undecided_by_some", undecided_somewhere},
                    {"k_occurrence_skewness", ss::report::number(skew)},
                    {"never_chosen", never}};
    ex::write_output(program, json_path, [&](const std::string& path) { ss::report::write_json(json, path); });
  }
  return EXIT_SUCCESS;
}

/// One run file of train --json: its seeds and per-seed accuracies.
struct Runs {
  std::string name, path;
  std::vector<std::int64_t> seeds;
  std::map<std::string, std::vector<double>> values;
};

Runs read_runs(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("curate compare: '{}' cannot be read", path));
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw std::invalid_argument(fmt::format("curate compare: '{}' is not JSON: {}", path, e.what()));
  }
  if (!j.is_object() || !j.contains("seeds") || !j.contains("knn_top1_runs")) {
    throw std::invalid_argument(fmt::format("curate compare: '{}' is not a JSON of train --json (no seeds and "
                                            "knn_top1_runs)", path));
  }
  Runs r{name, path, j["seeds"].get<std::vector<std::int64_t>>(), {}};
  for (const char* key : {"knn_top1", "shifted_knn_top1", "linear_top1"}) {
    const auto& runs = j[std::string(key) + "_runs"];
    if (runs.is_array() && !runs.empty() && std::all_of(runs.begin(), runs.end(), [](const auto& v) { return v.is_number(); })) {
      r.values[key] = runs.get<std::vector<double>>();
    }
  }
  return r;
}

int compare(const std::vector<std::string>& files, std::vector<std::string> names, const std::string& json_path) {
  constexpr std::string_view program = "curate compare";
  ex::check_output(program, "--json", json_path);
  if (files.size() < 2) throw std::invalid_argument("curate compare: give the baseline's JSON and at least one other");
  if (!names.empty() && names.size() != files.size()) {
    throw std::invalid_argument(fmt::format("curate compare: {} --names for {} files", names.size(), files.size()));
  }
  std::vector<Runs> runs;
  for (std::size_t i = 0; i < files.size(); ++i) {
    runs.push_back(read_runs(files[i], names.empty() ? std::filesystem::path(files[i]).stem().string() : names[i]));
    if (runs.back().seeds != runs.front().seeds) {
      throw std::invalid_argument(fmt::format("curate compare: '{}' ran other seeds than '{}'; paired differences need the "
                                              "same seeds (train --seed S --seeds N for both)", files[i], files[0]));
    }
  }
  const auto& seeds = runs.front().seeds;
  const std::vector<std::string> keys{"knn_top1", "shifted_knn_top1", "linear_top1"};
  fmt::print("{} seeds: mean ± half-width of the 95 % interval\n{:<24}{:>20}{:>20}{:>20}\n", seeds.size(), "run", "kNN top-1",
             "shifted kNN", "linear top-1");
  Json out = Json::array();
  for (const auto& r : runs) {
    fmt::print("{:<24}", r.name.substr(0, 23));
    Json entry{{"name", r.name}, {"file", r.path}, {"seeds", seeds}};
    for (const auto& key : keys) {
      const auto it = r.values.find(key);
      if (it == r.values.end()) {
        fmt::print("{:>20}", "-");
        continue;
      }
      const auto s = ss::stats::summarize(it->second);
      fmt::print("{:>20}", s.ci95 ? fmt::format("{:.4f} ± {:.4f}", s.mean, *s.ci95) : fmt::format("{:.4f}", s.mean));
      entry[key] = Json{{"mean", s.mean}, {"ci95", s.ci95 ? Json(*s.ci95) : Json(nullptr)}};
    }
    fmt::print("\n");
    out.push_back(entry);
  }
  fmt::print("\nPaired differences from {} (the same seed's runs), mean ± 95 % half-width:\n", runs.front().name);
  for (std::size_t i = 1; i < runs.size(); ++i) {
    fmt::print("{:<24}", runs[i].name.substr(0, 23));
    std::vector<std::string> includes_zero;
    Json vs = Json::object();
    for (const auto& key : keys) {
      const auto a = runs[i].values.find(key), b = runs.front().values.find(key);
      if (a == runs[i].values.end() || b == runs.front().values.end()) {
        fmt::print("{:>20}", "-");
        continue;
      }
      const auto d = ss::stats::paired_difference(a->second, b->second);
      fmt::print("{:>20}", d.ci95 ? fmt::format("{:+.4f} ± {:.4f}", d.mean, *d.ci95) : fmt::format("{:+.4f}", d.mean));
      if (!d.interval_excludes_zero()) includes_zero.push_back(key);
      vs[key] = Json{{"mean", d.mean}, {"ci95", d.ci95 ? Json(*d.ci95) : Json(nullptr)}};
    }
    std::string zero;
    for (const auto& k : includes_zero) zero += (zero.empty() ? "" : ", ") + k;
    fmt::print("  interval includes 0: {}\n", zero.empty() ? "none" : zero);
    out[i]["vs_" + runs.front().name] = vs;
  }
  if (!json_path.empty()) {
    ex::write_output(program, json_path, [&](const std::string& path) { ss::report::write_json(out, path); });
  }
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"Semantic pairs made by hand: mine candidate pairs with a backbone, review them in a browser, export the "
               "accepted ones as the pair table train --pairs reads, and compare the runs trained on them.", "curate"};
  ex::name_errors(app);
  app.require_subcommand(1);

  ex::Common mine_common;
  sc::CandidateOptions mine_options;
  std::string mine_out;
  auto* mine_cmd = app.add_subcommand("mine", "candidate pairs: each training image's k nearest neighbours under a backbone");
  ex::name_errors(*mine_cmd);
  ex::add_common(*mine_cmd, mine_common);
  mine_cmd->add_option("--out", mine_out, "the candidates file (CSV) to write")->required();
  mine_cmd->add_option("--k", mine_options.k, "neighbours per image")->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000}));
  mine_cmd->add_flag("--mutual", mine_options.mutual, "keep a pair only when each image is among the other's k nearest");
  mine_cmd->add_option("--threshold", mine_options.threshold, "keep pairs with cosine similarity at least this")
      ->capture_default_str()->check(CLI::Range(-1.0, 1.0));
  mine_cmd->add_option("--max-per-image", mine_options.max_per_image,
                       "at most this many pairs hold any one image, the most similar kept (0: no cap)")
      ->capture_default_str()->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}));
  mine_cmd->add_option("--max-per-hub", mine_options.max_per_hub,
                       "at most this many anchors pair with one neighbour, the most similar kept (0: no cap)")
      ->capture_default_str()->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}));
  mine_cmd->add_option("--block", mine_options.block, "images compared with the whole set at once (memory: block x N floats)")
      ->capture_default_str()->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));

  ex::DataOptions review_data;
  std::string review_candidates, review_journal, reviewer, host = "127.0.0.1";
  int port = 0;
  bool hide_labels = false;
  auto* review_cmd = app.add_subcommand("review", "serve the review page on this machine (a URL with a token is printed)");
  ex::name_errors(*review_cmd);
  review_cmd->add_option("--candidates", review_candidates, "the candidates file curate mine wrote")->required()
      ->check(CLI::ExistingFile);
  review_cmd->add_option("--journal", review_journal, "this reviewer's journal (JSON lines): created, or continued where "
                                                      "it stopped")->required();
  ex::add_data_options(*review_cmd, review_data);
  review_cmd->add_option("--reviewer", reviewer, "the reviewer's name (default: the journal's, or its file name)");
  review_cmd->add_option("--host", host, "the address to serve on; anything but the loopback opens the page to the network")
      ->capture_default_str();
  review_cmd->add_option("--port", port, "the port (0: any free one)")->capture_default_str()->check(CLI::Range(0, 65535));
  review_cmd->add_flag("--hide-labels", hide_labels, "do not show the class labels (so that they do not bias the reviewer)");

  std::string export_candidates, agree = "all", export_out, disagreements, export_json;
  std::vector<std::string> journals;
  bool unreviewed = false;
  auto* export_cmd = app.add_subcommand("export", "the accepted pairs as a pair table for --pairs, with agreement and "
                                                  "coverage");
  ex::name_errors(*export_cmd);
  export_cmd->add_option("--candidates", export_candidates, "the candidates file the journals review")->required()
      ->check(CLI::ExistingFile);
  export_cmd->add_option("--journal", journals, "a reviewer's journal; once per reviewer")->check(CLI::ExistingFile);
  export_cmd->add_option("--agree", agree, "with several reviewers, a pair is accepted when all, any or a majority "
                                           "(more than half) of them accepted it")
      ->capture_default_str()->check(CLI::IsMember({"all", "any", "majority"}));
  export_cmd->add_flag("--unreviewed", unreviewed, "export every candidate, reviewed or not (the uncurated baseline)");
  export_cmd->add_option("--out", export_out, "the pair table (CSV) to write")->required();
  export_cmd->add_option("--disagreements", disagreements, "write the pairs the reviewers disagree on (CSV)");
  export_cmd->add_option("--json", export_json, "write the report to this JSON file");

  std::vector<std::string> compare_files, compare_names;
  std::string compare_json;
  auto* compare_cmd = app.add_subcommand("compare", "paired differences between runs of train --seeds N --json (the "
                                                    "first is the baseline)");
  ex::name_errors(*compare_cmd);
  compare_cmd->add_option("files", compare_files, "the JSON files of train --json, the baseline first")->required()
      ->check(CLI::ExistingFile);
  compare_cmd->add_option("--names", compare_names, "a name for each file (default: the file names)")->delimiter(',');
  compare_cmd->add_option("--json", compare_json, "write the comparison to this JSON file");

  if (auto exit = ex::parse(app, argc, argv)) return *exit;
  if (mine_cmd->parsed()) {
    selfsup::runtime::tune_cpu_training();
    return mine(mine_common, mine_options, mine_out);
  }
  if (review_cmd->parsed()) return review(review_data, review_candidates, review_journal, reviewer, host, port, hide_labels);
  if (export_cmd->parsed()) {
    return export_table(export_candidates, journals, agree, unreviewed, export_out, disagreements, export_json);
  }
  return compare(compare_files, compare_names, compare_json);
} catch (...) {
  return selfsup::examples::print_error();
}
