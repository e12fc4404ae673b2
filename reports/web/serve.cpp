#include "reports/web/serve.h"

#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "harness/run/progress.h"
#include "harness/store/sqlite.h"
#include "harness/store/store.h"
#include "harness/util/errors.h"
#include "harness/util/json.h"
#include "reports/plots/chart.h"
#include "reports/plots/plot.h"
#include "reports/report.h"
#include "reports/stats.h"
#include "reports/sweep_data.h"
#include "reports/web/html.h"

namespace focalab::reports {
inline namespace web {

namespace {

using harness::Database;
using harness::Json;
using harness::Statement;

// Set when the server is asked to stop: a long poll answers at once.
std::atomic<bool> g_stopping{false};

// An answer other than 200: its status and a one-line reason.
struct HttpError : std::runtime_error {
  HttpError(int s, const std::string& what) : std::runtime_error(what), status(s) {}
  int status;
};

std::unique_ptr<Database> open_db(const std::string& path) {
  return std::make_unique<Database>(path, Database::Mode::kReadOnly);
}

// ---- reading -------------------------------------------------------------------------------

struct Counts {
  int64_t trials = 0, done = 0, running = 0, pending = 0, interrupted = 0, failed = 0,
          diverged = 0;
  std::string last_activity;
};

const char* const kCountColumns =
    "count(t.id), ifnull(sum(t.status = 'done'), 0), ifnull(sum(t.status = 'running'), 0), "
    "ifnull(sum(t.status = 'pending'), 0), ifnull(sum(t.status = 'interrupted'), 0), "
    "ifnull(sum(t.status = 'failed'), 0), ifnull(sum(t.status = 'diverged'), 0), "
    "max(s.updated_at, ifnull(max(max(ifnull(t.heartbeat_at, ''), ifnull(t.finished_at, ''))), "
    "''))";

Counts counts_from(const Statement& st, int first) {
  Counts c;
  c.trials = st.get_int(first);
  c.done = st.get_int(first + 1);
  c.running = st.get_int(first + 2);
  c.pending = st.get_int(first + 3);
  c.interrupted = st.get_int(first + 4);
  c.failed = st.get_int(first + 5);
  c.diverged = st.get_int(first + 6);
  c.last_activity = st.get_text(first + 7);
  return c;
}

std::vector<std::pair<std::string, Counts>> all_sweeps(Database& db) {
  auto st = db.prepare(fmt::format(
      "SELECT s.name, {} FROM sweeps s LEFT JOIN sweep_trials st ON st.sweep_id = s.id LEFT JOIN "
      "trials t ON t.id = st.trial_id GROUP BY s.id ORDER BY s.updated_at DESC, s.id DESC",
      kCountColumns));
  std::vector<std::pair<std::string, Counts>> out;
  while (st.step()) out.emplace_back(st.get_text(0), counts_from(st, 1));
  return out;
}

std::optional<Counts> sweep_counts(Database& db, const std::string& name) {
  auto st = db.prepare(fmt::format(
      "SELECT {} FROM sweeps s LEFT JOIN sweep_trials st ON st.sweep_id = s.id LEFT JOIN trials t "
      "ON t.id = st.trial_id WHERE s.name = ?1 GROUP BY s.id",
      kCountColumns));
  st.bind(1, name);
  if (!st.step()) return std::nullopt;
  return counts_from(st, 0);
}

// How far a trial is: its last logged iteration, the iterations it runs, the last interval's
// time per iteration and what remains of training at that pace.
struct TrialProgress {
  std::string key, status, heartbeat_at, error;
  int64_t iteration = 0, iterations = 0;
  double ms_per_iter = NAN;
  double eta_seconds() const {
    if (!std::isfinite(ms_per_iter) || iterations <= iteration) return 0;
    return static_cast<double>(iterations - iteration) * ms_per_iter / 1000.0;
  }
  Json json() const {
    return {{"key", key},
            {"status", status},
            {"iteration", iteration},
            {"iterations", iterations},
            {"ms_per_iter", harness::json_number(ms_per_iter)},
            {"eta_seconds", harness::json_number(eta_seconds())},
            {"heartbeat_at", heartbeat_at},
            {"error", error}};
  }
};

// `config_out`, when given, receives the trial's stored config (flat JSON).
std::optional<TrialProgress> trial_progress(Database& db, const std::string& key,
                                            Json* config_out = nullptr) {
  auto st = db.prepare(
      "SELECT t.key, t.status, ifnull(t.heartbeat_at, ''), ifnull(t.error, ''), "
      "ifnull(t.config_json, '{}'), "
      "ifnull((SELECT max(iteration) FROM train_steps WHERE trial_id = t.id), 0), "
      "(SELECT ms_per_iter FROM train_steps WHERE trial_id = t.id ORDER BY iteration DESC "
      "LIMIT 1) FROM trials t WHERE t.key = ?1");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  TrialProgress p;
  p.key = st.get_text(0);
  p.status = st.get_text(1);
  p.heartbeat_at = st.get_text(2);
  p.error = st.get_text(3);
  Json config = harness::parse_json<harness::StoreError>(
      st.get_text(4), harness::stored_config_name(db.path(), p.key));
  const auto iterations = config.find("train.iterations");
  p.iterations = iterations != config.end() && iterations->is_number_integer()
                     ? iterations->get<int64_t>()
                     : 0;
  p.iteration = st.get_int(5);
  if (!st.is_null(6)) p.ms_per_iter = st.get_double(6);
  if (config_out) *config_out = std::move(config);
  return p;
}

std::vector<TrialProgress> running_trials(Database& db, const std::string& sweep) {
  auto st = db.prepare(
      "SELECT t.key FROM sweeps s JOIN sweep_trials st ON st.sweep_id = s.id JOIN trials t ON "
      "t.id = st.trial_id WHERE s.name = ?1 AND t.status = 'running' ORDER BY st.position");
  st.bind(1, sweep);
  std::vector<std::string> keys;
  while (st.step()) keys.push_back(st.get_text(0));
  std::vector<TrialProgress> out;
  for (const auto& k : keys) {
    if (auto p = trial_progress(db, k)) out.push_back(*p);
  }
  return out;
}

// ---- request checks ------------------------------------------------------------------------

bool is_trial_key(const std::string& s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Any name a sweep file can give (it is looked up as a bound parameter), within a bound.
std::string checked_sweep_name(const std::string& s) {
  if (s.empty() || s.size() > 4096) throw HttpError(400, "a sweep name is 1 to 4096 bytes");
  return s;
}

std::string checked_trial_key(const std::string& s) {
  if (!is_trial_key(s)) {
    throw HttpError(400, "a trial key is 16 lowercase hex digits (as `focalab sweep plan` lists)");
  }
  return s;
}

// Only the named query parameters, each a whole number in [0, max].
std::map<std::string, int64_t> checked_params(const httplib::Request& req,
                                              const std::map<std::string, int64_t>& allowed) {
  std::map<std::string, int64_t> out;
  for (const auto& [name, value] : req.params) {
    const auto it = allowed.find(name);
    if (it == allowed.end()) {
      std::vector<std::string> names;
      for (const auto& a : allowed) names.push_back(a.first);
      throw HttpError(400, fmt::format("unknown parameter '{}'{}", name.substr(0, 64),
                                       names.empty() ? std::string(" (this page takes none)")
                                                     : fmt::format("; allowed: {}",
                                                                   fmt::join(names, ", "))));
    }
    const bool digits = !value.empty() && value.size() <= 15 &&
                        std::all_of(value.begin(), value.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    const int64_t v = digits ? std::stoll(value) : -1;
    if (!digits || v > it->second) {
      throw HttpError(400, fmt::format("parameter '{}': a whole number 0..{}, got '{}'", name,
                                       it->second, value.substr(0, 64)));
    }
    out[name] = v;
  }
  return out;
}

// ---- HTML pieces ---------------------------------------------------------------------------

std::string esc(const std::string& s) { return xml_escape(s); }

// A JavaScript string literal that is safe inside <script>: JSON, with '<' escaped so that no
// "</script>" in a name can end the script.
std::string js_string(const std::string& s) {
  std::string out;
  for (char c : harness::compact_json(Json(s)))
    out += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return out;
}

std::string status_span(const std::string& status, const std::string& id = "") {
  return fmt::format("<span class=\"status-{0}\"{1}>{0}</span>", esc(status),
                     id.empty() ? std::string() : " id=\"" + id + "\"");
}

std::string url_part(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string nav(const std::string& db_path, const std::string& extra = "") {
  return fmt::format("<nav><a href=\"/\">sweeps</a>{} <span class=\"muted\">{} (read-only) · "
                     "<span id=\"updated\">live</span></span></nav>\n",
                     extra, esc(db_path));
}

std::string fmt_eta(double seconds) {
  return seconds > 0 ? harness::format_duration(seconds) : "–";
}

std::string fmt_ms(double ms) { return std::isfinite(ms) ? fmt::format("{:.0f}", ms) : "–"; }

// A config stored flat ({"loss.kind": "focal", ...}) as the nested YAML a sweep file would hold.
YAML::Node yaml_of(const Json& j) {
  if (j.is_array()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& item : j) list.push_back(yaml_of(item));
    return list;
  }
  if (j.is_string()) return YAML::Node(j.get<std::string>());
  return YAML::Node(harness::compact_json(j));  // numbers, true / false, null as JSON spells them
}

// A stored config (flat JSON, `data.num_classes`) as nested YAML.
std::string config_yaml(const Json& flat) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& [key, value] : flat.items()) {
    const auto dot = key.find('.');
    if (dot == std::string::npos) {
      root[key] = yaml_of(value);
    } else {
      root[key.substr(0, dot)][key.substr(dot + 1)] = yaml_of(value);
    }
  }
  YAML::Emitter out;
  out.SetSeqFormat(YAML::Flow);
  out << root;
  return out.c_str();
}

const char* const kCountNames[] = {"done", "running", "pending", "interrupted", "failed",
                                   "diverged"};

std::vector<int64_t> count_values(const Counts& c) {
  return {c.done, c.running, c.pending, c.interrupted, c.failed, c.diverged};
}

Json counts_json(const Counts& c) {
  Json out = {{"trials", c.trials}};
  const auto v = count_values(c);
  for (size_t i = 0; i < v.size(); ++i) out[kCountNames[i]] = v[i];
  out["last_activity"] = c.last_activity;
  return out;
}

// ---- the live part: shared by the pages --------------------------------------------------------

// Polls `url` every `ms` and passes the JSON to `apply`; marks the page live (body data-live),
// and shows the time of the last answer in #updated.
const char* const kLiveScript = R"(
function focalabPoll(url, ms, apply) {
  async function once() {
    try {
      const r = await fetch(url, {cache: 'no-store'});
      if (!r.ok) throw new Error(r.status);
      apply(await r.json());
      document.body.dataset.live = 'ok';
      document.getElementById('updated').textContent =
          'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      document.body.dataset.live = 'error';
      document.getElementById('updated').textContent = 'not updating: ' + e.message;
    }
    setTimeout(once, ms);
  }
  once();
}
function focalabDuration(s) {
  if (!(s > 0)) return '–';
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = Math.round(s % 60);
  return h > 0 ? h + 'h ' + m + 'm' : m > 0 ? m + 'm ' + r + 's' : r + 's';
}
)";

// ---- pages ---------------------------------------------------------------------------------

std::string sweeps_page(const ServeOptions& o) {
  auto db = open_db(o.db_path);
  const auto sweeps = all_sweeps(*db);
  std::string body = nav(o.db_path);
  body += fmt::format("<h2>Sweeps in <code>{}</code></h2>\n", esc(o.db_path));
  if (sweeps.empty()) {
    body += "<p>No sweep yet: <code>focalab sweep run experiments/quick.yaml</code> writes one; "
            "this page shows it as it runs.</p>\n";
  }
  body += "<table id=\"sweeps\">\n<thead><tr><th>sweep</th><th>trials</th>";
  for (const char* n : kCountNames) body += fmt::format("<th>{}</th>", n);
  body += "<th>last activity (UTC)</th></tr></thead>\n<tbody>\n";
  for (const auto& [name, c] : sweeps) {
    body += fmt::format("<tr data-sweep=\"{0}\"><td><a href=\"/sweep/{1}\">{0}</a></td><td "
                        "class=\"num\" data-col=\"trials\">{2}</td>",
                        esc(name), url_part(name), c.trials);
    const auto v = count_values(c);
    for (size_t i = 0; i < v.size(); ++i) {
      body += fmt::format("<td class=\"num\" data-col=\"{}\">{}</td>", kCountNames[i], v[i]);
    }
    body += fmt::format("<td data-col=\"last_activity\">{}</td></tr>\n", esc(c.last_activity));
  }
  body += "</tbody></table>\n";
  const std::string script = std::string(kLiveScript) + fmt::format(R"(
const known = {};
focalabPoll('/api/sweeps', 3000, function (d) {{
  if (d.sweeps.length !== known) {{ location.reload(); return; }}
  for (const s of d.sweeps) {{
    const row = document.querySelector('tr[data-sweep="' + CSS.escape(s.name) + '"]');
    if (!row) {{ location.reload(); return; }}
    for (const cell of row.querySelectorAll('td[data-col]')) cell.textContent = s[cell.dataset.col];
  }}
}});
)",
                                                                 sweeps.size());
  return html_page("focalab: sweeps", body, script);
}

std::string sweeps_json(const ServeOptions& o) {
  auto db = open_db(o.db_path);
  Json sweeps = Json::array();
  for (const auto& [name, c] : all_sweeps(*db)) {
    Json sweep = {{"name", name}};
    sweep.update(counts_json(c));
    sweeps.push_back(std::move(sweep));
  }
  return harness::compact_json({{"sweeps", std::move(sweeps)}}) + "\n";
}

std::string sweep_json(const ServeOptions& o, const std::string& name) {
  auto db = open_db(o.db_path);
  const auto counts = sweep_counts(*db, name);
  if (!counts) throw HttpError(404, fmt::format("no sweep '{}' in {}", name.substr(0, 64), o.db_path));
  Json running = Json::array();
  for (const auto& p : running_trials(*db, name)) running.push_back(p.json());
  return harness::compact_json(
             {{"name", name}, {"counts", counts_json(*counts)}, {"running", std::move(running)}}) +
         "\n";
}

std::string sweep_page(const ServeOptions& o, const std::string& name) {
  std::optional<Counts> counts;
  SweepData data;
  std::vector<TrialProgress> running;
  {
    auto db = open_db(o.db_path);
    counts = sweep_counts(*db, name);
    if (!counts) {
      throw HttpError(404, fmt::format("no sweep '{}' in {}", name.substr(0, 64), o.db_path));
    }
    data = load_sweep_data(*db, o.db_path, name);
    running = running_trials(*db, name);
  }
  const auto varied = varied_config_keys(data.trials);
  auto label = [&](const TrialData& t) {
    std::string s;
    for (const auto& k : varied) s += (s.empty() ? "" : " ") + k + "=" + config_cell(t, k);
    return s.empty() ? std::string("–") : s;
  };
  std::map<std::string, const TrialData*> by_key;
  for (const auto& t : data.trials) by_key[t.key] = &t;

  std::string body = nav(o.db_path, fmt::format("<a href=\"/sweep/{}\">{}</a>", url_part(name),
                                                esc(name)));
  body += "<p id=\"counts\">";
  const auto v = count_values(*counts);
  for (size_t i = 0; i < v.size(); ++i) {
    body += fmt::format("{}<span data-count=\"{}\">{}</span> {}", i ? " · " : "", kCountNames[i],
                        v[i], kCountNames[i]);
  }
  body += fmt::format(" <span class=\"muted\">of {} trials</span></p>\n", counts->trials);
  body += "<h3>Running</h3>\n<table id=\"running\"><thead><tr><th>trial</th><th>config</th>"
          "<th>seed</th><th>iteration</th><th>ms/iter</th><th>ETA</th><th>heartbeat "
          "(UTC)</th></tr></thead>\n<tbody>\n";
  for (const auto& p : running) {
    const auto* t = by_key.count(p.key) ? by_key[p.key] : nullptr;
    body += fmt::format(
        "<tr data-key=\"{0}\"><td><a href=\"/trial/{8}\"><code>{0}</code></a></td><td>{1}</td>"
        "<td class=\"num\">{2}</td><td class=\"num\" data-col=\"iteration\">{3} / {4}</td><td "
        "class=\"num\" data-col=\"ms\">{5}</td><td class=\"num\" data-col=\"eta\">{6}</td><td "
        "data-col=\"heartbeat\">{7}</td></tr>\n",
        esc(p.key), t ? esc(label(*t)) : "", t ? t->seed : 0, p.iteration, p.iterations,
        fmt_ms(p.ms_per_iter), fmt_eta(p.eta_seconds()), esc(p.heartbeat_at), url_part(p.key));
  }
  body += "</tbody></table>\n";
  if (running.empty()) body += "<p class=\"muted\" id=\"none-running\">none now</p>\n";

  ReportOptions ro;
  ro.db_path = o.db_path;
  ro.sweep = name;
  ro.format = "html";
  ro.fragment = true;
  body += "<div id=\"report\">\n" + render_report(ro) + "</div>\n";

  body += "<h3>Trials</h3>\n<table id=\"trials\"><thead><tr><th>trial</th><th>config</th>"
          "<th>seed</th><th>status</th><th>AP</th><th>AP50</th><th>AP75</th></tr></thead>\n"
          "<tbody>\n";
  for (const auto& t : data.trials) {
    auto metric = [&](const char* m) {
      const auto it = t.metrics.find(m);
      return it != t.metrics.end() && it->second >= 0 ? fmt::format("{:.1f}", 100 * it->second)
                                                      : std::string("–");
    };
    body += fmt::format(
        "<tr><td><a href=\"/trial/{7}\"><code>{0}</code></a></td><td>{1}</td><td "
        "class=\"num\">{2}</td><td>{3}</td><td class=\"num\">{4}</td><td class=\"num\">{5}</td>"
        "<td class=\"num\">{6}</td></tr>\n",
        esc(t.key), esc(label(t)), t.seed, status_span(t.status), metric("AP"), metric("AP50"),
        metric("AP75"), url_part(t.key));
  }
  body += "</tbody></table>\n";

  const std::string script = std::string(kLiveScript) + fmt::format(R"(
const finished = {};
focalabPoll('/api/sweep/' + {}, 3000, function (d) {{
  for (const el of document.querySelectorAll('[data-count]')) el.textContent = d.counts[el.dataset.count];
  const now = d.counts.done + d.counts.failed + d.counts.diverged;
  const rows = document.querySelectorAll('#running tr[data-key]');
  if (now !== finished || d.running.length !== rows.length) {{ location.reload(); return; }}
  for (const p of d.running) {{
    const row = document.querySelector('#running tr[data-key="' + CSS.escape(p.key) + '"]');
    if (!row) {{ location.reload(); return; }}
    row.querySelector('[data-col=iteration]').textContent = p.iteration + ' / ' + p.iterations;
    row.querySelector('[data-col=ms]').textContent =
        p.ms_per_iter === null ? '–' : Math.round(p.ms_per_iter);
    row.querySelector('[data-col=eta]').textContent = focalabDuration(p.eta_seconds);
    row.querySelector('[data-col=heartbeat]').textContent = p.heartbeat_at;
  }}
}});
)",
                                                                 counts->done + counts->failed +
                                                                     counts->diverged,
                                                                 js_string(url_part(name)));
  return html_page("focalab sweep " + name, body, script);
}

