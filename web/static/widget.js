/* Parley widget library: replaces the snippet's queue stub with the real Intercom() API. */
(function (w, d) {
  "use strict";
  if (w.Intercom && w.Intercom.parley) { return; }

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
  var lastPing = null; // events wait for it: their user must exist first

  function timezone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
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

  function send(kind, path, payload) {
    // text/plain keeps this a "simple" cross-origin request: no CORS preflight.
    return w.fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(payload),
      keepalive: true
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = text;
        try { body = JSON.parse(text); } catch (e) { /* keep the text */ }
        report(kind, response.status, body);
        if (kind === "ping" && response.status === 200 && body && body.messages) {
          for (var m = 0; m < body.messages.length; m++) { show(body.messages[m], payload); }
        }
      });
    }).catch(function (error) { report(kind, 0, String(error)); });
  }

  function identity(from) {
    return {
      app_id: String(from.app_id),
      user_id: from.user_id === undefined ? null : from.user_id,
      email: from.email || null,
      user_hash: from.user_hash || null
    };
  }

  // An in-app message: the body is HTML the server sanitised; the subject is plain text.
  function show(message, pinged) {
    var box = d.createElement("div");
    box.className = "parley-message";
    box.setAttribute("data-message-id", message.id);
    box.style.cssText = "position:fixed;right:20px;bottom:20px;max-width:340px;z-index:2147483000;" +
      "background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:14px 16px;" +
      "box-shadow:0 4px 18px rgba(0,0,0,.15);font:14px/1.4 sans-serif;color:#222";
    var close = d.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "Close");
    close.style.cssText = "float:right;border:0;background:none;font-size:18px;cursor:pointer";
    close.onclick = function () { box.parentNode && box.parentNode.removeChild(box); };
    box.appendChild(close);
    if (message.subject) {
      var title = d.createElement("strong");
      title.textContent = message.subject;
      box.appendChild(title);
    }
    var content = d.createElement("div");
    content.innerHTML = message.body;
    box.appendChild(content);
    (d.body || d.documentElement).appendChild(box);
    var view = identity(pinged.user);
    view.app_id = pinged.app_id;
    view.message_id = message.id;
    send("view", "/widget/views", view);
    // A followed link is reported (keepalive outlives the page it leaves), then followed.
    content.addEventListener("click", function (event) {
      var link = event.target && event.target.closest ? event.target.closest("a[href]") : null;
      if (!link || !/^https?:/i.test(link.href)) { return; }
      var clicked = merge({}, view);
      clicked.url = link.href;
      send("click", "/widget/clicks", clicked);
    });
  }

  function ping() {
    if (!settings || !settings.app_id) { return; }
    var payload = {
      app_id: String(settings.app_id),
      user: settings,
      url: w.location.href,
      referrer: d.referrer || null,
      timezone: timezone()
    };
    lastPing = send("ping", "/widget/ping", payload);
  }

  var commands = {
    boot: function (given) {
      settings = merge({}, given || w.intercomSettings || {});
      booted = true;
      shutDown = false;
      ping();
    },
    update: function (changes) {
      // Not booted yet (or shut down): boot once with the page's settings plus the changes,
      // so one update is one impression.
      if (!booted) {
        // After shutdown the page's settings may still name the logged-out user: only the
        // snippet re-running with fresh settings (or an explicit boot) brings a user back.
        if (shutDown && changes !== w.intercomSettings) {
          if (w.console) { w.console.info("Parley: call Intercom('boot') after shutdown"); }
          return;
        }
        commands.boot(merge(merge({}, w.intercomSettings || {}), changes || {}));
        return;
      }
      if (changes) { merge(settings, changes); }
      ping();
    },
    shutdown: function () {
      settings = null;
      booted = false;
      shutDown = true;
    },
    trackEvent: function (name, metadata) {
      if (!settings || !settings.app_id) { return; }
      var payload = identity(settings);
      payload.event_name = name;
      payload.metadata = metadata || null;
      (lastPing || Promise.resolve()).then(function () {
        send("event", "/widget/events", payload);
      });
    }
  };

  function api(name) {
    var command = commands[name];
    if (!command) {
      if (w.console) { w.console.info("Parley: Intercom('" + name + "') is not available yet"); }
      return;
    }
    command.apply(null, Array.prototype.slice.call(arguments, 1));
  }
  api.parley = true;
  w.Intercom = api;

  var bootQueued = false;
  for (var i = 0; i < queued.length; i++) {
    if (queued[i][0] === "boot") { bootQueued = true; }
  }
  if (!bootQueued && w.intercomSettings) { commands.boot(w.intercomSettings); }
  for (var j = 0; j < queued.length; j++) { api.apply(null, queued[j]); }
})(window, document);
