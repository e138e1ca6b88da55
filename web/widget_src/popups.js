// --- popups: the seed's "Different Message Types" -------------------------------------------
// Conversation: a medium popup in the middle of the window, interrupting, with a reply box.
// Announcement: a larger one, filling much of the window. Notification: small, top right,
// not interrupting; it fades after a while or on close, and a click opens it in the message
// box. (Inbox messages never pop up: the badge counts them.) One at a time: the others queue
// and show when the current one closes; the server offers any left over on the next page.

var NOTIFICATION_MS = 8000;  // how long a notification stays before it fades
var POLL_MS = 2500;          // how often an open conversation looks for the team's answer
var queue = [];              // [{message, pinged}] waiting to be shown
var current = null;          // {message, node, close} on screen
var displayed = {};          // message ids shown on this page: a later ping may offer them again

function enqueue(messages, pinged) {
  for (var i = 0; i < messages.length; i++) {
    var id = messages[i].id;
    var waiting = queue.some(function (q) { return q.message.id === id; });
    if (!displayed[id] && !waiting) { queue.push({ message: messages[i], pinged: pinged }); }
  }
  pump();
}

function pump() {
  if (current || box || !queue.length) { return; }  // the message box open: they wait for it
  var next = queue.shift();
  displayed[next.message.id] = true;
  current = next.message.message_type === "notification" ?
    notification(next.message, next.pinged) : modal(next.message, next.pinged);
  current.message = next.message;
  viewed(next.message, next.pinged);
}

function dropPopups() {
  queue = [];
  displayed = {};
  if (current) { current.close(true); }
}

function viewIdentity(message, pinged) {
  var view = identity(pinged.user);
  view.app_id = pinged.app_id;
  view.message_id = message.id;
  return view;
}

// The user has seen it: their inbox stops counting it, and the server stops offering it.
function viewed(message, pinged) { send("view", "/widget/views", viewIdentity(message, pinged)); }

// A followed link is reported (keepalive outlives the page it leaves), then followed.
function clicked(message, pinged, link) {
  if (!link || !/^https?:/i.test(link.href)) { return; }
  var click = viewIdentity(message, pinged);
  click.url = link.href;
  send("click", "/widget/clicks", click);
}

function popupHead(message, titleId, onClose, line) {
  var head = el("div", "pw-head");
  var parts = sender(message.from, line, titleId);
  head.appendChild(parts[0]);
  head.appendChild(parts[1]);
  head.appendChild(closeButton("Close", onClose));
  return head;
}

function popupBody(message, pinged, hooks) {
  var scroll = el("div", "pw-scroll");
  if (message.subject) { scroll.appendChild(el("p", "pw-subject", message.subject)); }
  hooks.click = function (event, link) { clicked(message, pinged, link); if (hooks.open && !link) { hooks.open(); } };
  var title = "Message from " + teammateName(message.from);
  var pieces = bodyPieces(message.body);
  for (var i = 0; i < pieces.length; i++) {
    scroll.appendChild(pieces[i].video ? videoFrame(pieces[i].video, "Video: " + title)
      : frame(pieces[i].html, title, hooks));
  }
  return scroll;
}

function finished(shown, node) {
  if (current === shown) { current = null; }
  removeNode(node);
  pump();
}

