#include "reports/plots/chart.h"

#include <fmt/format.h>
#include <stb_image_write.h>
#include <stb_truetype.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
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

// Unicode code points of a UTF-8 string (invalid bytes become '?').
std::vector<int> code_points(const std::string& s) {
  std::vector<int> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + static_cast<size_t>(n) > s.size()) {
      out.push_back('?');
      ++i;
      continue;
    }
    int cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3f);
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

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

// ---------------------------------------------------------------------------------------- SVG

std::string svg_color(Rgb c) { return fmt::format("rgb({:.0f},{:.0f},{:.0f})", c.r, c.g, c.b); }

std::string svg_points(const std::vector<Pt>& pts) {
  std::string s;
  for (const auto& [x, y] : pts) s += fmt::format("{}{:.2f},{:.2f}", s.empty() ? "" : " ", x, y);
  return s;
}

class SvgPainter : public Painter {
 public:
  std::string body;
  void fill(const std::vector<Pt>& pts, Rgb c, double opacity) override {
    body += fmt::format("<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"{:.2f}\" "
                        "stroke=\"none\"/>\n", svg_points(pts), svg_color(c), opacity);
  }
  void polyline(const std::vector<Pt>& pts, Rgb c, double width, bool dashed) override {
    body += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" "
                        "stroke-width=\"{:.1f}\" stroke-linejoin=\"round\"{}/>\n",
                        svg_points(pts), svg_color(c), width,
                        dashed ? " stroke-dasharray=\"7,4\"" : "");
  }
  void circle(double x, double y, double r, Rgb c) override {
    body += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{:.1f}\" fill=\"{}\"/>\n", x, y,
                        r, svg_color(c));
  }
  void text(double x, double y, const std::string& s, double size, Rgb c, int anchor,
            bool vertical, bool bold) override {
    body += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"{:.0f}\" fill=\"{}\" text-anchor=\"{}\"{}{}>"
        "{}</text>\n",
        x, y, size, svg_color(c), anchor < 0 ? "start" : anchor == 0 ? "middle" : "end",
        bold ? " font-weight=\"bold\"" : "",
        vertical ? fmt::format(" transform=\"rotate(-90 {:.1f} {:.1f})\"", x, y) : std::string(),
        xml_escape(s));
  }
  double text_width(const std::string& s, double size, bool bold) override {
    return 0.58 * size * static_cast<double>(code_points(s).size()) * (bold ? 1.05 : 1.0);
  }
};

// ---------------------------------------------------------------------------------------- PNG

struct Font {
  std::vector<unsigned char> data;
  stbtt_fontinfo info{};
  bool ok = false;
};

bool load_font(Font& f, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  f.data.assign(std::istreambuf_iterator<char>(in), {});
  f.ok = !f.data.empty() && stbtt_InitFont(&f.info, f.data.data(),
                                           stbtt_GetFontOffsetForIndex(f.data.data(), 0)) != 0;
  return f.ok;
}

class PngPainter : public Painter {
 public:
  PngPainter(int width, int height, const Font& regular, const Font& bold)
      : w_(width * kSs), h_(height * kSs), width_(width), height_(height), regular_(regular),
        bold_(bold.ok ? bold : regular), px_(static_cast<size_t>(w_) * h_ * 3, 255.0f) {}

