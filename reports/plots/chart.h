#pragma once
// Line, point and stacked-area charts for `focalab plot`: the figure is a grid of panels, each
// with its title, axes with ticks, axis labels and a legend, drawn once through cairo onto an
// SVG, PNG or PDF surface (text in DejaVu Sans, Debian's fonts-dejavu-core, through fontconfig;
// $FOCALAB_FONT names another family).

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace focalab::reports {
inline namespace plots {

struct Series {
  std::string name;          // legend entry; "" = not in the legend
  std::vector<double> x, y;
  std::vector<double> yerr;  // optional: error bars (same length as y)
  bool dashed = false;
  bool markers = false;
  int color = -1;            // palette index; -1 = the series' position
};

struct Chart {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  // The series are fractions stacked bottom to top as filled areas (their x must agree).
  bool stacked = false;
  std::optional<std::pair<double, double>> ylim;
  // A logarithmic x axis (ticks at powers of 10); points with x <= 0 are left out.
  bool log_x = false;
};

struct Figure {
  std::string title;  // above the panels; "" = none
  std::vector<Chart> panels;
  int columns = 2;    // panels per row
};

// Throws UsageError unless `path` ends in .svg, .png or .pdf (checked before any work is done).
void check_figure_path(const std::string& path);

// Writes `figure` to `path`: .svg, .png or .pdf (by extension). Throws UsageError for another
// extension and DataError when the file cannot be written.
void write_figure(const Figure& figure, const std::string& path);

// The SVG text of a figure (write_figure's .svg output), for inline use in HTML as well: no XML
// declaration, ids unique to the figure, and `data-series="N"` on the root element (the number
// of series its panels draw).
std::string figure_svg(const Figure& figure);

// Text for XML / HTML content and attribute values: < > & " escaped.
std::string xml_escape(const std::string& s);

}  // namespace plots
}  // namespace focalab::reports
