// --- ui: the widget's own corner of the page ------------------------------------------------
// Everything the widget draws lives in a Shadow DOM root on one <parley-widget> element: the
// page's stylesheets cannot reach inside, and ":host { all: initial !important }" undoes what
// they set on the element itself (the inner !important wins). Bodies written by teammates or
// users go in sandboxed frames without scripts (frame() below): HTML that escaped sanitising
// still runs nothing in the customer's page.

var SMALL = "@media (max-width:479px)";
var CSS = ":host{all:initial!important;display:block!important;position:static!important}" +
  "*,*::before,*::after{box-sizing:border-box}" +
  ".pw{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#1f2328;" +
  "-webkit-font-smoothing:antialiased;text-align:left}" +
  "button,textarea{font:inherit;color:inherit;margin:0}" +
  "button{cursor:pointer;border:0;background:none;padding:0;display:inline-block}" +
  ":focus-visible{outline:2px solid var(--accent);outline-offset:2px}.pw-card:focus{outline:none}" +
  ".pw-launcher{position:fixed;right:20px;bottom:20px;width:52px;height:52px;border-radius:50%;" +
  "z-index:2147483000;background:var(--accent);color:#fff;font:bold 24px/52px sans-serif;" +
  "text-align:center;box-shadow:0 3px 12px rgba(0,0,0,.28)}" +
  ".parley-badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;" +
  "border-radius:10px;background:#e0342b;color:#fff;font:bold 11px/20px sans-serif;" +
  "padding:0 5px;display:none;border:2px solid #fff;line-height:16px}" +
  ".pw-card{background:#fff;border-radius:10px;box-shadow:0 10px 40px rgba(15,23,42,.28);" +
  "display:flex;flex-direction:column;overflow:hidden}" +
  ".pw-head{display:flex;align-items:center;gap:10px;padding:12px 14px;" +
  "border-bottom:1px solid #eceff3}" +
  ".pw-title{flex:1;font-weight:600;min-width:0;overflow:hidden;text-overflow:ellipsis;" +
  "white-space:nowrap}" +
  ".pw-x{width:30px;height:30px;border-radius:50%;font-size:20px;line-height:30px;color:#57606a;" +
  "flex:none}.pw-x:hover{background:#f0f2f5}" +
  ".pw-link{color:var(--accent);padding:2px 6px;border-radius:4px}" +
  ".pw-link:hover{background:#f0f4fb}" +
  ".pw-avatar{flex:none;width:36px;height:36px;border-radius:50%;background:var(--accent);" +
  "color:#fff;font:600 14px/36px sans-serif;text-align:center;letter-spacing:.5px}" +
  ".pw-from{flex:1;min-width:0;line-height:1.25}.pw-from b{display:block;font-weight:600}" +
  ".pw-from small{color:#57606a;font-size:12px}" +
  ".pw-scroll{overflow-y:auto;flex:1 1 auto;min-height:0;padding:14px 16px}" +
  ".pw-subject{font-weight:600;font-size:16px;margin:0 0 6px}" +
  ".pw-frame{display:block;width:100%;border:0;height:24px;background:transparent}" +
  ".pw-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);" +
  "white-space:nowrap}" +
  ".pw-video{display:block;width:100%;aspect-ratio:16/9;height:auto;border:0;margin:6px 0;" +
  "border-radius:6px;background:#000}" +
  ".pw-form{padding:10px 14px 14px;border-top:1px solid #eceff3;flex:none}" +
  ".pw-form textarea{display:block;width:100%;min-height:64px;max-height:180px;padding:8px 10px;" +
  "border:1px solid #d0d7de;border-radius:6px;resize:vertical;background:#fff}" +
  ".pw-form textarea:focus{border-color:var(--accent);outline:none;" +
  "box-shadow:0 0 0 3px rgba(31,111,209,.15)}" +
  ".pw-send{margin-top:8px;background:var(--accent);color:#fff;border-radius:6px;padding:6px 16px;" +
  "font-weight:600}.pw-send:disabled{opacity:.6;cursor:default}" +
  ".pw-error{color:#b3261e;margin:6px 0 0}.pw-empty{color:#57606a}" +
  ".pw-label{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
  // the popups
  ".pw-overlay{position:fixed;inset:0;z-index:2147483002;background:rgba(15,23,42,.45);" +
  "display:flex;align-items:center;justify-content:center;padding:88px 24px}" +
  ".pw-conversation{width:520px;max-width:100%;max-height:100%}" +
  ".pw-announcement{width:880px;max-width:100%;height:680px;max-height:100%}" +
  ".pw-announcement .pw-scroll{font-size:16px;padding:22px 28px}" +
  ".pw-announcement .pw-subject{font-size:22px}" +
  ".pw-notification{position:fixed;top:20px;right:20px;width:340px;max-width:calc(100vw - 40px);" +
  "z-index:2147483002;cursor:pointer;transition:opacity .4s,transform .4s}" +
  ".pw-notification .pw-scroll{max-height:140px;overflow:hidden;padding:10px 14px 12px}" +
  ".pw-notification .pw-frame{pointer-events:auto}" +
  ".pw-fading{opacity:0;transform:translateY(-8px)}" +
  // the message box
  ".parley-box{position:fixed;right:20px;bottom:88px;width:360px;height:560px;" +
  "max-height:calc(100vh - 108px);z-index:2147483001}" +
  ".pw-row{padding:10px 6px;border-bottom:1px solid #f0f2f5;cursor:pointer;" +
  "display:block;width:100%;text-align:left}.pw-row:hover{background:#f6f8fa}" +
  ".parley-unread-item .parley-snippet{font-weight:600}" +
  ".parley-snippet{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}" +
  ".parley-meta{display:block;font-size:12px;color:#57606a}" +
  SMALL + "{.pw-overlay{padding:0 0 80px;align-items:center}" +
  ".pw-conversation{width:100%;border-radius:10px 10px 0 0}" +
  ".pw-overlay.pw-big{padding:0 0 76px;align-items:stretch}" +
  ".pw-announcement{width:100%;height:auto;border-radius:0 0 10px 10px}" +
  ".pw-notification{top:0;left:0;right:0;width:auto;max-width:none;border-radius:0 0 10px 10px}" +
  ".parley-box{left:0;right:0;top:0;bottom:0;width:auto;height:auto;max-height:none;" +
  "border-radius:0}}";