  void fill(const std::vector<Pt>& pts, Rgb c, double opacity) override {
    if (pts.size() < 3) return;
    double ymin = 1e300, ymax = -1e300;
    for (const auto& p : pts) {
      ymin = std::min(ymin, p.second * kSs);
      ymax = std::max(ymax, p.second * kSs);
    }
    const int y0 = std::max(0, static_cast<int>(std::floor(ymin)));
    const int y1 = std::min(h_ - 1, static_cast<int>(std::ceil(ymax)));
    std::vector<double> xs;
    for (int y = y0; y <= y1; ++y) {
      const double sy = y + 0.5;
      xs.clear();
      for (size_t i = 0; i < pts.size(); ++i) {
        const auto& a = pts[i];
        const auto& b = pts[(i + 1) % pts.size()];
        const double ay = a.second * kSs, by = b.second * kSs;
        if ((ay <= sy && by > sy) || (by <= sy && ay > sy)) {
          xs.push_back(a.first * kSs + (sy - ay) / (by - ay) * (b.first - a.first) * kSs);
        }
      }
      std::sort(xs.begin(), xs.end());
      for (size_t i = 0; i + 1 < xs.size(); i += 2) {
        const int x0 = std::max(0, static_cast<int>(std::ceil(xs[i] - 0.5)));
        const int x1 = std::min(w_ - 1, static_cast<int>(std::floor(xs[i + 1] - 0.5)));
        for (int x = x0; x <= x1; ++x) blend(x, y, c, opacity);
      }
    }
  }
  void polyline(const std::vector<Pt>& pts, Rgb c, double width, bool dashed) override {
    for (size_t i = 0; i + 1 < pts.size(); ++i) {
      if (!dashed) {
        segment(pts[i], pts[i + 1], c, width);
        continue;
      }
      const double dx = pts[i + 1].first - pts[i].first, dy = pts[i + 1].second - pts[i].second;
      const double len = std::hypot(dx, dy);
      for (double t = dash_phase_; t < len; t += 11) {
        const double e = std::min(len, t + 7);
        if (e > t) {
          segment({pts[i].first + dx * t / len, pts[i].second + dy * t / len},
                  {pts[i].first + dx * e / len, pts[i].second + dy * e / len}, c, width);
        }
      }
    }
    if (!dashed) {
      for (size_t i = 1; i + 1 < pts.size(); ++i) circle(pts[i].first, pts[i].second, width / 2, c);
    }
  }
  void circle(double x, double y, double r, Rgb c) override {
    std::vector<Pt> poly;
    for (int k = 0; k < 24; ++k) {
      const double a = 2 * M_PI * k / 24;
      poly.emplace_back(x + r * std::cos(a), y + r * std::sin(a));
    }
    fill(poly, c, 1.0);
  }
  void text(double x, double y, const std::string& s, double size, Rgb c, int anchor,
            bool vertical, bool bold) override {
    const Font& f = bold ? bold_ : regular_;
    const double scale = stbtt_ScaleForPixelHeight(&f.info, static_cast<float>(size * kSs * 1.2));
    int ascent = 0, descent = 0, gap = 0;
    stbtt_GetFontVMetrics(&f.info, &ascent, &descent, &gap);
    const double width = text_width(s, size, bold) * kSs;
    const double shift = anchor < 0 ? 0 : anchor == 0 ? width / 2 : width;
    // Coverage of the string, horizontal, baseline at row `base`.
    const int base = static_cast<int>(std::ceil(ascent * scale));
    const int rows = base + static_cast<int>(std::ceil(-descent * scale)) + 1;
    const int cols = static_cast<int>(std::ceil(width)) + 2;
    std::vector<float> cov(static_cast<size_t>(rows) * cols, 0.f);
    double pen = 0;
    const auto cps = code_points(s);
    for (size_t i = 0; i < cps.size(); ++i) {
      int adv = 0, lsb = 0;
      stbtt_GetCodepointHMetrics(&f.info, cps[i], &adv, &lsb);
      int gw = 0, gh = 0, gx = 0, gy = 0;
      unsigned char* bmp = stbtt_GetCodepointBitmap(&f.info, 0, static_cast<float>(scale), cps[i],
                                                    &gw, &gh, &gx, &gy);
      const int ox = static_cast<int>(std::lround(pen)) + gx, oy = base + gy;
      for (int v = 0; v < gh; ++v) {
        for (int u = 0; u < gw; ++u) {
          const int cx = ox + u, cy = oy + v;
          if (cx < 0 || cy < 0 || cx >= cols || cy >= rows) continue;
          auto& dst = cov[static_cast<size_t>(cy) * cols + cx];
          dst = std::min(1.f, dst + bmp[v * gw + u] / 255.f);
        }
      }
      stbtt_FreeBitmap(bmp, nullptr);
      pen += adv * scale;
      if (i + 1 < cps.size()) pen += stbtt_GetCodepointKernAdvance(&f.info, cps[i], cps[i + 1]) * scale;
    }
    const double X = x * kSs, Y = y * kSs;
    for (int v = 0; v < rows; ++v) {
      for (int u = 0; u < cols; ++u) {
        const float a = cov[static_cast<size_t>(v) * cols + u];
        if (a <= 0) continue;
        const double tu = u - shift, tv = v - base;  // along the text, below the baseline
        const int px = static_cast<int>(std::lround(vertical ? X + tv : X + tu));
        const int py = static_cast<int>(std::lround(vertical ? Y - tu : Y + tv));
        if (px >= 0 && py >= 0 && px < w_ && py < h_) blend(px, py, c, a);
      }
    }
  }
  double text_width(const std::string& s, double size, bool bold) override {
    const Font& f = bold ? bold_ : regular_;
    const double scale = stbtt_ScaleForPixelHeight(&f.info, static_cast<float>(size * 1.2));
    double w = 0;
    const auto cps = code_points(s);
    for (size_t i = 0; i < cps.size(); ++i) {
      int adv = 0, lsb = 0;
      stbtt_GetCodepointHMetrics(&f.info, cps[i], &adv, &lsb);
      w += adv * scale;
      if (i + 1 < cps.size()) w += stbtt_GetCodepointKernAdvance(&f.info, cps[i], cps[i + 1]) * scale;
    }
    return w;
  }

