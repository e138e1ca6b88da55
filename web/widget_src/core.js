// --- core: who is booted, and talking to Parley -------------------------------------------
// Every request is a "simple" cross-origin POST (JSON as text/plain: no CORS preflight).

function scriptBase() {
  var current = d.currentScript;
  var scripts = current ? [current] : d.getElementsByTagName("script");
  for (var i = scripts.length - 1; i >= 0; i--) {
    var src = scripts[i].src || "";
    var at = src.indexOf("/widget.js");
    if (at !== -1) { return src.slice(0, at); }
  }
  return "";
}

var base = scriptBase();
var settings = null;
var booted = false;
var shutDown = false;
var queued = (w.Intercom && w.Intercom.q) || [];
var lastPing = null;  // events wait for it: their user must exist first
var generation = 0;   // bumped when the booted user changes or shuts down

// The user's IANA time zone. Temporal answers it without loading the locale's date formats,
// which Intl.DateTimeFormat does first (about 17 ms of a fresh page in Chromium: a third of
// the boot's budget); older browsers take the Intl way.
function timezone() {
  try {
    if (w.Temporal && w.Temporal.Now && w.Temporal.Now.timeZoneId) {
      return w.Temporal.Now.timeZoneId() || null;
    }
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch (e) { return null; }
}

function merge(target, extra) {
  for (var key in extra) {
    if (Object.prototype.hasOwnProperty.call(extra, key)) { target[key] = extra[key]; }
  }
  return target;
}

function report(kind, status, body) {
  var detail = { status: status, body: body };
  if (kind === "ping") { api.last = detail; }
  try { w.dispatchEvent(new CustomEvent("parley:" + kind, { detail: detail })); } catch (e) { /* old browsers */ }
  if (status >= 400 && w.console) {
    w.console.warn("Parley: " + kind + " refused (" + status + ")", body);
  }
}

function send(kind, path, payload, longBody) {
  var mine = generation;  // answers for a user no longer booted are not shown
  // keepalive lets a view or click outlive the page, but caps the body at 64 KB.
  return w.fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "text/plain;charset=UTF-8" },
    body: JSON.stringify(payload),
    keepalive: !longBody
  }).then(function (response) {
    return response.text().then(function (text) {
      var body = text;
      try { body = JSON.parse(text); } catch (e) { /* keep the text */ }
      report(kind, response.status, body);
      if (mine !== generation) { return { status: 0, body: null, stale: true }; }
      if (kind === "ping" && response.status === 200 && body) {
        inboxFrom(body);
        if (body.messages) { enqueue(body.messages, payload); }
      }
      return { status: response.status, body: body };
    });
  }).catch(function (error) {
    report(kind, 0, String(error));
    return { status: 0, body: null };
  });
}

function identity(from) {
  return {
    app_id: String(from.app_id),
    user_id: from.user_id === undefined ? null : from.user_id,
    email: from.email || null,
    user_hash: from.user_hash || null
  };
}

// A request for the booted user, after their ping (a user booted just now must exist first);
// an answer carrying the unread count updates the badge.
function call(kind, path, extra) {
  var payload = merge(identity(settings), extra || {});
  return (lastPing || Promise.resolve()).then(function () {
    return send(kind, path, payload, true);
  }).then(function (outcome) {
    if (outcome.status === 200 && typeof outcome.body.unread === "number") {
      setBadge(outcome.body.unread);
    }
    return outcome;
  });
}

function conversationPath(id, action) {
  return "/widget/conversations/" + encodeURIComponent(id) + (action ? "/" + action : "");
}