// Inside each frame: the body's own look, links opening in a new tab, and no script at all.
var FRAME_HEAD = "<!doctype html><html><head><meta charset='utf-8'>" +
  "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src http: " +
  "https: data:; media-src http: https:; style-src 'unsafe-inline'; font-src http: https: " +
  "data:; form-action 'none'\"><base target='_blank'><style>" +
  "html,body{margin:0;padding:0;background:transparent}" +
  "body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;" +
  "color:#1f2328;overflow-wrap:anywhere}body.big{font-size:16px}img,video{max-width:100%;height:auto}" +
  "p{margin:0 0 .6em}p:last-child{margin-bottom:0}a{color:#1f6fd1}" +
  "h1,h2,h3,h4{margin:0 0 .4em;line-height:1.25}" +
  "pre{white-space:pre-wrap}blockquote{margin:0 0 .6em;padding-left:10px;" +
  "border-left:3px solid #d0d7de;color:#57606a}" +
  ".part{margin:0 0 10px;padding:8px 10px;border-radius:8px;background:#f3f4f6;" +
  "max-width:92%}.mine{background:#e8f0fc;margin-left:auto}" +
  ".who{font-size:12px;color:#57606a;margin-bottom:2px}" +
  ".file{display:block;font-size:12px;margin-top:4px}</style></head><body>";

var root = null;   // the shadow root
var host = null;   // <parley-widget>, in the page
var layer = null;  // .pw: everything drawn, inside the root

function ui() {
  if (!root) {
    host = d.createElement("parley-widget");
    root = host.attachShadow({ mode: "open" });
    var style = d.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
    layer = el("div", "pw");
    layer.style.setProperty("--accent", "#1f6fd1");
    root.appendChild(layer);
  }
  // On <html>, not <body>: a page that transforms its body (an SPA's transition) would
  // otherwise make the widget's fixed positions relative to the body, not the window.
  if (!host.isConnected) { d.documentElement.appendChild(host); }
  return layer;
}

// Said to screen readers without taking focus (a notification arriving), in a polite live
// region that stays in the layer.
var spoken = null;
function announce(text) {
  if (!spoken || !spoken.isConnected) {
    spoken = el("div", "pw-sr");
    spoken.setAttribute("aria-live", "polite");
    ui().appendChild(spoken);
  }
  spoken.textContent = "";
  setTimeout(function () { spoken.textContent = text; }, 50);
}

