#include "reports/plots/chart.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "harness/util/errors.h"
#include "harness/util/paths.h"

namespace focalab::reports {
inline namespace plots {

namespace {

struct Rgb {
  double r, g, b;  // 0..255
};
// matplotlib's tab10, so figures look familiar next to Python-made ones
const Rgb kPalette[10] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                          {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                          {188, 189, 34},  {23, 190, 207}};
const Rgb kText{30, 30, 30}, kAxis{90, 90, 90}, kGrid{225, 225, 225}, kWhite{255, 255, 255};
Rgb palette(int i) { return kPalette[((i % 10) + 10) % 10]; }

using Pt = std::pair<double, double>;

class Painter {
 public:
  virtual ~Painter() = default;
  virtual void fill(const std::vector<Pt>& pts, Rgb c, double opacity) = 0;
  virtual void polyline(const std::vector<Pt>& pts, Rgb c, double width, bool dashed) = 0;
  virtual void circle(double x, double y, double r, Rgb c) = 0;
  // (x, y) is the start of the baseline before anchoring; anchor -1 start, 0 middle, 1 end;
  // vertical text reads bottom to top.
  virtual void text(double x, double y, const std::string& s, double size, Rgb c, int anchor,
                    bool vertical, bool bold) = 0;
  virtual double text_width(const std::string& s, double size, bool bold) = 0;
};

// ------------------------------------------------------------------------------------ cairo

// One painter for every format: cairo draws the same paths and text on an image (PNG), SVG or
// PDF surface. Text is set in the font family of $FOCALAB_FONT (default DejaVu Sans, Debian's
// fonts-dejavu-core), found through fontconfig.
class CairoPainter : public Painter {
 public:
  explicit CairoPainter(cairo_t* cr) : cr_(cr) {
    const char* env = std::getenv("FOCALAB_FONT");
    family_ = env && *env ? env : "DejaVu Sans";
  }
  void fill(const std::vector<Pt>& pts, Rgb c, double opacity) override {
    if (pts.empty()) return;
    path(pts);
    cairo_close_path(cr_);
    cairo_set_source_rgba(cr_, c.r / 255, c.g / 255, c.b / 255, opacity);
    cairo_fill(cr_);
  }
  void polyline(const std::vector<Pt>& pts, Rgb c, double width, bool dashed) override {
    if (pts.size() < 2) return;
    path(pts);
    cairo_set_source_rgb(cr_, c.r / 255, c.g / 255, c.b / 255);
    cairo_set_line_width(cr_, width);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
    const double dash[] = {7, 4};
    cairo_set_dash(cr_, dash, dashed ? 2 : 0, 0);
    cairo_stroke(cr_);
    cairo_set_dash(cr_, nullptr, 0, 0);
  }
  void circle(double x, double y, double r, Rgb c) override {
    cairo_new_path(cr_);
    cairo_arc(cr_, x, y, r, 0, 2 * M_PI);
    cairo_set_source_rgb(cr_, c.r / 255, c.g / 255, c.b / 255);
    cairo_fill(cr_);
  }
  void text(double x, double y, const std::string& s, double size, Rgb c, int anchor,
            bool vertical, bool bold) override {
    const double width = text_width(s, size, bold);
    const double shift = anchor < 0 ? 0 : anchor == 0 ? width / 2 : width;
    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    if (vertical) cairo_rotate(cr_, -M_PI / 2);
    cairo_move_to(cr_, -shift, 0);
    cairo_set_source_rgb(cr_, c.r / 255, c.g / 255, c.b / 255);
    cairo_show_text(cr_, s.c_str());
    cairo_restore(cr_);
  }
  double text_width(const std::string& s, double size, bool bold) override {
    cairo_select_font_face(cr_, family_.c_str(), CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, s.c_str(), &e);
    return e.x_advance;
  }

 private:
  void path(const std::vector<Pt>& pts) {
    cairo_new_path(cr_);
    cairo_move_to(cr_, pts[0].first, pts[0].second);
    for (size_t i = 1; i < pts.size(); ++i) cairo_line_to(cr_, pts[i].first, pts[i].second);
  }
  cairo_t* cr_;
  std::string family_;
};

// ------------------------------------------------------------------------------------- layout

constexpr double kPanelW = 560, kPanelH = 400, kTitleH = 34;

// Ticks 1, 2 or 5 x 10^k apart covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, double& axis_lo, double& axis_hi) {
  if (!(hi > lo)) {
    const double pad = std::max(1e-9, std::fabs(lo) * 0.1 + (lo == 0 ? 1 : 0));
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  axis_lo = std::floor(lo / step + 1e-9) * step;
  axis_hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  for (double t = axis_lo; t <= axis_hi + step * 1e-6; t += step) ticks.push_back(t);
  return ticks;
}

std::string tick_label(double v, double step) {
  const int digits = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::fabs(v) < step * 1e-6) v = 0;
  return fmt::format("{:.{}f}", v, digits);
}

// 1000 -> "1,000".
std::string grouped(double v) {
  std::string digits = fmt::format("{:.0f}", v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

void draw_panel(Painter& p, const Chart& c, double ox, double oy) {
  const double left = ox + 72, right = ox + kPanelW - 28, top = oy + 42, bottom = oy + kPanelH - 58;
  p.text(ox + kPanelW / 2, oy + 26, c.title, 15, kText, 0, false, true);
  // x in axis units: its logarithm on a log axis (not finite for x <= 0: left out)
  auto LX = [&](double v) { return c.log_x ? (v > 0 ? std::log10(v) : std::nan("")) : v; };
  // data ranges
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  for (const auto& s : c.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(LX(s.x[i])) || !std::isfinite(s.y[i])) continue;
      const double e = i < s.yerr.size() && std::isfinite(s.yerr[i]) ? s.yerr[i] : 0;
      xmin = std::min(xmin, LX(s.x[i]));
      xmax = std::max(xmax, LX(s.x[i]));
      ymin = std::min(ymin, s.y[i] - e);
      ymax = std::max(ymax, s.y[i] + e);
    }
  }
  if (xmin > xmax) {  // nothing to draw
    xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  }
  if (c.stacked) ymin = 0, ymax = 1;
  if (c.ylim) ymin = c.ylim->first, ymax = c.ylim->second;
  double x0, x1, y0, y1;
  std::vector<double> xt;
  if (c.log_x) {  // whole decades
    x0 = std::floor(xmin);
    x1 = std::max(x0 + 1, std::ceil(xmax));
    for (double t = x0; t <= x1 + 1e-9; t += 1) xt.push_back(t);
  } else {
    xt = nice_ticks(xmin, xmax, x0, x1);
  }
  const auto yt = nice_ticks(ymin, ymax, y0, y1);
  auto X = [&](double v) { return left + (LX(v) - x0) / (x1 - x0) * (right - left); };
  auto XA = [&](double axis) { return left + (axis - x0) / (x1 - x0) * (right - left); };
  auto Y = [&](double v) {
    return bottom - (std::clamp(v, y0, y1) - y0) / (y1 - y0) * (bottom - top);
  };
  // grid, ticks, labels
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : yt) {
    p.polyline({{left, Y(t)}, {right, Y(t)}}, kGrid, 1, false);
    p.text(left - 7, Y(t) + 4.5, tick_label(t, ystep), 12, kText, 1, false, false);
  }
  for (double t : xt) {
    p.polyline({{XA(t), top}, {XA(t), bottom}}, kGrid, 1, false);
    p.text(XA(t), bottom + 18, c.log_x ? grouped(std::pow(10, t)) : tick_label(t, xstep), 12, kText,
           0, false, false);
  }
  p.text((left + right) / 2, bottom + 42, c.xlabel, 13, kText, 0, false, false);
  p.text(ox + 20, (top + bottom) / 2, c.ylabel, 13, kText, 0, true, false);
  // series
  if (c.stacked) {
    std::vector<double> base;
    for (size_t k = 0; k < c.series.size(); ++k) {
      const auto& s = c.series[k];
      base.resize(s.x.size(), 0.0);
      std::vector<Pt> poly;
      for (size_t i = 0; i < s.x.size(); ++i) poly.emplace_back(X(s.x[i]), Y(base[i] + s.y[i]));
      for (size_t i = s.x.size(); i-- > 0;) poly.emplace_back(X(s.x[i]), Y(base[i]));
      p.fill(poly, palette(s.color >= 0 ? s.color : static_cast<int>(k)), 0.85);
      for (size_t i = 0; i < s.x.size(); ++i) base[i] += s.y[i];
    }
  } else {
    for (size_t k = 0; k < c.series.size(); ++k) {
      const auto& s = c.series[k];
      const Rgb col = palette(s.color >= 0 ? s.color : static_cast<int>(k));
      std::vector<Pt> pts;
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (std::isfinite(LX(s.x[i])) && std::isfinite(s.y[i])) pts.emplace_back(X(s.x[i]), Y(s.y[i]));
      }
      if (pts.size() > 1) p.polyline(pts, col, 2.2, s.dashed);
      for (size_t i = 0; i < s.yerr.size() && i < s.x.size(); ++i) {
        if (!std::isfinite(s.yerr[i]) || s.yerr[i] <= 0 || !std::isfinite(LX(s.x[i]))) continue;
        const double x = X(s.x[i]), lo = Y(s.y[i] - s.yerr[i]), hi = Y(s.y[i] + s.yerr[i]);
        p.polyline({{x, lo}, {x, hi}}, col, 1.5, false);
        p.polyline({{x - 4, lo}, {x + 4, lo}}, col, 1.5, false);
        p.polyline({{x - 4, hi}, {x + 4, hi}}, col, 1.5, false);
      }
      if (s.markers || pts.size() == 1) {
        for (const auto& [x, y] : pts) p.circle(x, y, 3.8, col);
      }
    }
  }
  // frame
  p.polyline({{left, top}, {right, top}, {right, bottom}, {left, bottom}, {left, top}}, kAxis, 1.2,
             false);
  // legend, top right inside the plot
  std::vector<size_t> entries;
  double text_w = 0;
  for (size_t k = 0; k < c.series.size(); ++k) {
    if (c.series[k].name.empty()) continue;
    entries.push_back(k);
    text_w = std::max(text_w, p.text_width(c.series[k].name, 11.5, false));
  }
  if (!entries.empty()) {
    const double bw = text_w + 40, bh = 18.0 * static_cast<double>(entries.size()) + 8;
    // The corner that hides the fewest data points (top right on a tie; stacked areas cover
    // everything, so they keep it).
    double bx = right - bw - 8, by = top + 8;
    if (!c.stacked) {
      size_t fewest = std::numeric_limits<size_t>::max();
      for (const auto& [cx, cy] : {Pt{right - bw - 8, top + 8}, Pt{left + 8, top + 8},
                                   Pt{right - bw - 8, bottom - bh - 8}, Pt{left + 8, bottom - bh - 8}}) {
        size_t hidden = 0;
        for (const auto& s : c.series) {
          for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            const double px = X(s.x[i]), py = Y(s.y[i]);
            hidden += px >= cx - 6 && px <= cx + bw + 6 && py >= cy - 6 && py <= cy + bh + 6;
            // the segment to the next point, sampled
            if (i + 1 < s.x.size() && i + 1 < s.y.size()) {
              for (double t = 0.25; t < 1; t += 0.25) {
                const double qx = px + t * (X(s.x[i + 1]) - px), qy = py + t * (Y(s.y[i + 1]) - py);
                hidden += qx >= cx && qx <= cx + bw && qy >= cy && qy <= cy + bh;
              }
            }
          }
        }
        if (hidden < fewest) {
          fewest = hidden;
          bx = cx;
          by = cy;
        }
      }
    }
    p.fill({{bx, by}, {bx + bw, by}, {bx + bw, by + bh}, {bx, by + bh}}, kWhite, 0.88);
    p.polyline({{bx, by}, {bx + bw, by}, {bx + bw, by + bh}, {bx, by + bh}, {bx, by}}, kGrid, 1,
               false);
    // stacked areas list top-down in the order they are stacked top-down
    for (size_t e = 0; e < entries.size(); ++e) {
      const size_t k = c.stacked ? entries[entries.size() - 1 - e] : entries[e];
      const auto& s = c.series[k];
      const Rgb col = palette(s.color >= 0 ? s.color : static_cast<int>(k));
      const double ly = by + 14 + 18.0 * static_cast<double>(e);
      if (c.stacked) {
        p.fill({{bx + 8, ly - 9}, {bx + 28, ly - 9}, {bx + 28, ly + 1}, {bx + 8, ly + 1}}, col, 0.85);
      } else {
        p.polyline({{bx + 8, ly - 4}, {bx + 28, ly - 4}}, col, 2.2, s.dashed);
        if (s.markers) p.circle(bx + 18, ly - 4, 3.5, col);
      }
      p.text(bx + 34, ly, s.name, 11.5, kText, -1, false, false);
    }
  }
}