  // 8-bit RGB at the output size (the supersampled canvas averaged down).
  std::vector<unsigned char> rgb() const {
    std::vector<unsigned char> out(static_cast<size_t>(width_) * height_ * 3);
    for (int y = 0; y < height_; ++y) {
      for (int x = 0; x < width_; ++x) {
        for (int ch = 0; ch < 3; ++ch) {
          double sum = 0;
          for (int dy = 0; dy < kSs; ++dy) {
            for (int dx = 0; dx < kSs; ++dx) {
              sum += px_[(static_cast<size_t>(y * kSs + dy) * w_ + (x * kSs + dx)) * 3 + ch];
            }
          }
          out[(static_cast<size_t>(y) * width_ + x) * 3 + ch] =
              static_cast<unsigned char>(std::clamp(sum / (kSs * kSs), 0.0, 255.0) + 0.5);
        }
      }
    }
    return out;
  }

 private:
  static constexpr int kSs = 3;  // supersampling per axis
  void blend(int x, int y, Rgb c, double a) {
    float* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
    p[0] = static_cast<float>(p[0] * (1 - a) + c.r * a);
    p[1] = static_cast<float>(p[1] * (1 - a) + c.g * a);
    p[2] = static_cast<float>(p[2] * (1 - a) + c.b * a);
  }
  void segment(Pt a, Pt b, Rgb c, double width) {
    const double dx = b.first - a.first, dy = b.second - a.second;
    const double len = std::hypot(dx, dy);
    if (len <= 0) return;
    const double nx = -dy / len * width / 2, ny = dx / len * width / 2;
    fill({{a.first + nx, a.second + ny}, {b.first + nx, b.second + ny},
          {b.first - nx, b.second - ny}, {a.first - nx, a.second - ny}},
         c, 1.0);
  }
  int w_, h_, width_, height_;
  const Font& regular_;
  const Font& bold_;
  std::vector<float> px_;
  double dash_phase_ = 0;
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

std::string font_path(bool bold) {
  if (const char* env = std::getenv(bold ? "FOCALAB_FONT_BOLD" : "FOCALAB_FONT")) return env;
  return bold ? "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
              : "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
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

std::string figure_svg(const Figure& figure) {
  const auto [w, h] = figure_size(figure);
  SvgPainter p;
  draw_figure(p, figure, w);
  size_t series = 0;  // data-series: how many series the panels draw (for tests and scripts)
  for (const auto& c : figure.panels) series += c.series.size();
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" data-series=\"{3}\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n{2}</svg>\n",
      w, h, p.body, series);
}

void check_figure_path(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext != ".svg" && ext != ".png") {
    throw harness::UsageError(
        fmt::format("--out {}: the file name must end in .svg or .png", path));
  }
  harness::require_output_file(path, "--out");
}

void write_figure(const Figure& figure, const std::string& path) {
  check_figure_path(path);
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".svg") {
    harness::write_file_atomically(path, figure_svg(figure), "--out");
    return;
  }
  Font regular, bold;
  if (!load_font(regular, font_path(false))) {
    throw harness::DataError(
        fmt::format("{}: no font to draw text with for PNG output (install Debian's "
                    "fonts-dejavu-core, set FOCALAB_FONT to a .ttf file, or write "
                    ".svg)",
                    font_path(false)));
  }
  load_font(bold, font_path(true));
  const auto [w, h] = figure_size(figure);
  PngPainter p(w, h, regular, bold);
  draw_figure(p, figure, w);
  const auto rgb = p.rgb();
  std::string png;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, w, h, 3, rgb.data(), w * 3)) {
    throw harness::DataError(fmt::format("{}: cannot encode the PNG", path));
  }
  harness::write_file_atomically(path, png, "--out");
}

}  // namespace plots
}  // namespace focalab::reports
