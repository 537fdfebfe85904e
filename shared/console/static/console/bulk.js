// The bulk upload's progress bar: polls the batch's JSON status until it is done.
(function () {
  "use strict";
  var box = document.getElementById("batch");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  function text(id, value) {
    var el = document.querySelector('[data-testid="' + id + '"]');
    if (el) { el.textContent = value; }
  }
  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = value;
    row.appendChild(td);
  }
  function show(s) {
    document.getElementById("batch-progress").value = s.percent;
    text("batch-percent", s.percent + "%");
    text("batch-state", s.state_label);
    text("batch-processed", s.processed);
    text("batch-succeeded", s.succeeded);
    text("batch-failed", s.failed);
    var body = document.getElementById("batch-errors");
    body.textContent = "";
    s.errors.forEach(function (e) {
      var row = document.createElement("tr");
      cell(row, e.row); cell(row, e.field); cell(row, e.message);
      body.appendChild(row);
    });
    return s.state === "done" || s.state === "failed";
  }
  function poll() {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
      if (!show(s)) { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  poll();
}());
