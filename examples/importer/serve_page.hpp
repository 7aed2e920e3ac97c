// GET / of weft-import serve: one small page, no framework, served from the binary. It posts
// the chosen file with ?async=1, follows /imports/{id}/events (EventSource) with a progress bar
// (half reading, half writing), and shows the result table and the first rejected rows. A
// token, when the server wants one, goes in the Authorization header for fetch() and as
// ?access_token= for EventSource (which cannot send headers).
#pragma once

#include <string_view>

namespace weft_import::serve {

inline constexpr std::string_view upload_page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>weft-import</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
fieldset { border: 1px solid #ccc; padding: 1rem; }
label { display: block; margin: .4rem 0; }
progress { width: 100%; height: 1.2rem; }
table { border-collapse: collapse; margin-top: 1rem; }
td, th { border: 1px solid #ccc; padding: .2rem .6rem; text-align: left; }
#error { color: #b00; }
</style>
</head>
<body>
<h1>weft-import</h1>
<form id="upload">
<fieldset>
<label>Workbook (.xlsx) <input type="file" id="file" name="file" accept=".xlsx" required></label>
<label>Method
<select id="method">
<option value="pipeline">pipeline (streaming, one transaction)</option>
<option value="batch">batch</option>
<option value="concurrent">concurrent</option>
<option value="sequential">sequential</option>
</select></label>
<label>Token (if the server asks for one) <input type="password" id="token" autocomplete="off"></label>
<button type="submit" id="submit">Import</button>
</fieldset>
</form>
<p id="state"></p>
<progress id="bar" max="1000" value="0"></progress>
<p id="error"></p>
<table id="result" hidden><tbody></tbody></table>
<table id="rejects" hidden><thead><tr><th>row</th><th>reason</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function cell(tr, text, tag) {
  const c = document.createElement(tag || "td");
  c.textContent = String(text);
  tr.appendChild(c);
}
function showResult(r) {
  const body = $("result").tBodies[0];
  body.replaceChildren();
  for (const k of ["method", "file", "total_records", "success_count", "error_count",
                   "duration_ms", "records_per_second"]) {
    if (!(k in r)) continue;
    const tr = document.createElement("tr");
    cell(tr, k, "th");
    cell(tr, r[k]);
    tr.id = "r-" + k;
    body.appendChild(tr);
  }
  $("result").hidden = false;
  const rej = $("rejects").tBodies[0];
  rej.replaceChildren();
  for (const x of (r.rejected || []).slice(0, 20)) {
    const tr = document.createElement("tr");
    cell(tr, x.row);
    cell(tr, x.reason);
    rej.appendChild(tr);
  }
  $("rejects").hidden = rej.children.length === 0;
}
$("upload").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  // One import per click: the button comes back when this one has ended, or failed to start.
  $("submit").disabled = true;
  const idle = () => { $("submit").disabled = false; };
  $("error").textContent = "";
  $("result").hidden = true;
  $("rejects").hidden = true;
  $("bar").value = 0;
  const token = $("token").value;
  const fd = new FormData();
  fd.append("file", $("file").files[0]);
  const headers = token ? { "Authorization": "Bearer " + token } : {};
  let res;
  try {
    res = await fetch("upload?async=1&method=" + encodeURIComponent($("method").value),
                      { method: "POST", body: fd, headers });
  } catch (e) {
    $("error").textContent = "upload failed: " + e;
    idle();
    return;
  }
  const j = await res.json().catch(() => ({}));  // a proxy's error page is not JSON
  if (res.status !== 202) {
    $("error").textContent = j.error || ("HTTP " + res.status);
    idle();
    return;
  }
  $("state").textContent = "queued";
  const q = token ? "?access_token=" + encodeURIComponent(token) : "";
  const es = new EventSource("imports/" + j.id + "/events" + q);
  es.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    $("state").textContent = p.state + ": " + p.rows_read + " rows read, " +
                             p.rows_written + " written";
    // Reading is the bar's first half and writing its second: the methods that read every row
    // before writing one would otherwise show a full bar for half their import. The rows to
    // write are estimated from the rows read and the fraction of the sheet they are.
    const rows = p.fraction_read > 0 ? p.rows_read / p.fraction_read : 0;
    const written = rows > 0 ? Math.min(p.rows_written / rows, 1) : 0;
    $("bar").value = Math.max($("bar").value, Math.round(500 * (p.fraction_read + written)));
  });
  es.addEventListener("result", (e) => {
    es.close();
    idle();
    const r = JSON.parse(e.data);
    $("state").textContent = r.state;
    if (r.http_status === 200) {
      $("bar").value = 1000;
      showResult(r.result);
    } else {
      $("error").textContent = r.result.error || ("HTTP " + r.http_status);
      if ("total_records" in r.result) showResult(r.result);
    }
  });
  es.onerror = () => {
    es.close();
    idle();
    $("error").textContent = "lost the progress stream; the import goes on: GET " + j.status_url;
  };
});
</script>
</body>
</html>
)html";

}  // namespace weft_import::serve