// Conversation and announcement: a dialog over the page, focus kept inside, Escape closes,
// focus back where it was after. A reply joins the conversation the message opened; once the
// user has written, the team's answers appear while it stays open.
function modal(message, pinged) {
  var type = message.message_type === "announcement" ? "announcement" : "conversation";
  var back = focused();
  var overlay = el("div", "pw-overlay" + (type === "announcement" ? " pw-big" : ""));
  var card = el("div", "pw-card parley-message parley-popup-" + type + " pw-" + type);
  var titleId = "pw-title-" + message.id;
  card.setAttribute("role", "dialog");
  card.setAttribute("aria-modal", "true");
  card.setAttribute("aria-labelledby", titleId);
  card.setAttribute("data-message-id", message.id);
  card.setAttribute("data-conversation-id", message.conversation_id || "");
  card.tabIndex = -1;
  var polling = null;
  var shown = {
    node: overlay,
    close: function (quiet) {
      if (polling) { clearInterval(polling); }
      d.removeEventListener("keydown", onKey, true);
      if (quiet) { current = null; removeNode(overlay); } else { finished(shown, overlay); }
      if (back && back.focus && back.isConnected) { back.focus(); }
    }
  };
  var close = function () { shown.close(); };
  var warned = null;  // Escape with a reply typed: said once, then it closes
  var onKey = function (event) {
    if (event.key !== "Escape") { return; }
    event.stopPropagation();
    var draft = card.querySelector("textarea");
    if (draft && draft.value.trim() && !warned) {
      warned = el("p", "pw-error parley-error", "Press Escape again to discard your reply.");
      warned.setAttribute("role", "alert");
      draft.parentNode.appendChild(warned);
      return;
    }
    close();
  };
  card.addEventListener("input", function () { removeNode(warned); warned = null; });
  var escaped = function () { onKey({ key: "Escape", stopPropagation: function () {} }); };
  card.appendChild(popupHead(message, titleId, close, type === "announcement" ? null : "just now"));
  var scroll = popupBody(message, pinged, { escape: escaped, large: type === "announcement" });
  card.appendChild(scroll);
  var thread = null;  // the exchange after the message, once the user has replied
  var seen = -1;
  function render(outcome) {
    if (outcome.status !== 200 || !card.isConnected) { return; }
    var parts = outcome.body.conversation_parts.conversation_parts;
    if (parts.length === seen) { return; }
    seen = parts.length;
    var next = frame(threadHtml(outcome.body, true), "Your conversation", { escape: escaped });
    next.className = "pw-frame parley-thread";
    if (thread) { scroll.replaceChild(next, thread); } else { scroll.appendChild(next); }
    thread = next;
    scroll.scrollTop = scroll.scrollHeight;
  }
  if (message.conversation_id) {
    var cid = message.conversation_id;
    card.appendChild(composer("parley-reply", "Reply to " + teammateName(message.from),
      "Write a reply\u2026", function (text) {
        return call("reply", conversationPath(cid, "reply"), { body: text });
      }, function (replied) {
        render(replied);
        if (!polling) {
          polling = setInterval(function () {
            if (d.hidden) { return; }
            call("read", conversationPath(cid, "read")).then(render);
          }, POLL_MS);
        }
      }));
  }
  overlay.addEventListener("mousedown", function (event) {
    var draft = card.querySelector("textarea");
    if (event.target === overlay && !(draft && draft.value.trim())) { close(); }
  });
  trapFocus(card);
  overlay.appendChild(card);
  ui().appendChild(overlay);
  d.addEventListener("keydown", onKey, true);
  card.focus();
  return shown;
}

// Notification: top right, never takes focus; fades after a while (not while pointed at or
// focused), or on close; a click opens its conversation in the message box.
function notification(message, pinged) {
  var card = el("div", "pw-card pw-notification parley-message parley-popup-notification");
  var titleId = "pw-title-" + message.id;
  card.setAttribute("role", "dialog");
  card.setAttribute("aria-modal", "false");
  card.setAttribute("aria-labelledby", titleId);
  card.setAttribute("data-message-id", message.id);
  var timer = null;
  var shown = {
    node: card,
    close: function (quiet) {
      clearTimeout(timer);
      if (quiet) { current = null; removeNode(card); return; }
      card.className += " pw-fading";
      setTimeout(function () { finished(shown, card); }, 400);
    }
  };
  var close = function () { shown.close(); };
  var open = function () {
    shown.close(true);
    commands.show();
    if (message.conversation_id) { showConversation(message.conversation_id); }
  };
  var head = popupHead(message, titleId, function (event) { event.stopPropagation(); close(); });
  card.appendChild(head);
  card.appendChild(popupBody(message, pinged, { open: open, escape: close }));
  announce("New message from " + teammateName(message.from) +
    (message.subject ? ": " + message.subject : ""));
  card.addEventListener("click", open);
  card.addEventListener("keydown", function (event) { if (event.key === "Escape") { close(); } });
  var wait = function () { clearTimeout(timer); timer = setTimeout(close, NOTIFICATION_MS); };
  card.addEventListener("mouseenter", function () { clearTimeout(timer); });
  card.addEventListener("mouseleave", wait);
  card.addEventListener("focusin", function () { clearTimeout(timer); });
  card.addEventListener("focusout", wait);
  ui().appendChild(card);
  wait();
  return shown;
}