void draw_figure(Painter& p, const Figure& f, double width) {
  const double top = f.title.empty() ? 0 : kTitleH;
  if (!f.title.empty()) p.text(width / 2, 24, f.title, 17, kText, 0, false, true);
  const int cols = std::max(1, std::min<int>(f.columns, static_cast<int>(f.panels.size())));
  for (size_t i = 0; i < f.panels.size(); ++i) {
    const double ox = static_cast<double>(static_cast<int>(i) % cols) * kPanelW;
    const double oy = top + static_cast<double>(static_cast<int>(i) / cols) * kPanelH;
    draw_panel(p, f.panels[i], ox, oy);
  }
}

std::pair<int, int> figure_size(const Figure& f) {
  const int n = std::max<int>(1, static_cast<int>(f.panels.size()));
  const int cols = std::max(1, std::min(f.columns, n));
  const int rows = (n + cols - 1) / cols;
  return {static_cast<int>(kPanelW) * cols,
          static_cast<int>(kPanelH) * rows + (f.title.empty() ? 0 : static_cast<int>(kTitleH))};
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

enum class Format { kSvg, kPng, kPdf };

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// The figure drawn by cairo, as the bytes of an SVG, PNG or PDF file.
std::string render(const Figure& figure, Format format) {
  const auto [w, h] = figure_size(figure);
  std::string out;
  cairo_surface_t* surface = nullptr;
  if (format == Format::kSvg) {
    surface = cairo_svg_surface_create_for_stream(append_bytes, &out, w, h);
    cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);
  } else if (format == Format::kPdf) {
    surface = cairo_pdf_surface_create_for_stream(append_bytes, &out, w, h);
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "focalab");
  } else {
    surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  }
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  CairoPainter painter(cr);
  draw_figure(painter, figure, w);
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  if (status == CAIRO_STATUS_SUCCESS && format == Format::kPng) {
    status = cairo_surface_write_to_png_stream(surface, append_bytes, &out);
  }
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    throw harness::DataError(
        fmt::format("cannot draw the figure: {}", cairo_status_to_string(status)));
  }
  return out;
}

}  // namespace

