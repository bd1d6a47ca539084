// curate's candidates and journals: mining against a brute-force neighbour search written here,
// the caps, the candidates file's round trip and refusals, and the journal: decisions, undo
// (single and bulk) replayed after a restart, a write cut short by a crash, a full disk (a file
// size limit) that keeps nothing and changes nothing, other candidates or another reviewer
// refused, one writer at a time.
#include <selfsup/curate/candidates.hpp>
#include <selfsup/curate/candidates_file.hpp>
#include <selfsup/curate/journal.hpp>

#include <boost/test/unit_test.hpp>
#include <torch/torch.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace fs = std::filesystem;
namespace sc = selfsup::curate;

namespace selfsup::curate {
// How Boost.Test prints a mark in a failed comparison.
inline std::ostream& operator<<(std::ostream& out, Mark m) { return out << (m == Mark::none ? "none" : mark_name(m)); }
}  // namespace selfsup::curate

namespace {

struct ReviewFolder {
  fs::path path;
  ReviewFolder() {
    static int count = 0;
    path = fs::temp_directory_path() / ("selfsup_curate_" + std::to_string(::getpid()) + "_" + std::to_string(count++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ReviewFolder() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::string file_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

template <class F>
void refused_saying(F&& f, const std::string& expected) {
  try {
    f();
  } catch (const std::exception& e) {
    const std::string what = e.what();
    BOOST_TEST_INFO("message: " << what);
    BOOST_TEST(what.find(expected) != std::string::npos);
    return;
  }
  BOOST_FAIL("expected an error containing: " + expected);
}

/// The k nearest neighbours of every row by cosine, with plain loops in double precision: the
/// reference the mining is checked against.
std::vector<std::vector<std::int64_t>> brute_force_lists(const std::vector<std::vector<double>>& x, std::int64_t k) {
  const auto n = static_cast<std::int64_t>(x.size());
  auto cosine = [&](std::int64_t a, std::int64_t b) {
    double dot = 0, na = 0, nb = 0;
    for (std::size_t d = 0; d < x[0].size(); ++d) {
      dot += x[a][d] * x[b][d];
      na += x[a][d] * x[a][d];
      nb += x[b][d] * x[b][d];
    }
    return dot / std::sqrt(na * nb);
  };
  std::vector<std::vector<std::int64_t>> lists(static_cast<std::size_t>(n));
  for (std::int64_t a = 0; a < n; ++a) {
    std::vector<std::pair<double, std::int64_t>> others;
    for (std::int64_t b = 0; b < n; ++b) {
      if (b != a) others.emplace_back(-cosine(a, b), b);
    }
    std::sort(others.begin(), others.end());
    for (std::int64_t r = 0; r < k; ++r) lists[a].push_back(others[r].second);
  }
  return lists;
}

sc::CandidateSet small_set() {
  sc::CandidateSet set;
  set.meta = {{"images", 5}, {"k", 2}};
  set.rows = {{"0", "1", 0.9, 1, 1, 0.5, 2, 2, "cat", "cat"},
              {"0", "2", 0.8, 2, 0, 1.0, 2, 1, "cat", "dog"},
              {"3", "4", 0.7, 1, 2, 1.5, 1, 3, "dog", "dog"}};
  return set;
}

sc::JournalHeader header_of(const sc::CandidateSet& set, const std::string& reviewer = "alice") {
  return {"c.csv", sc::crc_hex(set.crc32c), set.size(), reviewer, {}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(curate_tests)

BOOST_AUTO_TEST_CASE(candidates_are_the_nearest_neighbours_of_a_brute_force_search) {
  // 40 points in 6 dimensions, seeded; each one's 4 nearest by cosine.
  torch::manual_seed(3);
  const auto features = torch::randn({40, 6}, torch::kFloat64);
  std::vector<std::vector<double>> x(40, std::vector<double>(6));
  for (int i = 0; i < 40; ++i) {
    for (int d = 0; d < 6; ++d) x[i][d] = features[i][d].item<double>();
  }
  const auto lists = brute_force_lists(x, 4);
  const auto mined = sc::mine_candidates(features, {.k = 4, .block = 7});
  // Every directed edge a -> b appears as exactly one unordered candidate, with b's rank in a's
  // list, and a's rank in b's list (0 when absent).
  std::map<std::pair<std::int64_t, std::int64_t>, std::pair<std::int64_t, std::int64_t>> expected;  // {a,b} -> ranks
  for (std::int64_t a = 0; a < 40; ++a) {
    for (std::int64_t r = 0; r < 4; ++r) {
      const auto b = lists[a][r];
      const auto back = std::find(lists[b].begin(), lists[b].end(), a);
      const std::int64_t back_rank = back == lists[b].end() ? 0 : (back - lists[b].begin()) + 1;
      if (back_rank != 0 && b < a) continue;  // a mutual pair, listed from its smaller index
      expected[{a, b}] = {r + 1, back_rank};
    }
  }
  BOOST_TEST(mined.size() == static_cast<std::int64_t>(expected.size()));
  for (std::int64_t p = 0; p < mined.size(); ++p) {
    const auto it = expected.find({mined.first[p], mined.second[p]});
    BOOST_TEST_INFO("pair " << mined.first[p] << ", " << mined.second[p]);
    BOOST_REQUIRE(it != expected.end());
    BOOST_TEST(mined.rank[p] == it->second.first);
    BOOST_TEST(mined.partner_rank[p] == it->second.second);
  }
  // k-occurrence: how often each image is listed.
  std::vector<std::int64_t> occurrence(40, 0);
  for (const auto& l : lists) {
    for (const auto b : l) ++occurrence[b];
  }
  BOOST_TEST(mined.k_occurrence == occurrence, boost::test_tools::per_element());
  BOOST_TEST(mined.hubness.never_chosen == std::count(occurrence.begin(), occurrence.end(), 0));
  // Relative distance: (1 - cosine) over the median nearest-neighbour distance.
  for (std::int64_t p = 0; p < mined.size(); ++p) {
    BOOST_TEST(mined.relative_distance[p] * mined.median_nn_distance == 1.0 - mined.cosine[p],
               boost::test_tools::tolerance(1e-9));
  }
  // Mutual only: the pairs whose partner rank is not 0.
  const auto mutual = sc::mine_candidates(features, {.k = 4, .mutual = true});
  std::int64_t mutual_expected = 0;
  for (const auto& [pair, ranks] : expected) mutual_expected += ranks.second != 0;
  BOOST_TEST(mutual.size() == mutual_expected);
  BOOST_TEST(std::all_of(mutual.partner_rank.begin(), mutual.partner_rank.end(), [](auto r) { return r > 0; }));
}

BOOST_AUTO_TEST_CASE(caps_keep_the_most_similar_pairs_per_image_and_per_hub) {
  // Four points on a circle at 0, 10, 25 and 90 degrees: with k = 3 all six pairs are candidates.
  auto at = [](double deg) { return std::vector<double>{std::cos(deg * M_PI / 180), std::sin(deg * M_PI / 180)}; };
  std::vector<double> flat;
  for (const double deg : {0.0, 10.0, 25.0, 90.0}) {
    for (const double v : at(deg)) flat.push_back(v);
  }
  const auto features = torch::tensor(flat, torch::kFloat64).view({4, 2});
  const auto all = sc::mine_candidates(features, {.k = 3});
  BOOST_TEST(all.size() == 6);
  // One pair per image, greedily by similarity. By angle: (0,1) 10°, (1,2) 15°, (0,2) 25°,
  // (2,3) 65°, (1,3) 80°, (0,3) 90°. (0,1) kept; (1,2) and (0,2) hold an image already paired;
  // (2,3) kept; the rest hold paired images.
  const auto capped = sc::mine_candidates(features, {.k = 3, .max_per_image = 1});
  std::set<std::pair<std::int64_t, std::int64_t>> got;
  for (std::int64_t p = 0; p < capped.size(); ++p) {
    got.insert({std::min(capped.first[p], capped.second[p]), std::max(capped.first[p], capped.second[p])});
  }
  BOOST_TEST((got == std::set<std::pair<std::int64_t, std::int64_t>>{{0, 1}, {2, 3}}));
  BOOST_TEST(capped.before_caps == 6);
  // Per hub: at most one anchor pairs with each neighbour (the `second` image).
  const auto hub = sc::mine_candidates(features, {.k = 3, .max_per_hub = 1});
  std::map<std::int64_t, int> as_second;
  for (std::int64_t p = 0; p < hub.size(); ++p) ++as_second[hub.second[p]];
  for (const auto& [image, count] : as_second) BOOST_TEST(count == 1);
  BOOST_TEST(hub.size() < 6);
}

BOOST_AUTO_TEST_CASE(mining_refuses_what_has_no_neighbours) {
  refused_saying([] { sc::mine_candidates(torch::ones({5, 3})); }, "point the same way");
  refused_saying([] { sc::mine_candidates(torch::randn({1, 3})); }, "at least 2 images");
  auto bad = torch::randn({4, 3});
  bad[1][1] = NAN;
  refused_saying([&] { sc::mine_candidates(bad); }, "NaN or infinite");
  refused_saying([] { sc::mine_candidates(torch::randn({4, 3}), {.max_per_image = -1}); }, "caps must be >= 0");
}

BOOST_AUTO_TEST_CASE(candidates_file_round_trip_and_refusals) {
  ReviewFolder dir;
  auto set = small_set();
  const auto path = dir.path / "c.csv";
  sc::write_candidates(set, path);
  const auto text = file_text(path);
  BOOST_TEST(set.crc32c == selfsup::detail::crc32c(text));
  const auto back = sc::read_candidates(path);
  BOOST_TEST(back.crc32c == set.crc32c);
  BOOST_TEST(back.meta == set.meta);
  BOOST_REQUIRE(back.size() == 3);
  BOOST_TEST(back.rows[1].second == "2");
  BOOST_TEST(back.rows[1].cosine == 0.8);
  BOOST_TEST(back.rows[1].partner_rank == 0);
  BOOST_TEST(back.rows[2].label_second == "dog");
  BOOST_TEST(back.rows[0].same_label());
  BOOST_TEST(!back.rows[1].same_label());

  auto with = [&](const std::string& from, const std::string& to) {
    auto changed = text;
    const auto at = changed.find(from);
    BOOST_REQUIRE(at != std::string::npos);
    changed.replace(at, from.size(), to);
    return changed;
  };
  refused_saying([&] { sc::parse_candidates("first,second\n1,2\n", "'t.csv'"); }, "'t.csv':1: not a candidates file");
  refused_saying([&] { sc::parse_candidates(with("pair,first", "pair,frist"), "'t.csv'"); }, "'t.csv':2: expected the header");
  refused_saying([&] { sc::parse_candidates(with("\n1,0,2,", "\n7,0,2,"), "'t.csv'"); }, "'t.csv':4: expected pair 1, got '7'");
  refused_saying([&] { sc::parse_candidates(with("0.800000", "high"), "'t.csv'"); }, "cosine: expected a number in [-1, 1], got 'high'");
  refused_saying([&] { sc::parse_candidates(with("0.800000", "1.5"), "'t.csv'"); }, "cosine: expected a number");
  refused_saying([&] { sc::parse_candidates(with(",cat,dog", ",,dog"), "'t.csv'"); }, "one image has a label and the other none");
  refused_saying([&] { sc::parse_candidates(with("0,1,0.9", "0,0,0.9"), "'t.csv'"); }, "names one image twice");
  refused_saying([&] { sc::parse_candidates(with(",cat,dog", ",cat,dog,x"), "'t.csv'"); }, "expected 11 fields, got 12");
  refused_saying([&] { sc::parse_candidates("", "'t.csv'"); }, "the file is empty");
  auto comma = small_set();
  comma.rows[0].first = "a,b.jpg";
  refused_saying([&] { sc::write_candidates(comma, dir.path / "x.csv"); }, "holds a comma");
  BOOST_TEST(!fs::exists(dir.path / "x.csv"));
}

BOOST_AUTO_TEST_CASE(journal_decisions_and_undo_survive_a_restart) {
  ReviewFolder dir;
  auto set = small_set();
  sc::write_candidates(set, dir.path / "c.csv");
  const auto path = dir.path / "alice.jsonl";
  {
    sc::Journal j(path, header_of(set));
    BOOST_TEST(j.header().reviewer == "alice");
    j.decide(0, sc::Mark::accept, "0", "1");
    j.decide(1, sc::Mark::reject, "0", "2");
    j.decide(1, sc::Mark::accept, "0", "2");  // changed its mind
    const auto undone = j.undo();             // back to reject
    BOOST_REQUIRE(undone.has_value());
    BOOST_TEST(*undone == std::vector<std::int64_t>{1});
    BOOST_TEST(j.state().marks()[1] == sc::Mark::reject);
    const std::vector<std::int64_t> both{1, 2};
    j.decide_all(both, sc::Mark::accept, [&](std::int64_t p) {
      return std::pair<std::string, std::string>(set.rows[p].first, set.rows[p].second);
    });
    BOOST_TEST(j.state().counts().accept == 3);
    j.undo();  // the bulk decision, whole: 1 back to reject, 2 back to none
    BOOST_TEST(j.state().marks()[1] == sc::Mark::reject);
    BOOST_TEST(j.state().marks()[2] == sc::Mark::none);
    j.decide(2, sc::Mark::skip, "3", "4");
  }
  // Every line is in the file; a restart replays them to the same state.
  const auto text = file_text(path);
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 1 + 4 + 2 + 1 + 1);  // header, 3 decisions and an undo, a bulk of 2, its undo, a skip
  BOOST_TEST(text.find("\"decision\":\"undo\",\"undoes_bulk\":5") != std::string::npos);
  sc::Journal again(path, header_of(set, ""));
  BOOST_TEST(again.header().reviewer == "alice");
  const auto& m = again.state().marks();
  BOOST_TEST((m == std::vector<sc::Mark>{sc::Mark::accept, sc::Mark::reject, sc::Mark::skip}));
  BOOST_TEST(again.state().last_pair().value() == 2);
  // Undo keeps unwinding in reverse order after the restart: the skip, then the reject of pair 1
  // (made before the undone accept), then the accept of pair 0.
  again.undo();
  BOOST_TEST(again.state().marks()[2] == sc::Mark::none);
  again.undo();
  BOOST_TEST(again.state().marks()[1] == sc::Mark::none);
  again.undo();
  BOOST_TEST(again.state().marks()[0] == sc::Mark::none);
  BOOST_TEST(!again.undo().has_value());
  refused_saying([&] { again.decide(3, sc::Mark::accept, "x", "y"); }, "pair 3 is not one of the 3 candidates");
}

BOOST_AUTO_TEST_CASE(journal_drops_a_line_cut_short_and_refuses_a_damaged_one) {
  ReviewFolder dir;
  auto set = small_set();
  sc::write_candidates(set, dir.path / "c.csv");
  const auto path = dir.path / "j.jsonl";
  {
    sc::Journal j(path, header_of(set));
    j.decide(0, sc::Mark::accept, "0", "1");
  }
  const auto good = file_text(path);
  write_text(path, good + "{\"seq\":2,\"pair\":1,\"first\":\"0\",\"sec");  // a crash mid-write
  std::vector<std::string> notes;
  {
    sc::Journal j(path, header_of(set), &notes);
    BOOST_REQUIRE(notes.size() == 1);
    BOOST_TEST(notes[0].find("line 3 has no line end") != std::string::npos);
    BOOST_TEST(j.state().counts().accept == 1);
    BOOST_TEST(file_text(path) == good);  // cut back, so that the next line starts clean
    j.decide(1, sc::Mark::reject, "0", "2");
  }
  BOOST_TEST(sc::read_journal(path).state.counts().reject == 1);
  // A damaged line in the middle, a wrong seq, an undo of nothing: errors naming the line.
  auto lines = file_text(path);
  write_text(path, lines.substr(0, lines.find("\n{\"seq\":2")) + "\nnot json\n");
  refused_saying([&] { sc::read_journal(path); }, "j.jsonl':3:");
  write_text(path, good + "{\"seq\":5,\"pair\":1,\"decision\":\"accept\"}\n");
  refused_saying([&] { sc::read_journal(path); }, "j.jsonl':3: expected seq 2, got 5");
  write_text(path, good + "{\"seq\":2,\"decision\":\"undo\",\"undoes\":1}\n{\"seq\":3,\"decision\":\"undo\",\"undoes\":1}\n");
  refused_saying([&] { sc::read_journal(path); }, "j.jsonl':4: an undo with no decision left to undo");
  write_text(path, good + "{\"seq\":2,\"pair\":9,\"decision\":\"accept\"}\n");
  refused_saying([&] { sc::read_journal(path); }, "pair 9 is not one of the 3 candidates");
}

BOOST_AUTO_TEST_CASE(journal_of_other_candidates_or_reviewer_is_refused_and_locked) {
  ReviewFolder dir;
  auto set = small_set();
  sc::write_candidates(set, dir.path / "c.csv");
  auto other = small_set();
  other.rows[2].cosine = 0.71;
  sc::write_candidates(other, dir.path / "other.csv");
  const auto path = dir.path / "j.jsonl";
  {
    sc::Journal j(path, header_of(set));
    j.decide(0, sc::Mark::accept, "0", "1");
    // One writer at a time: a second opening while this one holds it is refused.
    refused_saying([&] { sc::Journal second(path, header_of(set)); }, "is open in another curate review");
  }
  refused_saying([&] { sc::Journal j(path, header_of(other)); }, "was written against other candidates");
  refused_saying([&] { sc::Journal j(path, header_of(set, "bob")); }, "is the journal of reviewer 'alice', not of 'bob'");
  const auto r = sc::read_journal(path);
  refused_saying([&] { sc::check_journal_matches(r, "other.csv", other.crc32c, other.size()); },
                 "was written against other candidates");
  sc::check_journal_matches(r, "c.csv", set.crc32c, set.size());  // the right ones pass
}

BOOST_AUTO_TEST_CASE(a_journal_that_cannot_be_written_keeps_nothing_and_changes_nothing) {
  ReviewFolder dir;
  auto set = small_set();
  sc::write_candidates(set, dir.path / "c.csv");
  const auto path = dir.path / "j.jsonl";
  sc::Journal j(path, header_of(set));
  j.decide(0, sc::Mark::accept, "0", "1");
  const auto before = file_text(path);
  // A file size limit a few bytes past the journal's end: the next line cannot be written whole
  // (as on a full disk). SIGXFSZ ignored, so that the write fails with EFBIG instead.
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = before.size() + 10;
  BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  try {
    j.decide(1, sc::Mark::reject, "0", "2");
  } catch (const sc::JournalWriteError& e) {
    threw = true;
    BOOST_TEST(std::string(e.what()).find("nothing of this decision was saved") != std::string::npos);
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  BOOST_TEST(threw);
  BOOST_TEST(file_text(path) == before);
  BOOST_TEST(j.state().marks()[1] == sc::Mark::none);
  j.decide(1, sc::Mark::reject, "0", "2");  // with room again, it goes on
  BOOST_TEST(sc::read_journal(path).state.marks()[1] == sc::Mark::reject);
}

BOOST_AUTO_TEST_SUITE_END()
