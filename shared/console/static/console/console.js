// The console's little script (CSP: scripts from this origin only, no inline handlers).
// Everything works without it; it only makes the issue form quicker to fill in.
(function () {
  "use strict";
  // 长期有效: no end date to type.
  document.querySelectorAll("input[data-long-term]").forEach(function (box) {
    var target = document.getElementById(box.getAttribute("data-long-term"));
    function sync() { if (target) { target.disabled = box.checked; } }
    box.addEventListener("change", sync);
    sync();
  });
  // Holder codes are checked as typed, by the server's own rule (GB 11643 / GB 32100).
  document.querySelectorAll("input[data-check-url]").forEach(function (input) {
    var out = document.getElementById(input.id + "-check");
    var kind = document.getElementById(input.getAttribute("data-type-field"));
    var timer = null;
    function check() {
      if (!out || !input.value.trim()) { if (out) { out.textContent = ""; } return; }
      var url = input.getAttribute("data-check-url") + "?code=" + encodeURIComponent(input.value) +
        "&code_type=" + encodeURIComponent(kind ? kind.value : "");
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (body) {
        out.textContent = body.message || "";
        out.className = body.ok ? "okc muted" : "field-error";
        input.setAttribute("aria-invalid", body.ok ? "false" : "true");
      }).catch(function () { out.textContent = ""; });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 300); });
    input.addEventListener("blur", check);
    if (kind) { kind.addEventListener("change", check); }
  });
}());
