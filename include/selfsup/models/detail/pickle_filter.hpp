#pragma once
/// \file
/// Internal: makes the pickle of a state dict saved by Python's `torch.save(model.state_dict())`
/// readable by LibTorch's unpickler, which does not build `collections.OrderedDict` (it stands for
/// a tensor's empty backward hooks there and becomes None), nor apply the dict's `_metadata`
/// attribute (a BUILD), nor SETITEM. The filter rewrites the opcodes, not the values:
///   - `OrderedDict` called with no arguments becomes an empty dict (EMPTY_DICT);
///   - the top-level BUILD that attaches `_metadata` is removed with the state it applies;
///   - SETITEM becomes MARK key value SETITEMS.
/// Everything else passes through byte for byte, and LibTorch reads the result. Pickles of
/// protocol 4 or later (FRAME) are refused.

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::models::detail {

struct PickleOp {
  size_t begin = 0, end = 0;  ///< the opcode's bytes, argument included
  unsigned char code = 0;
  std::string_view text;      ///< GLOBAL: "module\nname"
  uint64_t memo = 0;          ///< PUT/GET variants: the memo index
  int64_t depth = 0;          ///< stack depth before the op (values above the innermost mark and below)
  size_t marks = 0;           ///< open marks before the op
};

/// The opcodes of `pickle`, with the stack depth before each; throws std::invalid_argument naming
/// `what` for an opcode it does not know or a malformed stream.
inline std::vector<PickleOp> parse_pickle(std::string_view p, const std::string& what) {
  auto fail = [&](const std::string& why, size_t at) {
    throw std::invalid_argument(what + ": cannot read its pickle: " + why + " at byte " + std::to_string(at));
  };
  auto need = [&](size_t at, size_t n) {
    if (at + n > p.size()) fail("it ends inside an opcode", at);
  };
  auto le = [&](size_t at, size_t n) {
    need(at, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[at + i])) << (8 * i);
    return v;
  };
  auto line_end = [&](size_t at) {
    const auto nl = p.find('\n', at);
    if (nl == std::string_view::npos) fail("a line argument has no end", at);
    return nl + 1;
  };
  std::vector<PickleOp> ops;
  std::vector<int64_t> mark_depths;
  int64_t depth = 0;
  size_t at = 0;
  bool stopped = false;
  while (at < p.size() && !stopped) {
    PickleOp op;
    op.begin = at;
    op.code = static_cast<unsigned char>(p[at]);
    op.depth = depth;
    op.marks = mark_depths.size();
    size_t q = at + 1;
    int64_t effect = 0;  // depth change, for ops that do not use marks
    bool to_mark = false;  // pops to the innermost mark
    int64_t after_mark = 0;  // with to_mark: values pushed after popping to the mark
    switch (op.code) {
      case '(': mark_depths.push_back(depth); break;  // MARK
      case '.': stopped = true; effect = -1; break;     // STOP
      case '0': effect = -1; break;                      // POP
      case '1': to_mark = true; break;                   // POP_MARK
      case '2': effect = 1; break;                       // DUP
      case 'N': case ')': case ']': case '}': case 0x88: case 0x89: effect = 1; break;
      case 'F': case 'I': case 'L': case 'S': case 'V': case 'P': q = line_end(q); effect = 1; break;
      case 'J': q += 4; need(at, 5); effect = 1; break;
      case 'K': q += 1; need(at, 2); effect = 1; break;
      case 'M': q += 2; need(at, 3); effect = 1; break;
      case 'G': q += 8; need(at, 9); effect = 1; break;
      case 'T': case 'X': case 'B': q += 4 + le(q, 4); need(at, q - at); effect = 1; break;
      case 'U': case 'C': case 0x8a: q += 1 + le(q, 1); need(at, q - at); effect = 1; break;
      case 0x8b: q += 4 + le(q, 4); need(at, q - at); effect = 1; break;
      case 'Q': break;                                   // BINPERSID: pid -> object
      case 'R': case 'b': case 0x81: effect = -1; break;  // REDUCE, BUILD, NEWOBJ
      case 'a': effect = -1; break;                      // APPEND
      case 's': effect = -2; break;                      // SETITEM
      case 'e': case 'u': to_mark = true; break;         // APPENDS, SETITEMS
      case 't': case 'l': case 'd': to_mark = true; after_mark = 1; break;  // TUPLE, LIST, DICT
      case 0x85: break;                                  // TUPLE1
      case 0x86: effect = -1; break;                     // TUPLE2
      case 0x87: effect = -2; break;                     // TUPLE3
      case 'c': {                                        // GLOBAL module\nname\n
        const size_t first = line_end(q);
        const size_t second = line_end(first);
        op.text = p.substr(q, second - 1 - q);
        q = second;
        effect = 1;
        break;
      }
      case 'g': case 'p': {                              // GET, PUT (decimal lines)
        const size_t e = line_end(q);
        op.memo = std::stoull(std::string(p.substr(q, e - 1 - q)));
        q = e;
        effect = op.code == 'g' ? 1 : 0;
        break;
      }
      case 'h': case 'q': op.memo = le(q, 1); q += 1; effect = op.code == 'h' ? 1 : 0; break;
      case 'j': case 'r': op.memo = le(q, 4); q += 4; effect = op.code == 'j' ? 1 : 0; break;
      case 0x80: q += 1; need(at, 2); if (static_cast<unsigned char>(p[at + 1]) > 3) fail("protocol above 3", at); break;
      default: fail("opcode 0x" + std::to_string(op.code) + " is not one a state dict uses", at);
    }
    if (to_mark) {
      if (mark_depths.empty()) fail("an opcode pops to a mark that is not there", at);
      depth = mark_depths.back() + after_mark;
      mark_depths.pop_back();
    } else {
      depth += effect;
    }
    if (depth < 0) fail("the stack underflows", at);
    op.end = q;
    ops.push_back(op);
    at = q;
  }
  if (!stopped) fail("no STOP", at);
  return ops;
}

