// --- the inbox (seed "Adding an Inbox") -----------------------------------------------------
// Simple: a round question-mark button, bottom right, in the app's colour, with a badge.
// Advanced: every element matching the app's selector opens the box; with counting on, each
// gets data-parley-unread="N" and any .parley-unread element inside it the count as text
// (empty at 0). Those are the customer's own elements; the rest is drawn in the widget's root.

var inbox = null;     // the app's inbox setting, from the last ping
var unread = 0;
var launcher = null;  // the simple style's button
var activators = [];  // the advanced style's links, which show the count
var delegating = false;  // the page-wide click listener for the advanced style is on
var box = null;       // the message box, while open
var boxReturn = null; // where focus goes back to when it closes
var watching = null;  // the interval looking for answers in the conversation on show

function inboxFrom(body) {
  if (!body.inbox || body.inbox.style === "none") {
    if (inbox) { removeActivators(); inbox = null; }
    return;
  }
  var changed = !inbox || inbox.style !== body.inbox.style ||
    inbox.selector !== body.inbox.selector || inbox.colour !== body.inbox.colour;
  if (changed) { removeActivators(); }
  inbox = body.inbox;
  if (/^#[0-9a-f]{3,8}$/i.test(inbox.colour || "")) { ui().style.setProperty("--accent", inbox.colour); }
  attachActivators();
  setBadge(body.unread || 0);
}

function attachActivators() {
  if (!inbox) { return; }
  if (inbox.style === "simple") {
    if (launcher && launcher.isConnected && host.isConnected) { return; }
    removeNode(launcher);
    launcher = button("pw-launcher parley-launcher", null, "Messages", toggleBox);
    launcher.appendChild(el("span", null, "?")).setAttribute("aria-hidden", "true");
    launcher.appendChild(el("span", "parley-badge"));
    ui().appendChild(launcher);
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
  activators = Array.prototype.slice.call(found);
}

function activated(event) {
  if (!inbox || inbox.style !== "advanced") { return; }
  var target = event.target;
  if (!target || !target.closest || target === host) { return; }
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
    activators[i].removeAttribute("data-parley-unread");
    var counter = activators[i].querySelector(".parley-unread");
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
    launcher.setAttribute("aria-label", count > 0 ? "Messages, " + count + " unread" : "Messages");
  }
  if (!inbox || inbox.style !== "advanced" || !inbox.count) { return; }
  for (var i = 0; i < activators.length; i++) {
    activators[i].setAttribute("data-parley-unread", String(count));
    var counter = activators[i].querySelector(".parley-unread");
    if (counter) { counter.textContent = count > 0 ? String(count) : ""; }
  }
}

function toggleBox() { if (box) { closeBox(); } else { commands.show(); } }

function closeBox() {
  if (!box) { return; }
  stopWatching();
  removeNode(box);
  box = null;
  if (boxReturn && boxReturn.focus && boxReturn.isConnected) { boxReturn.focus(); }
  boxReturn = null;
  pump();  // a popup that waited for the box
}

function openBox() {
  if (!box) {
    boxReturn = focused();
    box = el("div", "pw-card parley-box");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Messages");
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { closeBox(); }
    });
    ui().appendChild(box);
  }
  showList();
}

function boxFrame(title, back) {
  stopWatching();
  while (box.firstChild) { box.removeChild(box.firstChild); }
  var head = el("div", "pw-head");
  if (back) { head.appendChild(button("pw-link parley-back", "\u2039", "Back", back)); }
  head.appendChild(el("span", "pw-title", title));
  if (!back) { head.appendChild(button("pw-link parley-new", "New message", null, showCompose)); }
  head.appendChild(closeButton("Close messages", closeBox));
  box.appendChild(head);
  var content = el("div", "pw-scroll parley-content");
  box.appendChild(content);
  var first = head.querySelector("button");
  if (first) { first.focus(); }
  return content;
}

function showList(before) {
  var content = boxFrame("Messages");
  var shown = box;
  call("inbox", "/widget/inbox", { before: before || null }).then(function (outcome) {
    if (box !== shown || !content.isConnected) { return; }
    if (outcome.status !== 200) { failed(content, outcome); return; }
    var listed = outcome.body.conversations;
    if (!listed.length) { content.appendChild(el("p", "pw-empty parley-empty", "No conversations yet.")); }
    for (var i = 0; i < listed.length; i++) { content.appendChild(row(listed[i])); }
    if (outcome.body.pages.next) {
      content.appendChild(button("pw-link parley-more", "Older", null, function () {
        showList(outcome.body.pages.next);
      }));
    }
  });
}

function row(conversation) {
  var item = button("pw-row parley-conversation" + (conversation.read ? "" : " parley-unread-item"), null,
    null, function () { showConversation(conversation.id); });
  item.setAttribute("data-conversation-id", conversation.id);
  item.appendChild(el("span", "parley-snippet", conversation.snippet));
  item.appendChild(el("span", "parley-meta", partAuthor(conversation.author) + " \u00b7 " +
    when(conversation.updated_at) + (conversation.read ? "" : " \u00b7 unread")));
  return item;
}

function showConversation(id) {
  if (!box) { return; }
  var content = boxFrame("Conversation", function () { showList(); });
  var shown = box;
  call("read", conversationPath(id, "read")).then(function (outcome) {
    if (box === shown && content.isConnected) { renderConversation(content, outcome); }
  });
}

function stopWatching() { if (watching) { clearInterval(watching); watching = null; } }

// The thread in one frame, the reply box below; while it is on show, answers appear.
function renderConversation(content, outcome) {
  while (content.firstChild) { content.removeChild(content.firstChild); }
  removeNode(box.querySelector(".parley-reply"));
  if (outcome.status !== 200) { failed(content, outcome); return; }
  var conversation = outcome.body;
  var count = conversation.conversation_parts.conversation_parts.length;
  content.setAttribute("data-conversation-id", conversation.id);
  var thread = frame(threadHtml(conversation), "Conversation", { escape: closeBox });
  thread.className = "pw-frame parley-thread";
  thread.addEventListener("load", function () { content.scrollTop = content.scrollHeight; });
  content.appendChild(thread);
  box.appendChild(composer("parley-reply", "Reply", "Write a reply\u2026", function (text) {
    return call("reply", conversationPath(conversation.id, "reply"), { body: text });
  }, function (replied) { renderConversation(content, replied); }));
  stopWatching();
  watching = setInterval(function () {
    if (d.hidden || !content.isConnected) { return; }
    call("read", conversationPath(conversation.id, "read")).then(function (seen) {
      var now = seen.status === 200 && seen.body.conversation_parts.conversation_parts.length;
      if (now && now !== count && content.isConnected) { renderConversation(content, seen); }
    });
  }, POLL_MS);
}

function showCompose() {
  var content = boxFrame("New message", function () { showList(); });
  box.appendChild(composer("parley-compose", "Your message", "How can we help?", function (text) {
    return call("start", "/widget/conversations", { body: text });
  }, function (started) {
    renderConversation(boxFrame("Conversation", function () { showList(); }), started);
  }));
  content.appendChild(el("p", "pw-empty", "Ask us anything: the team answers here and by email."));
  box.querySelector("textarea").focus();
}
