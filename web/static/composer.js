/* The composer's "Insert data": the chosen variable, with its fallback, goes in at the cursor
   of the message box, or of the subject when that was written in last (without this script
   the button posts the form and the server adds it at the end of the message). Typing then
   updates the preview through htmx, as any input does. */
(function () {
  "use strict";

  function variable(name, fallback) {
    var text = fallback.replace(/"/g, "");
    return text ? "{{ " + name + ' | fallback:"' + text + '" }}' : "{{ " + name + " }}";
  }

  function start() {
    var button = document.getElementById("insert");
    var body = document.getElementById("body");
    var select = document.getElementById("variable");
    var fallback = document.getElementById("fallback");
    if (!button || !body || !select || button.dataset.ready) { return; }
    button.dataset.ready = "1";
    document.documentElement.classList.add("js");
    // Into the subject when it was the last box written in, else into the message.
    var subject = document.getElementById("subject");
    var target = body;
    var at = body.value.length;
    [body, subject].forEach(function (box) {
      if (!box) { return; }
      box.addEventListener("blur", function () { target = box; at = box.selectionStart; });
    });
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var text = variable(select.value, fallback.value);
      var start = Math.min(at, target.value.length);
      target.value = target.value.slice(0, start) + text + target.value.slice(start);
      target.focus();
      target.selectionStart = target.selectionEnd = at = start + text.length;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  /* The preview's answer rewrites each field's error box (out of band): the field says
     whether it is invalid to match. */
  function marks() {
    Array.prototype.forEach.call(document.querySelectorAll(".field-error"), function (box) {
      var field = document.querySelector('[aria-describedby="' + box.id + '"]');
      if (!field) { return; }
      if (box.textContent.trim()) {
        field.setAttribute("aria-invalid", "true");
        box.setAttribute("role", "alert");
      } else {
        field.removeAttribute("aria-invalid");
        box.removeAttribute("role");
      }
    });
  }
  document.addEventListener("htmx:afterSettle", marks);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
