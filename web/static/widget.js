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

  function send(kind, path, payload, longBody) {
    var mine = generation;  // answers for a user no longer booted are not shown
    // text/plain keeps this a "simple" cross-origin request: no CORS preflight.
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
          if (body.messages) {
            for (var m = 0; m < body.messages.length; m++) { show(body.messages[m], payload); }
          }
          inboxFrom(body);
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


  // --- the inbox (seed "Adding an Inbox") ---------------------------------------------------
  // Simple: a round question-mark button, bottom right, in the app's colour, with a badge.
  // Advanced: every element matching the app's selector opens the box; with counting on, each
  // gets data-parley-unread="N" and any .parley-unread element inside it the count as text
  // (empty at 0). Bodies are HTML the server sanitised; everything else goes in as text.

  var inbox = null;     // the app's inbox setting, from the last ping
  var unread = 0;
  var launcher = null;  // the simple style's button
  var activators = [];  // [{element}]: the advanced style's links, which show the count
  var delegating = false;  // the page-wide click listener for the advanced style is on
  var generation = 0;   // bumped when the booted user changes or shuts down
  var box = null;       // the message box, while open
  var FONT = "font:14px/1.4 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222";

  function el(tag, className, text, css) {
    var node = d.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (css) { node.style.cssText = css; }
    return node;
  }

  function removeNode(node) {
    if (node && node.parentNode) { node.parentNode.removeChild(node); }
  }

  function inboxFrom(body) {
    if (!body.inbox || body.inbox.style === "none") {
      if (inbox) { removeActivators(); inbox = null; }
      return;
    }
    var changed = !inbox || inbox.style !== body.inbox.style ||
      inbox.selector !== body.inbox.selector || inbox.colour !== body.inbox.colour;
    if (changed) { removeActivators(); }
    inbox = body.inbox;
    attachActivators();
    setBadge(body.unread || 0);
  }

  function attachActivators() {
    if (!inbox) { return; }
    if (inbox.style === "simple") {
      if (launcher && launcher.parentNode) { return; }
      launcher = el("button", "parley-launcher", null, "position:fixed;right:20px;bottom:20px;" +
        "width:48px;height:48px;border-radius:50%;border:0;cursor:pointer;z-index:2147483000;" +
        "color:#fff;font:bold 24px/48px sans-serif;box-shadow:0 2px 10px rgba(0,0,0,.25);padding:0");
      launcher.type = "button";
      launcher.style.background = inbox.colour;
      launcher.setAttribute("aria-label", "Messages");
      launcher.appendChild(el("span", null, "?"));
      var badge = el("span", "parley-badge", "", "position:absolute;top:-4px;right:-4px;" +
        "min-width:18px;height:18px;border-radius:9px;background:#e0342b;color:#fff;" +
        "font:bold 11px/18px sans-serif;text-align:center;padding:0 4px;box-sizing:border-box");
      launcher.appendChild(badge);
      launcher.addEventListener("click", toggleBox);
      (d.body || d.documentElement).appendChild(launcher);
      return;
    }
    // Advanced: one listener for the whole page (links re-rendered later work too, and a
    // click inside a nested match toggles once); the matches found now show the count.
    if (!delegating) {
      d.addEventListener("click", activated, true);
      delegating = true;
    }
    var found = [];
    try { found = d.querySelectorAll(inbox.selector); } catch (e) {
      if (w.console) { w.console.warn("Parley: inbox selector is not valid CSS", inbox.selector); }
    }
    if (!found.length && w.console) {
      w.console.warn("Parley: no element matches the inbox selector", inbox.selector);
    }
    activators = [];
    for (var i = 0; i < found.length; i++) { activators.push({ element: found[i] }); }
  }

  function activated(event) {
    if (!inbox || inbox.style !== "advanced") { return; }
    var target = event.target;
    if (!target || !target.closest || (box && box.contains(target))) { return; }
    var hit = null;
    try { hit = target.closest(inbox.selector); } catch (e) { return; }
    if (!hit) { return; }
    event.preventDefault();
    toggleBox();
  }

  function removeActivators() {
    removeNode(launcher);
    launcher = null;
    if (delegating) {
      d.removeEventListener("click", activated, true);
      delegating = false;
    }
    for (var i = 0; i < activators.length; i++) {
      var a = activators[i];
      a.element.removeAttribute("data-parley-unread");
      var counter = a.element.querySelector(".parley-unread");
      if (counter) { counter.textContent = ""; }
    }
    activators = [];
  }

  function setBadge(count) {
    unread = count;
    if (launcher) {
      var badge = launcher.querySelector(".parley-badge");
      badge.textContent = String(count);
      badge.style.display = count > 0 ? "block" : "none";
    }
    if (!inbox || inbox.style !== "advanced" || !inbox.count) { return; }
    for (var i = 0; i < activators.length; i++) {
      var element = activators[i].element;
      element.setAttribute("data-parley-unread", String(count));
      var counter = element.querySelector(".parley-unread");
      if (counter) { counter.textContent = count > 0 ? String(count) : ""; }
    }
  }

  function call(kind, path, extra) {
    var payload = merge(identity(settings), extra || {});
    // After the ping: a user booted just now must exist before their inbox is asked for.
    return (lastPing || Promise.resolve()).then(function () {
      return send(kind, path, payload, true);
    }).then(function (outcome) {
      if (outcome.status === 200 && typeof outcome.body.unread === "number") {
        setBadge(outcome.body.unread);
      }
      return outcome;
    });
  }

  function toggleBox() { if (box) { closeBox(); } else { commands.show(); } }

  function closeBox() {
    removeNode(box);
    box = null;
  }

  function openBox() {
    if (!box) {
      box = el("div", "parley-box", null, "position:fixed;right:20px;bottom:80px;width:340px;" +
        "max-height:70vh;display:flex;flex-direction:column;z-index:2147483001;background:#fff;" +
        "border:1px solid #d9dde3;border-radius:8px;box-shadow:0 6px 24px rgba(0,0,0,.2);" + FONT);
      (d.body || d.documentElement).appendChild(box);
    }
    showList();
  }

  function frame(title, back) {
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var head = el("div", "parley-head", null, "display:flex;align-items:center;gap:8px;" +
      "padding:10px 12px;border-bottom:1px solid #eceff3;font-weight:bold");
    if (back) {
      var previous = button("parley-back", "\u2039", back);
      previous.setAttribute("aria-label", "Back");
      head.appendChild(previous);
    }
    head.appendChild(el("span", null, title, "flex:1"));
    if (!back) { head.appendChild(button("parley-new", "New message", showCompose)); }
    var close = button("parley-close", "\u00d7", closeBox);
    close.setAttribute("aria-label", "Close");
    head.appendChild(close);
    box.appendChild(head);
    var content = el("div", "parley-content", null, "overflow-y:auto;padding:8px 12px;flex:1");
    box.appendChild(content);
    return content;
  }

  function button(className, text, onClick) {
    var node = el("button", className, text, "border:0;background:none;cursor:pointer;" +
      "font:inherit;color:#1f6fd1;padding:2px 4px");
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function when(seconds) {
    try { return new Date(seconds * 1000).toLocaleString(); } catch (e) { return ""; }
  }

  function failed(content, outcome) {
    var errors = outcome.body && outcome.body.errors;
    var reason = errors && errors[0] ? errors[0].message : "could not reach the server";
    content.appendChild(el("p", "parley-error", "Sorry: " + reason, "color:#b3261e"));
  }

  function showList(before) {
    var content = frame("Messages");
    var shown = box;
    call("inbox", "/widget/inbox", { before: before || null }).then(function (outcome) {
      if (box !== shown) { return; }
      if (outcome.status !== 200) { failed(content, outcome); return; }
      var listed = outcome.body.conversations;
      if (!listed.length) {
        content.appendChild(el("p", "parley-empty", "No conversations yet.", "color:#667"));
      }
      for (var i = 0; i < listed.length; i++) { content.appendChild(row(listed[i])); }
      if (outcome.body.pages.next) {
        content.appendChild(button("parley-more", "Older", function () {
          showList(outcome.body.pages.next);
        }));
      }
    });
  }

  function authorName(author) {
    if (!author) { return ""; }
    return author.type === "user" ? "You" : (author.name || "The team");
  }

  function row(conversation) {
    var item = el("div", "parley-conversation" + (conversation.read ? "" : " parley-unread-item"),
      null, "padding:8px 4px;border-bottom:1px solid #f0f2f5;cursor:pointer;" +
      (conversation.read ? "" : "font-weight:bold"));
    item.setAttribute("data-conversation-id", conversation.id);
    item.setAttribute("role", "button");
    item.appendChild(el("div", "parley-snippet", conversation.snippet));
    item.appendChild(el("div", "parley-meta", authorName(conversation.author) + " \u00b7 " +
      when(conversation.updated_at), "font-size:12px;font-weight:normal;color:#667"));
    item.addEventListener("click", function () { showConversation(conversation.id); });
    return item;
  }

  function showConversation(id) {
    var content = frame("Conversation", function () { showList(); });
    var shown = box;
    call("read", "/widget/conversations/" + encodeURIComponent(id) + "/read").then(function (o) {
      if (box === shown) { renderConversation(content, o); }
    });
  }

  function renderConversation(content, outcome) {
    while (content.firstChild) { content.removeChild(content.firstChild); }
    if (outcome.status !== 200) { failed(content, outcome); return; }
    var conversation = outcome.body;
    content.setAttribute("data-conversation-id", conversation.id);
    var message = conversation.conversation_message;
    content.appendChild(part(message.author, message.body, conversation.created_at,
      message.attachments));
    var parts = conversation.conversation_parts.conversation_parts;
    for (var i = 0; i < parts.length; i++) {
      content.appendChild(part(parts[i].author, parts[i].body, parts[i].created_at,
        parts[i].attachments));
    }
    content.appendChild(composer("parley-reply", "Write a reply\u2026", function (text) {
      return call("reply", "/widget/conversations/" + encodeURIComponent(conversation.id) +
        "/reply", { body: text });
    }, function (replied) { renderConversation(content, replied); }));
  }

  function part(author, html, at, files) {
    var mine = author && author.type === "user";
    var node = el("div", "parley-part" + (mine ? " parley-mine" : ""), null,
      "margin:8px 0;padding:8px 10px;border-radius:6px;background:" +
      (mine ? "#eaf2fd" : "#f3f4f6"));
    node.appendChild(el("div", "parley-author", authorName(author) + " \u00b7 " + when(at),
      "font-size:12px;color:#667"));
    var content = el("div", "parley-body");
    content.innerHTML = html || "";  // sanitised by the server
    node.appendChild(content);
    for (var f = 0; files && f < files.length; f++) {  // attachments (of an email, say)
      var file = el("a", "parley-attachment", "\ud83d\udcce " + files[f].name,
        "display:block;font-size:12px;margin-top:4px");
      if (/^https?:/i.test(files[f].url)) { file.href = files[f].url; }
      file.setAttribute("download", "");
      node.appendChild(file);
    }
    return node;
  }

  function composer(className, placeholder, submit, done) {
    var form = el("form", className, null, "margin-top:8px");
    var text = el("textarea", null, null, "width:100%;box-sizing:border-box;min-height:60px;" +
      "font:inherit;padding:6px;border:1px solid #d9dde3;border-radius:4px");
    text.placeholder = placeholder;
    text.name = "body";
    var go = el("button", null, "Send", "margin-top:4px;padding:4px 12px;cursor:pointer");
    go.type = "submit";
    form.appendChild(text);
    form.appendChild(go);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!text.value.trim()) { return; }
      go.disabled = true;
      var shown = box;
      submit(text.value).then(function (outcome) {
        go.disabled = false;
        if (box !== shown) { return; }
        if (outcome.status === 200) { done(outcome); } else { failed(form, outcome); }
      });
    });
    return form;
  }

  function showCompose() {
    var content = frame("New message", function () { showList(); });
    content.appendChild(composer("parley-compose", "How can we help?", function (text) {
      return call("start", "/widget/conversations", { body: text });
    }, function (started) {
      renderConversation(frame("Conversation", function () { showList(); }), started);
    }));
  }

  function forget() {
    generation++;  // answers still on their way are for someone else now
    removeInbox();
  }

  function removeInbox() {
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
      forget();  // the box and badge spoke for whoever was booted before
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
})(window, document);
