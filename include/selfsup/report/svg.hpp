#pragma once
/// \file
/// SVG plots of results: the ablation runner's kNN curves. Part of selfsup::report (CMake).

#include <selfsup/report/file.hpp>
#include <selfsup/train/ablation.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace selfsup::report {

/// `text` with XML's five special characters escaped, for text and attribute values.
inline std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

/// An SVG line chart of the kNN curves, one line per variant (epochs counted from 1): the mean
/// over the seeds, in a band of its 95 % interval when there are several. The untrained
/// network's row (one point, before the first epoch) is a dashed level across the chart, in its
/// band: where every curve starts from.
inline std::string knn_curves_svg(const std::vector<ablation::Result>& results,
                                  const std::string& title = "kNN top-1 on the test split per epoch") {
  constexpr double w = 640, h = 400, left = 60, right = 150, top = 50, bottom = 50;
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
  int64_t max_epoch = 1;
  double hi = 0.0;
  for (const auto& r : results) {
    for (auto e : r.knn_epochs) max_epoch = std::max<int64_t>(max_epoch, e + 1);
    for (size_t k = 0; k < r.knn_curve.size(); ++k) {
      const double v = r.knn_curve[k] + (k < r.knn_curve_ci95.size() ? r.knn_curve_ci95[k] : 0.0);
      if (std::isfinite(v)) hi = std::max(hi, v);
    }
  }
  hi = std::max(0.1, std::min(1.0, std::ceil(hi * 10 + 0.5) / 10));
  auto x = [&](double epoch) { return left + (w - left - right) * epoch / static_cast<double>(max_epoch); };
  auto y = [&](double v) { return h - bottom - (h - top - bottom) * std::clamp(v, 0.0, hi) / hi; };
  std::string out;
  out += fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">)", w, h) + "\n";
  out += fmt::format(R"(<rect width="{}" height="{}" fill="white"/><text x="{}" y="22" font-size="14">{}</text>)", w, h, left,
                     xml_escape(title)) + "\n";
  size_t seeds = 0;
  for (const auto& r : results) seeds = std::max(seeds, r.runs.size());
  bool bands = false;
  for (const auto& r : results) bands = bands || (!r.knn_curve_ci95.empty() && r.knn_curve_ci95.size() == r.knn_curve.size());
  if (bands) {
    out += fmt::format(R"(<text x="{}" y="36" font-size="11" fill="#555">mean of {} seeds; band: 95 % interval of the mean</text>)",
                       left, seeds) + "\n";
  }
  for (int i = 0; i <= 5; ++i) {
    const double v = hi * i / 5.0;
    out += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#ddd"/><text x="{}" y="{:.1f}" text-anchor="end">{:.2f}</text>)",
                       left, w - right, y(v), y(v), left - 6, y(v) + 4, v) + "\n";
  }
  out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">epoch</text>)", (left + w - right) / 2, h - 12) + "\n";
  for (int64_t e = 0; e <= max_epoch; e += std::max<int64_t>(1, max_epoch / 10)) {
    out += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", x(static_cast<double>(e)), h - bottom + 16, e) + "\n";
  }
  size_t trained = 0;  // the trained variants' colours, in order
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    const char* c = colours[(r.untrained ? 0 : trained++) % 6];
    const double row = top + 20.0 * static_cast<double>(i);
    if (r.untrained && r.knn_curve.size() == 1 && std::isfinite(r.knn_curve[0])) {
      const double v = r.knn_curve[0];
      if (r.knn_curve_ci95.size() == 1 && std::isfinite(r.knn_curve_ci95[0])) {
        const double d = r.knn_curve_ci95[0];
        out += fmt::format(R"(<rect x="{}" y="{:.1f}" width="{}" height="{:.1f}" fill="#555" fill-opacity="0.12"/>)", left,
                           y(v + d), w - left - right, y(v - d) - y(v + d)) + "\n";
      }
      out += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/>)",
                         left, w - right, y(v), y(v)) + "\n";
      out += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{}" y="{}">{}</text>)",
                         w - right + 10, w - right + 30, row, row, w - right + 36, row + 4, xml_escape(r.variant)) + "\n";
      continue;
    }
    if (!r.knn_curve_ci95.empty() && r.knn_curve_ci95.size() == r.knn_curve.size()) {
      std::string band;  // the upper edge left to right, then the lower edge back
      const size_t n = std::min(r.knn_curve.size(), r.knn_epochs.size());
      for (size_t k = 0; k < n; ++k) {
        band += fmt::format("{:.1f},{:.1f} ", x(static_cast<double>(r.knn_epochs[k] + 1)), y(r.knn_curve[k] + r.knn_curve_ci95[k]));
      }
      for (size_t k = n; k-- > 0;) {
        band += fmt::format("{:.1f},{:.1f} ", x(static_cast<double>(r.knn_epochs[k] + 1)), y(r.knn_curve[k] - r.knn_curve_ci95[k]));
      }
      if (band.find("nan") == std::string::npos) {
        out += fmt::format(R"(<polygon fill="{}" fill-opacity="0.15" stroke="none" points="{}"/>)", c, band) + "\n";
      }
    }
    std::string points;
    for (size_t k = 0; k < r.knn_curve.size() && k < r.knn_epochs.size(); ++k) {
      if (!std::isfinite(r.knn_curve[k])) continue;
      points += fmt::format("{:.1f},{:.1f} ", x(static_cast<double>(r.knn_epochs[k] + 1)), y(r.knn_curve[k]));
    }
    out += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>)", c, points) + "\n";
    out += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}</text>)",
                       w - right + 10, w - right + 30, row, row, c, w - right + 36, row + 4, xml_escape(r.variant)) + "\n";
  }
  out += "</svg>\n";
  return out;
}

/// Writes knn_curves_svg(results, title) to `path`, atomically (write_file_atomically).
inline void write_svg(const std::vector<ablation::Result>& results, const std::string& path,
                      const std::string& title = "kNN top-1 on the test split per epoch") {
  write_file_atomically(path, knn_curves_svg(results, title));
}

}  // namespace selfsup::report

namespace selfsup::ablation {
/// The kNN curves as SVG, in <selfsup/report/svg.hpp> (selfsup::report).
using report::write_svg;
}  // namespace selfsup::ablation
