// --- the public API: Intercom('boot' | 'update' | 'shutdown' | 'show' | 'hide' | ...) -------

function forget() {
  generation++;  // answers still on their way are for someone else now
  dropPopups();
  closeBox();
  removeActivators();
  inbox = null;
  unread = 0;
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
    forget();  // the box, badge and popups spoke for whoever was booted before
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
    if (changes) {
      var before = identity(settings);
      merge(settings, changes);
      var after = identity(settings);
      if (before.user_id !== after.user_id || before.email !== after.email) { forget(); }
    }
    ping();
  },
  shutdown: function () {
    settings = null;
    booted = false;
    shutDown = true;
    forget();
  },
  show: function () {
    if (!settings || !settings.app_id) { return; }
    openBox();
  },
  hide: function () { closeBox(); },
  reattach_activator: function () {
    if (!inbox) { return; }
    if (inbox.style === "simple") {
      removeNode(launcher);
      launcher = null;
    }
    attachActivators();
    setBadge(unread);
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
