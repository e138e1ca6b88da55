// Settings pages: Copy buttons beside code and addresses (hidden until this runs: without
// scripts the text is there to select), and the inbox preview following the colour picker
// and the selector as they are typed (the style itself switches in CSS).
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http (a self-hosted Parley on a LAN): the old way, through a selection.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "copy-buffer";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      document.body.removeChild(area);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function selectAll(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    var label = button.textContent;
    var timer = null;
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(target.textContent).then(function () {
        button.textContent = "Copied";
        button.classList.add("copied");
      }, function () {
        selectAll(target);  // the teammate can press Ctrl+C themselves
        button.textContent = "Press Ctrl+C";
      });
      clearTimeout(timer);
      timer = setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 2000);
    });
  });

  var preview = document.getElementById("inbox-preview");
  var colour = document.getElementById("colour");
  var selector = document.getElementById("selector");
  var shown = document.getElementById("pv-selector");
  if (preview && colour) {
    var paint = function () { preview.style.setProperty("--inbox-colour", colour.value); };
    colour.addEventListener("input", paint);
    paint();
  }
  if (selector && shown) {
    selector.addEventListener("input", function () {
      shown.textContent = selector.value.trim() || "your selector";
    });
  }
})();
