#pragma once
/// \file
/// A review journal's state: each candidate pair's mark (accept, reject, skip or none) and the
/// decisions undo can still revert, built by applying the journal's lines in order (the format:
/// curate/journal.hpp, which reads and appends the file). Free of LibTorch and of files.

#include <selfsup/curate/agreement.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace selfsup::curate {

/// A pair's state in a journal: what `skip` adds to Decision.
enum class Mark : std::uint8_t { none, accept, reject, skip };

inline std::string_view mark_name(Mark m) {
  switch (m) {
    case Mark::accept: return "accept";
    case Mark::reject: return "reject";
    case Mark::skip: return "skip";
    case Mark::none: break;
  }
  return "";
}

inline std::optional<Mark> parse_mark(std::string_view s) {
  if (s == "accept") return Mark::accept;
  if (s == "reject") return Mark::reject;
  if (s == "skip") return Mark::skip;
  return std::nullopt;
}

/// What agreement and export count: a skipped pair is undecided.
inline Decision decision_of(Mark m) {
  return m == Mark::accept ? Decision::accept : m == Mark::reject ? Decision::reject : Decision::undecided;
}

/// Pairs per state.
struct MarkCounts {
  std::int64_t accept = 0, reject = 0, skip = 0, undecided = 0;
};

/// A journal's state from its lines: each pair's mark, the decisions that undo can still revert,
/// the next sequence number. Journal (curate/journal.hpp) keeps one up to date as it appends.
class JournalState {
 public:
  JournalState() = default;
  explicit JournalState(std::int64_t pairs) : marks_(static_cast<std::size_t>(pairs), Mark::none) {}

  const std::vector<Mark>& marks() const { return marks_; }
  std::int64_t next_seq() const { return next_seq_; }
  /// The pair the reviewer worked on last (the last decision's, or an undo's first pair).
  std::optional<std::int64_t> last_pair() const { return last_pair_; }
  bool last_was_undo() const { return last_was_undo_; }
  bool can_undo() const { return !live_.empty(); }

  MarkCounts counts() const {
    MarkCounts c;
    for (const auto m : marks_) {
      if (m == Mark::accept) ++c.accept;
      else if (m == Mark::reject) ++c.reject;
      else if (m == Mark::skip) ++c.skip;
      else ++c.undecided;
    }
    return c;
  }

  /// Applies one line (already parsed); throws std::invalid_argument with the reason when the
  /// line does not follow from the state (a wrong seq, an unknown pair, an undo of the wrong
  /// decision).
  void apply(const nlohmann::ordered_json& line) {
    const auto seq = line.at("seq").get<std::int64_t>();
    if (seq != next_seq_) throw std::invalid_argument("expected seq " + std::to_string(next_seq_) + ", got " + std::to_string(seq));
    const auto decision = line.at("decision").get<std::string>();
    if (decision == "undo") {
      if (live_.empty()) throw std::invalid_argument("an undo with no decision left to undo");
      const auto& target = live_.back();
      const bool bulk = line.contains("undoes_bulk");
      const auto expected = bulk ? line.at("undoes_bulk").get<std::int64_t>() : line.at("undoes").get<std::int64_t>();
      if ((bulk ? target.bulk : target.seq) != expected || (bulk && target.bulk < 0)) {
        throw std::invalid_argument("the undo names " + std::string(bulk ? "bulk " : "seq ") + std::to_string(expected) +
                                    ", but the latest decision not yet undone is " +
                                    (target.bulk >= 0 ? "bulk " + std::to_string(target.bulk) : "seq " + std::to_string(target.seq)));
      }
      for (auto it = target.changes.rbegin(); it != target.changes.rend(); ++it) marks_[it->first] = it->second;
      last_pair_ = target.changes.empty() ? std::nullopt : std::optional<std::int64_t>(target.changes.front().first);
      last_was_undo_ = true;
      live_.pop_back();
    } else {
      const auto mark = parse_mark(decision);
      if (!mark) throw std::invalid_argument("decision: expected accept, reject, skip or undo, got '" + decision + "'");
      const auto pair = line.at("pair").get<std::int64_t>();
      if (pair < 0 || pair >= static_cast<std::int64_t>(marks_.size())) {
        throw std::invalid_argument("pair " + std::to_string(pair) + " is not one of the " + std::to_string(marks_.size()) +
                                    " candidates");
      }
      const std::int64_t bulk = line.contains("bulk") ? line.at("bulk").get<std::int64_t>() : -1;
      if (bulk >= 0 && !live_.empty() && live_.back().bulk == bulk) {
        live_.back().changes.emplace_back(pair, marks_[pair]);
      } else {
        live_.push_back(Action{seq, bulk, {{pair, marks_[pair]}}});
      }
      marks_[pair] = *mark;
      last_pair_ = pair;
      last_was_undo_ = false;
    }
    ++next_seq_;
  }

  /// The latest decision not yet undone: its seq, its bulk id (-1 for a single decision) and its
  /// pairs; nullopt when there is none.
  struct Undoable {
    std::int64_t seq, bulk;
    std::vector<std::int64_t> pairs;
  };
  std::optional<Undoable> undoable() const {
    if (live_.empty()) return std::nullopt;
    Undoable u{live_.back().seq, live_.back().bulk, {}};
    for (const auto& [pair, previous] : live_.back().changes) u.pairs.push_back(pair);
    return u;
  }

 private:
  struct Action {
    std::int64_t seq, bulk;
    std::vector<std::pair<std::int64_t, Mark>> changes;  ///< each pair and its mark before
  };
  std::vector<Mark> marks_;
  std::vector<Action> live_;
  std::int64_t next_seq_ = 1;
  std::optional<std::int64_t> last_pair_;
  bool last_was_undo_ = false;
};

}  // namespace selfsup::curate
