// The inbox's small behaviours, on every dashboard page: the tab's title carries the unread
// count the navigation shows (kept current by the live stream); in the inbox, the keyboard
// shortcuts (j/k, r, n, a, c, Ctrl/Cmd+Enter, ?) and the Reply / Note switch's words.
(function () {
  "use strict";

  var COUNTED = /^\(\d[\d,]*\) /;

  function showUnread() {
    var link = document.getElementById("inbox-link");
    if (!link || link.dataset.unread === "") return;
    var n = parseInt(link.dataset.unread, 10) || 0;
    var title = document.title.replace(COUNTED, "");
    document.title = n > 0 ? "(" + n + ") " + title : title;
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
  }

  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#inbox-list a[data-conversation]"));
    if (links.length === 0) return;
    var at = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : at + step;
    if (next < 0 || next >= links.length) return;
    window.location.assign(links[next].href);
  }

  function write(mode) {
    var form = document.querySelector("form[data-reply]");
    if (!form) return;
    var radio = form.querySelector("input[name=mode][value=" + mode + "]");
    if (radio) { radio.checked = true; describe(form); }
    form.querySelector("textarea").focus();
  }

  function describe(form) {
    var note = form.querySelector("input[name=mode][value=note]");
    var noting = !!(note && note.checked);
    form.classList.toggle("noting", noting);
    var box = form.querySelector("textarea");
    box.placeholder = noting ? "Write a private note for your team… (Markdown)" : "Write a reply… (Markdown)";
    var hint = form.querySelector("[data-mode-hint]");
    if (hint) {
      hint.firstChild.nodeValue = noting ? "A private note: only your team sees it. " : "The user sees this reply. ";
    }
  }

  function shortcuts(event) {
    if (event.defaultPrevented || event.altKey) return;
    var form = event.target.closest && event.target.closest("form[data-reply]");
    if (form && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (!document.querySelector("[data-inbox]")) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;
    var act = {
      j: function () { move(1); },
      k: function () { move(-1); },
      r: function () { write("comment"); },
      n: function () { write("note"); },
      a: function () { var s = document.getElementById("assignee"); if (s) s.focus(); },
      c: function () {
        var b = document.querySelector("#conversation form.open-close button");
        if (b) b.click();
      },
      "?": function () { if (dialog) dialog.showModal(); }
    }[event.key];
    if (act) { event.preventDefault(); act(); }
  }

  document.addEventListener("keydown", shortcuts);
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-reply]");
    if (form && event.target.name === "mode") describe(form);
  });
  // The reply box is kept through the conversation's swaps (hx-preserve: closing or assigning
  // leaves a draft alone); once what it held is sent, it is emptied.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var from = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!from || !from.matches || !from.matches("form[data-reply]")) return;
    if (event.detail.xhr.status >= 300) return;
    var box = document.getElementById("reply-body");
    if (box) { box.value = ""; box.dataset.refocus = "1"; }
  });
  // A live refresh of the list keeps where it was scrolled to.
  var scrolled = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target.id !== "inbox-list") return;
    var list = event.detail.target.querySelector(".conversations");
    scrolled = list ? list.scrollTop : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var list = document.querySelector("#inbox-list .conversations");
    if (list && scrolled !== null) { list.scrollTop = scrolled; scrolled = null; }
    var box = document.getElementById("reply-body");
    if (box && box.dataset.refocus) { delete box.dataset.refocus; box.focus(); }
  });
  document.addEventListener("htmx:afterSettle", showUnread);
  document.addEventListener("DOMContentLoaded", function () {
    showUnread();
    // A conversation opens at its latest words, its line in the list in view.
    var chosen = document.querySelector("#inbox-list a[aria-current='true']");
    if (chosen) chosen.scrollIntoView({ block: "nearest" });
    var lines = document.querySelectorAll("#conversation .thread .line");
    if (lines.length > 3) lines[lines.length - 1].scrollIntoView({ block: "center" });
  });
})();
