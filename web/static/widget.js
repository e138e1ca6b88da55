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
      });
    }).catch(function (error) { report(kind, 0, String(error)); });
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
      var payload = {
        app_id: String(settings.app_id),
        user_id: settings.user_id === undefined ? null : settings.user_id,
        email: settings.email || null,
        user_hash: settings.user_hash || null,
        event_name: name,
        metadata: metadata || null
      };
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
