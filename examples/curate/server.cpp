// The review page's HTTP server: the page's three files, the images one by one by index, the
// candidates in filtered windows, and the decisions, each appended to the journal and flushed
// to disk before the answer says "saved". The API: docs/curation.md.
#include "curate/server.hpp"

#include "curate_page.hpp"  // the page's files, embedded by the build (page/)

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

namespace selfsup::examples::curate {
namespace {

namespace sc = selfsup::curate;
using Json = nlohmann::ordered_json;

constexpr std::size_t max_body = 64 * 1024;
constexpr std::int64_t max_window = 1000;

/// A 4xx/5xx answer with its reason.
struct HttpError : std::runtime_error {
  HttpError(int status, const std::string& why) : std::runtime_error(why), status(status) {}
  int status;
};

void send_json(httplib::Response& res, const Json& body, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // Invalid UTF-8 that came with a request (and is quoted in an error) is replaced, not thrown.
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

bool same_token(const std::string& given, const std::string& token) {
  if (given.size() != token.size()) return false;
  unsigned char diff = 0;  // compared in constant time
  for (std::size_t i = 0; i < token.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ token[i]);
  return diff == 0;
}

/// The candidates a filter keeps: class (either image), similarity range, undecided only.
struct Filter {
  std::optional<std::string> cls;
  double min = -2.0, max = 2.0;
  bool undecided = false;

  bool keeps(const sc::Candidate& c, sc::Mark m) const {
    if (cls && c.label_first != *cls && c.label_second != *cls) return false;
    if (c.cosine < min || c.cosine > max) return false;
    if (undecided && (m == sc::Mark::accept || m == sc::Mark::reject)) return false;
    return true;
  }
};

double parse_double(const std::string& text, const char* what) {
  try {
    std::size_t used = 0;
    const double x = std::stod(text, &used);
    if (used == text.size() && std::isfinite(x)) return x;
  } catch (const std::exception&) {
  }
  throw HttpError(400, std::string(what) + ": expected a number, got '" + text + "'");
}

std::int64_t parse_integer(const std::string& text, const char* what) {
  try {
    std::size_t used = 0;
    const long long x = std::stoll(text, &used);
    if (used == text.size()) return x;
  } catch (const std::exception&) {
  }
  throw HttpError(400, std::string(what) + ": expected an integer, got '" + text + "'");
}

class Review {
 public:
  Review(const ReviewSetup& setup, sc::Journal& journal) : s_(setup), journal_(journal) {}

  Filter filter_from_query(const httplib::Request& req) const {
    Filter f;
    if (req.has_param("class") && !req.get_param_value("class").empty()) {
      if (!labels_shown()) throw HttpError(400, "class: the candidates' labels are hidden or absent; filter without it");
      const auto name = req.get_param_value("class");
      if (std::find(s_.classes.begin(), s_.classes.end(), name) == s_.classes.end()) {
        throw HttpError(400, "class: '" + name + "' is not a class of these candidates");
      }
      f.cls = name;
    }
    if (req.has_param("min") && !req.get_param_value("min").empty()) f.min = parse_double(req.get_param_value("min"), "min");
    if (req.has_param("max") && !req.get_param_value("max").empty()) f.max = parse_double(req.get_param_value("max"), "max");
    if (req.has_param("undecided")) {
      const auto v = req.get_param_value("undecided");
      if (v != "0" && v != "1" && v != "true" && v != "false" && !v.empty()) {
        throw HttpError(400, "undecided: expected 1 or 0, got '" + v + "'");
      }
      f.undecided = v == "1" || v == "true";
    }
    return f;
  }

  Filter filter_from_json(const nlohmann::json& j) const {
    Filter f;
    if (j.is_null()) return f;
    if (!j.is_object()) throw HttpError(400, "filter: expected an object");
    if (j.contains("class") && !j["class"].is_null() && !(j["class"].is_string() && j["class"].get<std::string>().empty())) {
      if (!j["class"].is_string()) throw HttpError(400, "filter.class: expected a string");
      if (!labels_shown()) throw HttpError(400, "filter.class: the candidates' labels are hidden or absent");
      const auto name = j["class"].get<std::string>();
      if (std::find(s_.classes.begin(), s_.classes.end(), name) == s_.classes.end()) {
        throw HttpError(400, "filter.class: '" + name + "' is not a class of these candidates");
      }
      f.cls = name;
    }
    for (const char* key : {"min", "max"}) {
      if (j.contains(key) && !j[key].is_null()) {
        if (!j[key].is_number()) throw HttpError(400, std::string("filter.") + key + ": expected a number");
        (std::string_view(key) == "min" ? f.min : f.max) = j[key].get<double>();
      }
    }
    if (j.contains("undecided") && !j["undecided"].is_null()) {
      if (!j["undecided"].is_boolean()) throw HttpError(400, "filter.undecided: expected true or false");
      f.undecided = j["undecided"].get<bool>();
    }
    return f;
  }

  bool labels_shown() const { return !s_.hide_labels && !s_.classes.empty(); }

  Json counts() const {
    const auto c = journal_.state().counts();
    return Json{{"accept", c.accept}, {"reject", c.reject}, {"skip", c.skip}, {"undecided", c.undecided}};
  }

  Json item(std::int64_t p) const {
    const auto& c = s_.candidates->rows[static_cast<std::size_t>(p)];
    Json j{{"pair", p},
           {"first", c.first},
           {"second", c.second},
           {"first_image", s_.first_image[static_cast<std::size_t>(p)]},
           {"second_image", s_.second_image[static_cast<std::size_t>(p)]},
           {"cosine", c.cosine},
           {"rank", c.rank},
           {"partner_rank", c.partner_rank},
           {"relative_distance", c.relative_distance},
           {"occurrences_first", c.occurrences_first},
           {"occurrences_second", c.occurrences_second}};
    if (labels_shown()) {
      j["label_first"] = c.label_first;
      j["label_second"] = c.label_second;
    }
    j["decision"] = std::string(sc::mark_name(journal_.state().marks()[static_cast<std::size_t>(p)]));
    return j;
  }

  /// The filtered pairs' ids (under the lock).
  std::vector<std::int64_t> matching(const Filter& f) const {
    std::vector<std::int64_t> ids;
    const auto& marks = journal_.state().marks();
    for (std::size_t p = 0; p < s_.candidates->rows.size(); ++p) {
      if (f.keeps(s_.candidates->rows[p], marks[p])) ids.push_back(static_cast<std::int64_t>(p));
    }
    return ids;
  }

  Json state() const {
    std::optional<std::int64_t> resume;
    if (const auto last = journal_.state().last_pair()) {
      resume = journal_.state().last_was_undo() ? *last : std::min(*last + 1, s_.candidates->size() - 1);
    }
    Json j{{"pairs", s_.candidates->size()},
           {"reviewer", journal_.header().reviewer},
           {"labels", labels_shown()},
           {"classes", labels_shown() ? s_.classes : std::vector<std::string>{}},
           {"counts", counts()},
           {"resume_pair", resume ? Json(*resume) : Json(nullptr)},
           {"candidates", std::filesystem::path(s_.candidates->path).filename().string()},
           {"journal", journal_.path().string()}};
    return j;
  }

  Json pairs(const httplib::Request& req) const {
    const auto f = filter_from_query(req);
    const std::int64_t offset = req.has_param("offset") ? parse_integer(req.get_param_value("offset"), "offset") : 0;
    const std::int64_t limit = req.has_param("limit") ? parse_integer(req.get_param_value("limit"), "limit") : 100;
    if (offset < 0) throw HttpError(400, "offset: expected an integer >= 0, got " + std::to_string(offset));
    if (limit < 1 || limit > max_window) {
      throw HttpError(400, "limit: expected 1 to " + std::to_string(max_window) + ", got " + std::to_string(limit));
    }
    const auto ids = matching(f);
    Json items = Json::array();
    for (std::int64_t i = offset; i < std::min<std::int64_t>(offset + limit, static_cast<std::int64_t>(ids.size())); ++i) {
      items.push_back(item(ids[static_cast<std::size_t>(i)]));
    }
    return Json{{"total", ids.size()}, {"offset", offset}, {"items", std::move(items)}};
  }

  Json position(const httplib::Request& req) const {
    const auto f = filter_from_query(req);
    if (!req.has_param("pair")) throw HttpError(400, "pair: missing");
    const auto pair = parse_integer(req.get_param_value("pair"), "pair");
    const auto ids = matching(f);
    const auto it = std::lower_bound(ids.begin(), ids.end(), pair);
    return Json{{"position", it - ids.begin()}, {"total", ids.size()}};
  }

  std::int64_t pair_of(const nlohmann::json& body) const {
    if (!body.contains("pair") || !body["pair"].is_number_integer()) throw HttpError(400, "pair: expected an integer");
    const auto pair = body["pair"].get<std::int64_t>();
    if (pair < 0 || pair >= s_.candidates->size()) {
      throw HttpError(404, "pair " + std::to_string(pair) + " is not one of the " + std::to_string(s_.candidates->size()) +
                               " candidates");
    }
    return pair;
  }

  Json decide(const nlohmann::json& body) {
    const auto pair = pair_of(body);
    if (!body.contains("decision") || !body["decision"].is_string()) {
      throw HttpError(400, "decision: expected \"accept\", \"reject\" or \"skip\"");
    }
    const auto mark = sc::parse_mark(body["decision"].get<std::string>());
    if (!mark) throw HttpError(400, "decision: expected \"accept\", \"reject\" or \"skip\", got " + body["decision"].dump());
    const auto& c = s_.candidates->rows[static_cast<std::size_t>(pair)];
    const auto seq = journal_.decide(pair, *mark, c.first, c.second);
    return Json{{"saved", true}, {"seq", seq}, {"pair", pair}, {"decision", sc::mark_name(*mark)}, {"counts", counts()}};
  }

  Json undo() {
    const auto undone = journal_.undo();
    if (!undone) throw HttpError(409, "nothing to undo: every decision of this journal is already undone");
    Json decisions = Json::object();
    for (const auto p : *undone) {
      decisions[std::to_string(p)] = std::string(sc::mark_name(journal_.state().marks()[static_cast<std::size_t>(p)]));
    }
    return Json{{"saved", true}, {"undone", *undone}, {"decisions", std::move(decisions)}, {"counts", counts()}};
  }

  Json bulk(const nlohmann::json& body) {
    if (!body.contains("decision") || !body["decision"].is_string()) throw HttpError(400, "decision: expected \"accept\" or \"reject\"");
    const auto name = body["decision"].get<std::string>();
    if (name != "accept" && name != "reject") throw HttpError(400, "decision: expected \"accept\" or \"reject\", got '" + name + "'");
    if (!body.contains("expected") || !body["expected"].is_number_integer()) {
      throw HttpError(400, "expected: the number of pairs the confirmation showed, an integer");
    }
    const auto f = filter_from_json(body.contains("filter") ? body["filter"] : nlohmann::json());
    const auto ids = matching(f);
    const auto expected = body["expected"].get<std::int64_t>();
    if (static_cast<std::int64_t>(ids.size()) != expected) {
      throw HttpError(409, "the filter now matches " + std::to_string(ids.size()) + " pairs, not the " +
                               std::to_string(expected) + " confirmed; nothing was decided");
    }
    if (ids.empty()) throw HttpError(409, "the filter matches no pairs; nothing was decided");
    const auto bulk_id = journal_.decide_all(ids, *sc::parse_mark(name), [&](std::int64_t p) {
      const auto& c = s_.candidates->rows[static_cast<std::size_t>(p)];
      return std::pair<std::string_view, std::string_view>(c.first, c.second);
    });
    return Json{{"saved", true}, {"count", ids.size()}, {"bulk", bulk_id}, {"counts", counts()}};
  }

  const ReviewSetup& setup() const { return s_; }

 private:
  const ReviewSetup& s_;
  sc::Journal& journal_;
};

nlohmann::json parse_body(const httplib::Request& req) {
  if (req.body.size() > max_body) throw HttpError(413, "the body is over 64 KiB");
  try {
    auto j = nlohmann::json::parse(req.body.empty() ? std::string("{}") : req.body);
    if (!j.is_object()) throw HttpError(400, "the body must be a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw HttpError(400, std::string("the body is not JSON: ") + e.what());
  }
}

}  // namespace

int stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const int saved = errno;
  [[maybe_unused]] const auto n = ::write(stop_pipe[1], "x", 1);  // async-signal-safe
  errno = saved;
}

void catch_stop_signals() {
  if (stop_pipe[0] < 0 && ::pipe2(stop_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("curate review: cannot make a pipe: ") + std::strerror(errno));
  }
  for (const int sig : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // ignored by whoever started it (nohup, a background job): stays so
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(sig, &action, nullptr);
  }
  ::signal(SIGPIPE, SIG_IGN);  // a page closed mid-answer is not an error of the server
}

std::string random_token() {
  std::random_device device;
  std::string token;
  char hex[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(device()));
    token += hex;
  }
  return token;
}

int serve_review(const ReviewSetup& setup, sc::Journal& journal, const std::function<void(const std::string&)>& ready) {
  Review review(setup, journal);
  std::mutex mutex;  // one request at a time touches the journal and its state
  httplib::Server server;
  server.set_payload_max_length(max_body);
  server.set_tcp_nodelay(true);  // small JSON answers go out at once, not after the peer's delayed ACK
  server.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    const std::string given =
        req.has_param("token") ? req.get_param_value("token") : req.get_header_value("X-Selfsup-Token");
    if (!same_token(given, setup.token)) {
      send_json(res, Json{{"error", given.empty() ? "this page needs the token that curate review printed with its URL"
                                                  : "wrong token: open the URL curate review printed"}},
                403);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Every handler's errors become JSON answers with their status.
  auto guarded = [&](auto&& body) {
    return [&, body](const httplib::Request& req, httplib::Response& res) {
      try {
        body(req, res);
      } catch (const HttpError& e) {
        send_json(res, Json{{"error", e.what()}}, e.status);
      } catch (const sc::JournalWriteError& e) {
        send_json(res, Json{{"error", e.what()}}, 507);
      } catch (const std::exception& e) {
        send_json(res, Json{{"error", std::string("the server failed: ") + e.what()}}, 500);
      }
    };
  };
  auto page = [&](const char* path, std::string text, const char* type) {
    server.Get(path, guarded([text = std::move(text), type](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
      res.set_content(text, type);
    }));
  };
  // The page names its script and style sheet with the token (no inline script: the policy
  // above allows none).
  std::string index(page::index_html);
  for (auto at = index.find("{{token}}"); at != std::string::npos; at = index.find("{{token}}", at)) {
    index.replace(at, 9, setup.token);
  }
  page("/", index, "text/html; charset=utf-8");
  page("/review.js", std::string(page::review_js), "text/javascript; charset=utf-8");
  page("/review.css", std::string(page::review_css), "text/css; charset=utf-8");
  server.Get(R"(/image/(\d{1,18}))", guarded([&](const httplib::Request& req, httplib::Response& res) {
    const auto index = parse_integer(req.matches[1].str(), "image");
    if (index < 0 || index >= setup.images) {
      throw HttpError(404, "image " + std::to_string(index) + " is not one of the " + std::to_string(setup.images) + " images");
    }
    ImageBytes image;
    try {
      image = setup.read_image(index);
    } catch (const std::exception& e) {
      throw HttpError(404, std::string("image ") + std::to_string(index) + " cannot be read: " + e.what());
    }
    res.set_header("Cache-Control", "private, max-age=3600");
    res.set_content(std::move(image.bytes), image.type.c_str());
  }));
  server.Get("/api/state", guarded([&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex);
    send_json(res, review.state());
  }));
  server.Get("/api/pairs", guarded([&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    send_json(res, review.pairs(req));
  }));
  server.Get("/api/position", guarded([&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    send_json(res, review.position(req));
  }));
  server.Post("/api/decide", guarded([&](const httplib::Request& req, httplib::Response& res) {
    const auto body = parse_body(req);
    std::lock_guard lock(mutex);
    send_json(res, review.decide(body));
  }));
  server.Post("/api/undo", guarded([&](const httplib::Request& req, httplib::Response& res) {
    parse_body(req);
    std::lock_guard lock(mutex);
    send_json(res, review.undo());
  }));
  server.Post("/api/bulk", guarded([&](const httplib::Request& req, httplib::Response& res) {
    const auto body = parse_body(req);
    std::lock_guard lock(mutex);
    send_json(res, review.bulk(body));
  }));
  // What no route took: 404, or 405 for a known path asked with another method; 413 and the
  // like keep their status with a reason.
  server.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    static const std::vector<std::string> get_paths{"/", "/review.js", "/review.css", "/api/state", "/api/pairs",
                                                    "/api/position"};
    static const std::vector<std::string> post_paths{"/api/decide", "/api/undo", "/api/bulk"};
    const bool image = req.path.rfind("/image/", 0) == 0;
    const bool known_get = std::find(get_paths.begin(), get_paths.end(), req.path) != get_paths.end();
    const bool known_post = std::find(post_paths.begin(), post_paths.end(), req.path) != post_paths.end();
    if (res.status == 404 && image && req.method == "GET") {
      send_json(res, Json{{"error", "no such image: " + req.path + " (images are /image/INDEX, INDEX from 0)"}}, 404);
      return;
    }
    if (res.status == 404 && (known_get || known_post || image)) {
      send_json(res, Json{{"error", req.method + " " + req.path + ": use " + (known_post ? "POST" : "GET")}}, 405);
      return;
    }
    if (res.status == 404) {
      send_json(res, Json{{"error", "no such page: " + req.path}}, 404);
      return;
    }
    if (res.status == 413) {
      send_json(res, Json{{"error", "the body is over 64 KiB"}}, 413);
      return;
    }
    send_json(res, Json{{"error", "the request could not be served (HTTP " + std::to_string(res.status) + ")"}}, res.status);
  });
  server.set_exception_handler([&](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_json(res, Json{{"error", "the server failed on this request"}}, 500);
  });

  // SIGINT and SIGTERM stop the server: their handler (any thread may run it) writes to a pipe,
  // and a thread of its own reads it and stops the server (stop() is not safe inside a signal
  // handler). Every saved decision is on disk already.
  catch_stop_signals();
  const int port = setup.port == 0 ? server.bind_to_any_port(setup.host) : (server.bind_to_port(setup.host, setup.port) ? setup.port : -1);
  if (port <= 0) {
    throw std::runtime_error("curate review: cannot listen on " + setup.host + ":" + std::to_string(setup.port) +
                             " (in use, or not an address of this machine); give another --port or --host");
  }
  std::thread stopper([&] {
    char byte = 0;
    while (::read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });
  const std::string shown_host = setup.host == "0.0.0.0" || setup.host == "::" ? "127.0.0.1" : setup.host;
  ready("http://" + shown_host + ":" + std::to_string(port) + "/?token=" + setup.token);
  const bool ok = server.listen_after_bind();
  if (!ok) [[maybe_unused]] const auto n = ::write(stop_pipe[1], "x", 1);  // releases the stopper
  stopper.join();
  return ok ? 0 : 1;
}

}  // namespace selfsup::examples::curate