/// A tensor storage a state dict's pickle refers to: torch.save's persistent id
/// ('storage', torch.<Type>Storage, key, location, numel).
struct StorageRef {
  std::string key;       ///< its record is data/<key>
  std::string type;      ///< e.g. FloatStorage
  int64_t numel = 0;
  int64_t item_size = 0;  ///< bytes per element; 0 for a type this reader does not know
};

/// The storages `p` refers to, so that their records can be checked against their sizes before
/// LibTorch's reader trusts them (it reads numel elements from a record of any length).
inline std::vector<StorageRef> storage_refs(std::string_view p, const std::string& what) {
  const auto ops = parse_pickle(p, what);
  struct Token {
    char kind = 'o';  // s: string, i: integer, g: global, t: tuple, o: anything else
    std::string text;
    int64_t number = 0;
    std::vector<Token> items;
  };
  auto le = [&](size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[at + i])) << (8 * i);
    return v;
  };
  std::vector<std::vector<Token>> frames(1);
  std::map<uint64_t, Token> memo;
  std::vector<StorageRef> out;
  auto push = [&](Token t) { frames.back().push_back(std::move(t)); };
  auto pop_frame = [&] {
    std::vector<Token> items = std::move(frames.back());
    if (frames.size() > 1) frames.pop_back(); else frames.back().clear();
    return items;
  };
  for (const auto& op : ops) {
    const size_t a = op.begin + 1;
    switch (op.code) {
      case '(': frames.emplace_back(); break;
      case 'X': case 'T': push({'s', std::string(p.substr(a + 4, le(a, 4)))}); break;
      case 'U': push({'s', std::string(p.substr(a + 1, le(a, 1)))}); break;
      case 'K': push({'i', {}, static_cast<int64_t>(le(a, 1))}); break;
      case 'M': push({'i', {}, static_cast<int64_t>(le(a, 2))}); break;
      case 'J': push({'i', {}, static_cast<int64_t>(static_cast<int32_t>(le(a, 4)))}); break;
      case 0x8a: {  // LONG1: n bytes, little-endian two's complement
        const size_t n = le(a, 1);
        push({'i', {}, n == 0 ? 0 : n > 8 ? -1 : static_cast<int64_t>(le(a + 1, n))});
        break;
      }
      case 'c': push({'g', std::string(op.text)}); break;
      case 'p': case 'q': case 'r':
        if (!frames.back().empty()) memo[op.memo] = frames.back().back();
        break;
      case 'g': case 'h': case 'j': push(memo.count(op.memo) ? memo[op.memo] : Token{}); break;
      case 't': push({'t', {}, 0, pop_frame()}); break;
      case '1': case 'e': case 'u': pop_frame(); break;
      case 'l': case 'd': pop_frame(); push({}); break;
      case 'Q': {  // BINPERSID
        Token id;
        if (!frames.back().empty()) {
          id = std::move(frames.back().back());
          frames.back().pop_back();
        }
        if (id.kind == 't' && id.items.size() == 5 && id.items[0].kind == 's' && id.items[0].text == "storage" &&
            id.items[2].kind == 's' && id.items[4].kind == 'i') {
          StorageRef ref{id.items[2].text, {}, id.items[4].number, 0};
          if (id.items[1].kind == 'g' && id.items[1].text.rfind("torch\n", 0) == 0) ref.type = id.items[1].text.substr(6);
          static const std::map<std::string, int64_t> sizes = {
              {"FloatStorage", 4}, {"DoubleStorage", 8}, {"HalfStorage", 2}, {"BFloat16Storage", 2},
              {"LongStorage", 8},  {"IntStorage", 4},    {"ShortStorage", 2}, {"CharStorage", 1},
              {"ByteStorage", 1},  {"BoolStorage", 1},   {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16}};
          if (const auto it = sizes.find(ref.type); it != sizes.end()) ref.item_size = it->second;
          out.push_back(std::move(ref));
        }
        push({});
        break;
      }
      default:
        break;  // ops that only consume or rebuild: the storages' ids are complete before them
    }
  }
  return out;
}