Series named(const std::string& name) {
  Series s;
  s.name = name;
  return s;
}

// The trial's figures: losses and learning rate over training; where the classification loss
// came from (stacked shares of positives, hard and easy negatives).
std::string trial_figures(Database& db, int64_t id) {
  Chart losses, lr, shares;
  losses.title = "loss per iteration (interval means)";
  losses.xlabel = "iteration";
  losses.ylabel = "normalized loss";
  lr.title = "learning rate";
  lr.xlabel = "iteration";
  lr.ylabel = "lr";
  Series cls = named("classification"), box = named("box regression"), rate = named("lr");
  {
    auto st = db.prepare(
        "SELECT iteration, loss_cls, loss_box, lr FROM train_steps WHERE trial_id = ?1 ORDER BY "
        "iteration");
    st.bind(1, id);
    std::vector<std::array<double, 4>> rows;
    while (st.step()) {
      rows.push_back({static_cast<double>(st.get_int(0)), st.is_null(1) ? NAN : st.get_double(1),
                      st.is_null(2) ? NAN : st.get_double(2),
                      st.is_null(3) ? NAN : st.get_double(3)});
    }
    const size_t step = std::max<size_t>(1, rows.size() / 1000);  // at most ~1,000 points
    for (size_t i = 0; i < rows.size(); i += step) {
      const auto& r = rows[i];
      if (std::isfinite(r[1])) cls.x.push_back(r[0]), cls.y.push_back(r[1]);
      if (std::isfinite(r[2])) box.x.push_back(r[0]), box.y.push_back(r[2]);
      if (std::isfinite(r[3])) rate.x.push_back(r[0]), rate.y.push_back(r[3]);
    }
  }
  std::string out;
  if (!cls.x.empty() || !box.x.empty()) {
    losses.series = {cls, box};
    lr.series = {rate};
    Figure f;
    f.panels = {losses, lr};
    f.columns = 2;
    out += "<figure id=\"plot-losses\">\n" + figure_svg(f) + "</figure>\n";
  }
  {
    auto st = db.prepare(
        "SELECT iteration, category, loss_sum FROM loss_breakdown WHERE trial_id = ?1 AND "
        "class_id = -1 ORDER BY iteration");
    st.bind(1, id);
    std::map<int64_t, std::map<std::string, double>> by_iter;
    while (st.step()) by_iter[st.get_int(0)][st.get_text(1)] += st.get_double(2);
    Series pos = named("positives"), hard = named("hard negatives"), easy = named("easy negatives");
    for (const auto& [it, m] : by_iter) {
      double total = 0;
      for (const auto& kv : m) total += kv.second;
      if (!(total > 0)) continue;
      auto share = [&](const char* c) { return m.count(c) ? m.at(c) / total : 0.0; };
      for (Series* s : {&pos, &hard, &easy}) s->x.push_back(static_cast<double>(it));
      pos.y.push_back(share("positive"));
      hard.y.push_back(share("hard_negative"));
      easy.y.push_back(share("easy_negative"));
    }
    if (!pos.x.empty()) {
      shares.title = "share of the classification loss";
      shares.xlabel = "iteration";
      shares.ylabel = "share";
      shares.stacked = true;
      shares.ylim = std::make_pair(0.0, 1.0);
      shares.series = {pos, hard, easy};
      Figure f;
      f.panels = {shares};
      f.columns = 1;
      out += "<figure id=\"plot-loss-share\">\n" + figure_svg(f) + "</figure>\n";
    }
  }
  return out;
}