std::string figure_svg(const Figure& figure) {
  std::string svg = render(figure, Format::kSvg);
  // Inline in an HTML page beside other figures: no XML declaration, and ids (cairo's glyph0-1,
  // clip1, ...) unique to this figure, or a page's second figure would draw the first one's
  // glyphs.
  static std::atomic<int64_t> figures{0};
  const std::string prefix = fmt::format("f{}-", figures++);
  if (svg.rfind("<?xml", 0) == 0) svg.erase(0, svg.find('\n') + 1);
  size_t series = 0;  // data-series: how many series the panels draw (for tests and scripts)
  for (const auto& c : figure.panels) series += c.series.size();
  std::string out;
  out.reserve(svg.size() + svg.size() / 16);
  for (size_t i = 0; i < svg.size();) {
    bool matched = false;
    for (const char* token : {"id=\"", "href=\"#", "url(#"}) {
      const size_t n = std::strlen(token);
      if (svg.compare(i, n, token) == 0) {
        out.append(token).append(prefix);
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) out += svg[i++];
  }
  const size_t root = out.find("<svg");
  if (root != std::string::npos) {
    out.insert(root + 4, fmt::format(" data-series=\"{}\"", series));
  }
  return out;
}

void check_figure_path(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext != ".svg" && ext != ".png" && ext != ".pdf") {
    throw harness::UsageError(
        fmt::format("--out {}: the file name must end in .svg, .png or .pdf", path));
  }
  harness::require_output_file(path, "--out");
}

void write_figure(const Figure& figure, const std::string& path) {
  check_figure_path(path);
  const std::string ext = std::filesystem::path(path).extension().string();
  const std::string bytes = ext == ".svg"   ? figure_svg(figure)
                            : ext == ".pdf" ? render(figure, Format::kPdf)
                                            : render(figure, Format::kPng);
  harness::write_file_atomically(path, bytes, "--out");
}

}  // namespace plots
}  // namespace focalab::reports