/// `pickle` rewritten as the file comment says; unchanged when it holds no OrderedDict and no
/// SETITEM.
inline std::string filter_state_dict_pickle(std::string_view p, const std::string& what) {
  const auto ops = parse_pickle(p, what);
  const size_t n = ops.size();
  std::vector<bool> drop(n, false), mark_before(n, false);
  std::vector<char> replacement(n, 0);  // a one-byte opcode that replaces the op, or 0
  auto is_put = [](unsigned char c) { return c == 'q' || c == 'r' || c == 'p'; };
  auto is_get = [](unsigned char c) { return c == 'h' || c == 'j' || c == 'g'; };
  std::vector<uint64_t> ordered_dict_memo;
  auto refers_to_ordered_dict = [&](size_t i) {
    if (ops[i].code == 'c') return ops[i].text == "collections\nOrderedDict";
    if (!is_get(ops[i].code)) return false;
    for (auto m : ordered_dict_memo) {
      if (m == ops[i].memo) return true;
    }
    return false;
  };
  bool any_ordered_dict = false;
  for (size_t i = 0; i < n; ++i) {
    if (!refers_to_ordered_dict(i)) continue;
    any_ordered_dict = true;
    size_t next = i + 1;
    if (ops[i].code == 'c') {
      drop[i] = true;
      if (next < n && is_put(ops[next].code)) {
        ordered_dict_memo.push_back(ops[next].memo);
        drop[next] = true;
        ++next;
      }
    }
    if (next + 1 < n && ops[next].code == ')' && ops[next + 1].code == 'R') {
      drop[i] = true;
      drop[next] = true;
      replacement[next + 1] = '}';
      i = next + 1;
      continue;
    }
    throw std::invalid_argument(what + ": cannot read its pickle: an OrderedDict is made with arguments at byte " +
                                std::to_string(ops[i].begin));
  }
  // The top-level BUILD (the state dict's _metadata) and the state it applies.
  if (any_ordered_dict && n >= 2 && ops[n - 2].code == 'b' && ops[n - 2].depth == 2 && ops[n - 2].marks == 0) {
    // The state's first op: the last one before BUILD that starts at depth 1 with no mark open.
    size_t start = n - 2;
    while (start > 0 && !(ops[start - 1].depth == 1 && ops[start - 1].marks == 0)) --start;
    if (start == 0) throw std::invalid_argument(what + ": cannot read its pickle: a BUILD without its state");
    --start;
    for (size_t i = start; i <= n - 2; ++i) drop[i] = true;
  }
  // SETITEM -> MARK key value SETITEMS: the mark goes before the op that starts the key, the
  // last op with depth (before it) equal to that of SETITEM minus 2 and the same open marks.
  for (size_t i = 0; i < n; ++i) {
    if (ops[i].code != 's' || drop[i]) continue;
    size_t k = i;
    while (k > 0 && !(ops[k - 1].depth == ops[i].depth - 2 && ops[k - 1].marks == ops[i].marks)) --k;
    if (k == 0) throw std::invalid_argument(what + ": cannot read its pickle: a SETITEM without its key");
    mark_before[k - 1] = true;
    replacement[i] = 'u';
  }
  std::string out;
  out.reserve(p.size());
  for (size_t i = 0; i < n; ++i) {
    if (mark_before[i]) out += '(';
    if (drop[i]) continue;
    if (replacement[i] != 0) out += replacement[i];
    else out.append(p.substr(ops[i].begin, ops[i].end - ops[i].begin));
  }
  return out;
}

}  // namespace selfsup::models::detail