std::string trial_page(const ServeOptions& o, const std::string& key) {
  auto db = open_db(o.db_path);
  auto st = db->prepare(
      "SELECT id, seed, status, attempts, ifnull(host, ''), ifnull(pid, ''), ifnull(device, ''), "
      "ifnull(started_at, ''), ifnull(finished_at, ''), ifnull(heartbeat_at, ''), "
      "ifnull(error, ''), diverged_at_iter, ifnull(checkpoint_path, '') FROM trials "
      "WHERE key = ?1");
  st.bind(1, key);
  if (!st.step()) throw HttpError(404, fmt::format("no trial {} in {}", key, o.db_path));
  const int64_t id = st.get_int(0);
  const std::string status = st.get_text(2);
  Json config;
  const auto progress = trial_progress(*db, key, &config);
  std::string body = nav(o.db_path);
  body += fmt::format("<h2>Trial <code>{}</code> {}</h2>\n", key, status_span(status, "status"));
  body += fmt::format(
      "<p id=\"progress\">iteration <span id=\"iteration\">{}</span> / {} · <span "
      "id=\"ms\">{}</span> ms/iter · ETA <span id=\"eta\">{}</span></p>\n",
      progress->iteration, progress->iterations, fmt_ms(progress->ms_per_iter),
      status == "running" ? fmt_eta(progress->eta_seconds()) : "–");
  std::vector<std::pair<std::string, std::string>> facts = {
      {"seed", std::to_string(st.get_int(1))},
      {"attempts", std::to_string(st.get_int(3))},
      {"host", st.get_text(4)},
      {"pid", st.get_text(5)},
      {"device", st.get_text(6)},
      {"started (UTC)", st.get_text(7)},
      {"finished (UTC)", st.get_text(8)},
      {"heartbeat (UTC)", st.get_text(9)},
      {"error", st.get_text(10)},
      {"diverged at iteration", st.is_null(11) ? "" : std::to_string(st.get_int(11))},
      {"checkpoint", st.get_text(12)}};
  {
    auto sw = db->prepare(
        "SELECT s.name FROM sweeps s JOIN sweep_trials st ON st.sweep_id = s.id WHERE "
        "st.trial_id = ?1 ORDER BY s.name");
    sw.bind(1, id);
    std::string links;
    while (sw.step()) {
      links += fmt::format("{}<a href=\"/sweep/{}\">{}</a>", links.empty() ? "" : ", ",
                           url_part(sw.get_text(0)), esc(sw.get_text(0)));
    }
    body += "<table id=\"facts\"><tbody>\n";
    for (const auto& [k, v] : facts) {
      if (!v.empty()) body += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", k, esc(v));
    }
    body += fmt::format("<tr><th>sweeps</th><td>{}</td></tr>\n</tbody></table>\n", links);
  }
  body += "<h3>Training</h3>\n" + trial_figures(*db, id);

  // Where the loss came from, per class: each class's share of the classification loss over
  // all of training, and within the class, the positives' share.
  {
    auto cl = db->prepare(
        "SELECT b.class_id, sum(b.loss_sum), sum(CASE WHEN b.category = 'positive' THEN "
        "b.loss_sum ELSE 0 END), sum(CASE WHEN b.category = 'easy_negative' THEN b.loss_sum ELSE "
        "0 END), (SELECT class_name FROM class_ap c WHERE c.trial_id = b.trial_id AND c.class_id "
        "= b.class_id LIMIT 1) FROM loss_breakdown b WHERE b.trial_id = ?1 AND b.class_id >= 0 "
        "GROUP BY b.class_id ORDER BY b.class_id");
    cl.bind(1, id);
    std::vector<std::tuple<int64_t, double, double, double, std::string>> rows;
    double total = 0;
    while (cl.step()) {
      rows.emplace_back(cl.get_int(0), cl.get_double(1), cl.get_double(2), cl.get_double(3),
                        cl.get_text(4));
      total += cl.get_double(1);
    }
    if (!rows.empty() && total > 0) {
      body += "<h3>Classification loss per class (all of training)</h3>\n<table "
              "id=\"class-loss\"><thead><tr><th>class</th><th>share of the loss</th><th>from "
              "positives</th><th>from easy negatives</th></tr></thead><tbody>\n";
      for (const auto& [c, sum, pos, easy, cname] : rows) {
        body += fmt::format(
            "<tr><td>{}</td><td class=\"num\">{:.1f}%</td><td class=\"num\">{:.1f}%</td><td "
            "class=\"num\">{:.1f}%</td></tr>\n",
            esc(cname.empty() ? std::to_string(c) : cname), 100 * sum / total,
            sum > 0 ? 100 * pos / sum : 0.0, sum > 0 ? 100 * easy / sum : 0.0);
      }
      body += "</tbody></table>\n";
    }
  }

  // Evaluations, the last one with its bootstrap interval.
  {
    auto ev = db->prepare(
        "SELECT iteration, split, metric, value FROM evaluations WHERE trial_id = ?1 ORDER BY "
        "iteration, split");
    ev.bind(1, id);
    std::map<std::pair<int64_t, std::string>, std::map<std::string, double>> evals;
    while (ev.step()) {
      evals[{ev.get_int(0), ev.get_text(1)}][ev.get_text(2)] = ev.is_null(3) ? -1 : ev.get_double(3);
    }
    if (!evals.empty()) {
      const char* metrics[] = {"AP", "AP50", "AP75", "APs", "APm", "APl"};
      body += "<h3>Evaluations</h3>\n<table id=\"evaluations\"><thead><tr><th>iteration</th>"
              "<th>split</th>";
      for (const char* m : metrics) body += fmt::format("<th>{}</th>", m);
      body += "<th>AP 95% bootstrap interval</th></tr></thead><tbody>\n";
      for (const auto& [at, m] : evals) {
        body += fmt::format("<tr><td class=\"num\">{}</td><td>{}</td>", at.first, esc(at.second));
        for (const char* name : metrics) {
          const auto it = m.find(name);
          body += fmt::format("<td class=\"num\">{}</td>",
                              it != m.end() && it->second >= 0
                                  ? fmt::format("{:.1f}", 100 * it->second)
                                  : std::string("–"));
        }
        std::string interval = "–";
        auto bs = db->prepare(
            "SELECT ap FROM bootstrap WHERE trial_id = ?1 AND iteration = ?2 AND split = ?3 ORDER "
            "BY replicate");
        bs.bind(1, id).bind(2, at.first).bind(3, at.second);
        std::vector<double> reps;
        while (bs.step()) reps.push_back(bs.is_null(0) ? NAN : bs.get_double(0));
        if (m.count("AP") && m.at("AP") >= 0) {
          if (const auto ci = bootstrap_interval(m.at("AP"), reps, {})) {
            interval = fmt::format("[{:.1f}, {:.1f}]", 100 * ci->lo, 100 * ci->hi);
          }
        }
        body += fmt::format("<td class=\"num\">{}</td></tr>\n", interval);
      }
      body += "</tbody></table>\n";
      const auto& last = evals.rbegin()->first;
      auto ca = db->prepare(
          "SELECT class_id, ifnull(class_name, ''), ap, ap50 FROM class_ap WHERE trial_id = ?1 "
          "AND iteration = ?2 AND split = ?3 ORDER BY class_id");
      ca.bind(1, id).bind(2, last.first).bind(3, last.second);
      std::string rows;
      while (ca.step()) {
        auto pct = [&](int i) {
          return ca.is_null(i) || ca.get_double(i) < 0 ? std::string("–")
                                                       : fmt::format("{:.1f}", 100 * ca.get_double(i));
        };
        rows += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td "
                            "class=\"num\">{}</td></tr>\n",
                            esc(ca.get_text(1).empty() ? std::to_string(ca.get_int(0))
                                                       : ca.get_text(1)),
                            pct(2), pct(3));
      }
      if (!rows.empty()) {
        body += fmt::format("<h3>Per-class AP (iteration {}, {})</h3>\n<table id=\"class-ap\">"
                            "<thead><tr><th>class</th><th>AP</th><th>AP50</th></tr></thead>"
                            "<tbody>\n{}</tbody></table>\n",
                            last.first, esc(last.second), rows);
      }
    }
  }
  {
    auto cdf = db->prepare("SELECT count(*) FROM loss_cdf WHERE trial_id = ?1");
    cdf.bind(1, id);
    if (cdf.step() && cdf.get_int(0) > 0) {
      PlotOptions po;
      po.db_path = o.db_path;
      po.kind = "loss-cdf";
      po.trial = key;
      try {
        body += "<h3>Figure 4: how the loss spreads over the examples</h3>\n<figure "
                "id=\"plot-loss-cdf\">\n" + plot_svg(po) + "</figure>\n";
      } catch (const harness::UsageError&) {  // a trial no sweep holds any more: no figure
      }
    }
  }
  body += "<h3>Config (resolved)</h3>\n<pre id=\"config\">" + esc(config_yaml(config)) +
          "</pre>\n";
  body += "<p class=\"muted\" id=\"seen\" data-seen=\"\"></p>\n";

  // A running trial: long polls for the next logged iteration; the page reloads when the
  // trial's status changes (its evaluation and final rows are then in).
  const std::string script = std::string(kLiveScript) + fmt::format(R"(
const key = {};
let status = {}, after = {};
async function follow() {{
  while (true) {{
    try {{
      const r = await fetch('/api/trial/' + key + '?after=' + after + '&wait={}', {{cache: 'no-store'}});
      if (!r.ok) throw new Error(r.status);
      const p = await r.json();
      document.body.dataset.live = 'ok';
      document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      document.getElementById('iteration').textContent = p.iteration;
      document.getElementById('ms').textContent = p.ms_per_iter === null ? '–' : Math.round(p.ms_per_iter);
      document.getElementById('eta').textContent = focalabDuration(p.eta_seconds);
      const seen = document.getElementById('seen');
      if (p.iteration !== after) seen.dataset.seen = (seen.dataset.seen + ' ' + p.iteration).trim();
      after = p.iteration;
      if (p.status !== status) {{ location.reload(); return; }}
    }} catch (e) {{
      document.body.dataset.live = 'error';
      document.getElementById('updated').textContent = 'not updating: ' + e.message;
    }}
    await new Promise(function (ok) {{ setTimeout(ok, 1000); }});
  }}
}}
if (status === 'running' || status === 'pending' || status === 'interrupted') follow();
else {{
  document.body.dataset.live = 'ok';
  document.getElementById('updated').textContent = 'the trial has ended: nothing to follow';
}}
)",
                                                                 js_string(key), js_string(status),
                                                                 progress->iteration,
                                                                 std::min(o.max_wait_seconds, 10));
  return html_page("focalab trial " + key, body, script);
}

