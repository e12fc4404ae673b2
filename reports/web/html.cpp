#include "reports/web/html.h"

#include "reports/plots/chart.h"

namespace focalab::reports {
inline namespace web {

namespace {

const char* const kStyle = R"(
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:1.5em 2em;color:#222}
h1,h2,h3{font-weight:600} h2{margin-top:0.2em}
nav{margin-bottom:1em;font-size:90%} nav a{margin-right:1em}
table{border-collapse:collapse;margin:0.5em 0} th,td{padding:2px 8px;border-bottom:1px solid #ccc}
th{text-align:left;background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:90%} pre{background:#f7f7f7;padding:8px}
figure{margin:1em 0} figcaption{font-size:80%;color:#666} svg{max-width:100%;height:auto}
.status-done{color:#1a7f37} .status-running{color:#0969da;font-weight:600}
.status-failed,.status-diverged{color:#cf222e} .status-interrupted,.status-pending{color:#9a6700}
.muted{color:#666;font-size:90%} .live{color:#0969da}
)";

}  // namespace

std::string html_page(const std::string& title, const std::string& body,
                      const std::string& script) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                    xml_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n" +
                    body;
  if (!script.empty()) out += "<script>\n" + script + "</script>\n";
  return out + "</body></html>\n";
}

}  // namespace web
}  // namespace focalab::reports