function el(tag, className, text) {
  var node = d.createElement(tag);
  if (className) { node.className = className; }
  if (text !== undefined && text !== null) { node.textContent = text; }
  return node;
}

function removeNode(node) {
  if (node && node.parentNode) { node.parentNode.removeChild(node); }
}

function button(className, text, label, onClick) {
  var node = el("button", className, text);
  node.type = "button";
  if (label) { node.setAttribute("aria-label", label); }
  node.addEventListener("click", onClick);
  return node;
}

function closeButton(label, onClick) { return button("pw-x parley-close", "\u00d7", label, onClick); }

function escapeText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function initials(name) {
  var words = String(name || "").trim().split(/\s+/);
  var letters = (words[0] || "").charAt(0) + (words.length > 1 ? words[words.length - 1].charAt(0) : "");
  return letters.toUpperCase() || "?";
}

function teammateName(author) { return (author && author.name) || "The team"; }

// The teammate a message or part is from: their initials in a circle, then their name.
function sender(author, line, id) {
  var who = el("div", "pw-from");
  var name = el("b", null, teammateName(author));
  if (id) { name.id = id; }
  who.appendChild(name);
  if (line) { who.appendChild(el("small", null, line)); }
  var avatar = el("span", "pw-avatar parley-avatar", initials(teammateName(author)));
  avatar.setAttribute("aria-hidden", "true");
  return [avatar, who];
}

// A message body in pieces: its text and the YouTube or Vimeo players the sanitiser let
// through. The text goes in script-less frames (below); a player cannot run in one (a frame's
// sandbox binds what it holds), so each is a frame of its own on the player's origin, where
// it belongs, in its place between the text.
var VIDEO = /^https:\/\/(www\.youtube\.com\/embed\/|player\.vimeo\.com\/video\/)[\w-]+/;

function bodyPieces(html) {
  var parsed;
  try { parsed = new DOMParser().parseFromString(html, "text/html"); } catch (e) { parsed = null; }
  if (!parsed || !parsed.body || !parsed.body.querySelector("iframe")) { return [{ html: html }]; }
  var pieces = [];
  var text = "";
  var nodes = parsed.body.childNodes;
  for (var i = 0; i < nodes.length; i++) {
    var node = nodes[i];
    var only = node.nodeType === 1 && node.tagName !== "IFRAME" &&
      node.children.length === 1 && !node.textContent.trim() ? node.children[0] : node;
    var src = only.nodeType === 1 && only.tagName === "IFRAME" ? only.getAttribute("src") : null;
    if (src && VIDEO.test(src)) {
      if (text.trim()) { pieces.push({ html: text }); }
      text = "";
      pieces.push({ video: src });
    } else {
      text += node.nodeType === 1 ? node.outerHTML : escapeText(node.textContent || "");
    }
  }
  if (text.trim() || !pieces.length) { pieces.push({ html: text }); }
  return pieces;
}

function videoFrame(src, title) {
  var player = el("iframe", "pw-video");
  player.setAttribute("sandbox",
    "allow-scripts allow-same-origin allow-presentation allow-popups allow-popups-to-escape-sandbox");
  player.setAttribute("allow", "fullscreen; picture-in-picture; encrypted-media");
  player.setAttribute("allowfullscreen", "");
  player.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
  player.setAttribute("title", title);
  player.src = src;
  return player;
}

// A sandboxed frame holding `html`, as tall as its content. Parley's script, outside, hears
// clicks and keys in it: scripts inside never run (no allow-scripts), links open in a new tab.
function frame(html, title, hooks) {
  var box = el("iframe", "pw-frame");
  box.setAttribute("sandbox",
    "allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-downloads");
  box.setAttribute("title", title);
  box.srcdoc = FRAME_HEAD.replace("<body>", hooks.large ? "<body class='big'>" : "<body>") +
    html + "</body></html>";
  box.addEventListener("load", function () {
    var inner = box.contentDocument;
    if (!inner) { return; }
    var fit = function () { box.style.height = inner.documentElement.scrollHeight + "px"; };
    fit();
    if (w.ResizeObserver) { new w.ResizeObserver(fit).observe(inner.body); }
    inner.addEventListener("click", function (event) {
      var link = event.target && event.target.closest ? event.target.closest("a[href]") : null;
      if (link && !/^(https?:|mailto:)/i.test(link.getAttribute("href") || "")) {
        event.preventDefault();  // nothing but web and mail links leaves a frame
        return;
      }
      if (hooks.click) { hooks.click(event, link); }
    });
    inner.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && hooks.escape) { hooks.escape(); }
    });
  });
  return box;
}