std::string trial_json(const ServeOptions& o, const std::string& key,
                       const std::map<std::string, int64_t>& params) {
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::seconds(params.count("wait") ? params.at("wait") : 0);
  for (;;) {
    std::optional<TrialProgress> p;
    {
      auto db = open_db(o.db_path);
      p = trial_progress(*db, key);
    }
    if (!p) throw HttpError(404, fmt::format("no trial {} in {}", key, o.db_path));
    const bool waiting = params.count("after") && p->iteration <= params.at("after") &&
                         (p->status == "running" || p->status == "pending");
    if (!waiting || g_stopping.load() || std::chrono::steady_clock::now() >= deadline) {
      return harness::compact_json(p->json()) + "\n";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}

std::string error_page(int status, const std::string& message) {
  return html_page(fmt::format("focalab: {}", status),
                   fmt::format("<nav><a href=\"/\">sweeps</a></nav>\n<h2>{} {}</h2>\n<p "
                               "id=\"error\">{}</p>\n",
                               status, status_text(status), esc(message)));
}

}  // namespace

void serve(const ServeOptions& o, const std::function<void(const std::string&)>& ready) {
  require_results_db(o.db_path);
  {
    Database check(o.db_path, Database::Mode::kReadOnly,
                   [](Database& db) { harness::results_schema_version(db); });
  }
  httplib::Server server;
  const int threads = std::max(2, o.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_read_timeout(10, 0);
  server.set_write_timeout(10, 0);
  server.set_keep_alive_max_count(100);
  server.set_payload_max_length(64 * 1024);
  // SO_REUSEADDR only: the library's default, SO_REUSEPORT, lets a second server bind a port
  // that one is already listening on, and the two then split the requests between them.
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  // Every handler: an HttpError is its status, a bad database 503, anything else 500; HTML for
  // pages, JSON for /api.
  auto handle = [](auto&& make, bool json) {
    return [make, json](const httplib::Request& req, httplib::Response& res) {
      int status = 200;
      std::string message;
      try {
        const std::string content = make(req);
        res.set_content(content, json ? "application/json" : "text/html; charset=utf-8");
        res.set_header("Cache-Control", "no-store");
        return;
      } catch (const HttpError& e) {
        status = e.status;
        message = e.what();
      } catch (const harness::UsageError& e) {
        status = 400;
        message = e.what();
      } catch (const harness::StoreError& e) {
        status = 503;
        message = e.what();
      } catch (const std::exception& e) {
        status = 500;
        message = e.what();
      }
      res.status = status;
      if (json) {
        res.set_content(harness::compact_json({{"error", message}}) + "\n", "application/json");
      } else {
        res.set_content(error_page(status, message), "text/html; charset=utf-8");
      }
    };
  };
  server.Get("/", handle(
                      [&o](const httplib::Request& req) {
                        checked_params(req, {});
                        return sweeps_page(o);
                      },
                      false));
  server.Get(R"(/sweep/([\s\S]*))", handle(
                                   [&o](const httplib::Request& req) {
                                     checked_params(req, {});
                                     return sweep_page(o, checked_sweep_name(req.matches[1]));
                                   },
                                   false));
  server.Get(R"(/trial/(.*))", handle(
                                   [&o](const httplib::Request& req) {
                                     checked_params(req, {});
                                     return trial_page(o, checked_trial_key(req.matches[1]));
                                   },
                                   false));
  server.Get("/api/sweeps", handle(
                                [&o](const httplib::Request& req) {
                                  checked_params(req, {});
                                  return sweeps_json(o);
                                },
                                true));
  server.Get(R"(/api/sweep/([\s\S]*))", handle(
                                       [&o](const httplib::Request& req) {
                                         checked_params(req, {});
                                         return sweep_json(o, checked_sweep_name(req.matches[1]));
                                       },
                                       true));
  server.Get(R"(/api/trial/(.*))",
             handle(
                 [&o](const httplib::Request& req) {
                   const auto params = checked_params(
                       req, {{"after", 1'000'000'000'000}, {"wait", o.max_wait_seconds}});
                   return trial_json(o, checked_trial_key(req.matches[1]), params);
                 },
                 true));
  server.set_error_handler(httplib::Server::Handler([](const httplib::Request& req,
                                                      httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own answer
    const std::string message =
        res.status == 404 ? fmt::format("no page {} (pages: /, /sweep/NAME, /trial/KEY)",
                                        req.path.substr(0, 128))
                          : std::string(status_text(res.status));
    res.set_content(error_page(res.status, message), "text/html; charset=utf-8");
  }));

  // SIGINT / SIGTERM stop the server: blocked in every thread (the pool's threads inherit the
  // mask) and taken by one watcher.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  std::atomic<bool> done{false};
  g_stopping.store(false);
  std::thread watcher([&] {
    const timespec tick{0, 200'000'000};
    while (!done.load()) {
      if (sigtimedwait(&stop_signals, nullptr, &tick) > 0) {
        g_stopping.store(true);
        // stop() does nothing before the server listens: a signal that came during the bind is
        // kept until it does (or until serve returns without listening).
        while (!done.load() && !server.is_running()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        server.stop();
        return;
      }
    }
  });
  struct Cleanup {
    std::atomic<bool>& done;
    std::thread& watcher;
    sigset_t mask;
    ~Cleanup() {
      done.store(true);
      watcher.join();
      pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    }
  } cleanup{done, watcher, old_mask};

  int port = o.port;
  if (port == 0) {
    port = server.bind_to_any_port(o.host.c_str());
    if (port < 0) throw harness::UsageError(fmt::format("--host {}: cannot listen there", o.host));
  } else if (!server.bind_to_port(o.host.c_str(), port)) {
    throw harness::UsageError(
        fmt::format("--port {}: cannot listen on {}:{} (in use by another program? "
                    "--port 0 takes a free one)",
                    port, o.host, port));
  }
  const bool v6 = o.host.find(':') != std::string::npos;
  ready(fmt::format("http://{}:{}/", v6 ? "[" + o.host + "]" : o.host, port));
  server.listen_after_bind();
}

}  // namespace web
}  // namespace focalab::reports
