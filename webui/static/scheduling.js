// The candidate's scheduling page: offer the browser's own time zone when it differs from
// the one the page shows (the candidate still confirms it; nothing is sent without a click).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("timezone");
    var hint = document.getElementById("zone-hint");
    var button = document.getElementById("use-browser-zone");
    var name = document.getElementById("browser-zone");
    if (!input || !hint || !button || !name || !window.Intl) { return; }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === input.value) { return; }
    name.textContent = zone;
    hint.hidden = false;
    button.addEventListener("click", function () {
      input.value = zone;
      input.form.submit();
    });
  });
})();