function when(seconds) {
  try { return new Date(seconds * 1000).toLocaleString(); } catch (e) { return ""; }
}

function partAuthor(author) {
  if (!author) { return ""; }
  return author.type === "user" ? "You" : teammateName(author);
}

// A conversation as the user sees it, for a frame: each comment with its author and time.
function threadHtml(conversation, skipOpening) {
  var message = conversation.conversation_message;
  var parts = [{ author: message.author, body: message.body, created_at: conversation.created_at,
    attachments: message.attachments }];
  if (skipOpening) { parts = []; }
  parts = parts.concat(conversation.conversation_parts.conversation_parts);
  var out = "";
  for (var i = 0; i < parts.length; i++) {
    var part = parts[i];
    var mine = part.author && part.author.type === "user";
    out += "<div class='part" + (mine ? " mine" : "") + "'><div class='who'>" +
      escapeText(partAuthor(part.author) + " \u00b7 " + when(part.created_at)) + "</div>" +
      "<div class='body'>" + (part.body || "") + "</div>";
    var files = part.attachments || [];
    for (var f = 0; f < files.length; f++) {  // attachments (of an email, say)
      var url = /^https?:/i.test(files[f].url) ? " href='" + escapeText(files[f].url) + "'" : "";
      out += "<a class='file'" + url + " download>\ud83d\udcce " + escapeText(files[f].name) + "</a>";
    }
    out += "</div>";
  }
  return out;
}

function failed(place, outcome) {
  var errors = outcome.body && outcome.body.errors;
  var reason = errors && errors[0] ? errors[0].message : "could not reach the server";
  var note = el("p", "pw-error parley-error", "Sorry: " + reason);
  note.setAttribute("role", "alert");
  place.appendChild(note);
}

// A reply box: a labelled textarea and Send; `submit(text)` answers with an outcome.
function composer(className, label, placeholder, submit, done) {
  var form = el("form", "pw-form " + className);
  var id = "pw-" + className + "-" + (++composed);
  var caption = el("label", "pw-label", label);
  caption.setAttribute("for", id);
  var text = el("textarea");
  text.id = id;
  text.name = "body";
  text.placeholder = placeholder;
  var go = el("button", "pw-send", "Send");
  go.type = "submit";
  form.appendChild(caption);
  form.appendChild(text);
  form.appendChild(go);
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      go.click();
    }
  });
  var busy = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    removeNode(form.querySelector(".pw-error"));
    if (!text.value.trim() || busy) { return; }
    // Busy, not disabled: a disabled button drops the keyboard focus out of the dialog.
    busy = true;
    go.setAttribute("aria-disabled", "true");
    var shown = form.isConnected;
    submit(text.value).then(function (outcome) {
      busy = false;
      go.removeAttribute("aria-disabled");
      if (!shown || !form.isConnected) { return; }
      if (outcome.status === 200) { text.value = ""; done(outcome); } else { failed(form, outcome); }
    });
  });
  return form;
}
var composed = 0;

// Keyboard focus stays inside `dialog` while it is open (a modal popup): edges catch Tab.
function trapFocus(dialog) {
  var edges = [el("span"), el("span")];
  for (var i = 0; i < 2; i++) { edges[i].tabIndex = 0; }
  dialog.insertBefore(edges[0], dialog.firstChild);
  dialog.appendChild(edges[1]);
  var focusables = function () {
    return Array.prototype.filter.call(dialog.querySelectorAll("button,textarea,iframe"),
      function (node) { return !node.disabled; });
  };
  edges[0].addEventListener("focus", function (event) {
    var all = focusables();
    // Tab from the dialog itself (as it opens) goes in; Shift+Tab from the first control wraps.
    var from = event.relatedTarget;
    (from === dialog || !dialog.contains(from) ? all[0] : all[all.length - 1]).focus();
  });
  edges[1].addEventListener("focus", function () { focusables()[0].focus(); });
}

// The element focused in the customer's page (or in the widget), to return focus to.
function focused() {
  var active = d.activeElement;
  if (active === host && root.activeElement) { return root.activeElement; }
  return active;
}
