/* The user list's filter bar: pick an attribute, an operator that fits its type and a value,
   as many conditions as needed, combined with all or any. It writes the same JSON as
   GET /users?filter= into the form's `filter` box, which is what the server reads: without
   this script the box itself still works. The choices come from the page
   (<script type="application/json" id="filter-catalogue">), made by
   queries/audience/catalogue.py. No inline code: the dashboard's CSP forbids it. */
(function () {
  "use strict";

  var OPERATORS = {
    string: [
      ["is", "is"], ["is_not", "is not"], ["starts_with", "starts with"],
      ["ends_with", "ends with"], ["contains", "contains"],
      ["does_not_contain", "does not contain"], ["known", "is known"], ["unknown", "is unknown"]
    ],
    number: [
      ["eq", "is"], ["ne", "is not"], ["gt", "more than"], ["gte", "at least"],
      ["lt", "less than"], ["lte", "at most"], ["known", "is known"], ["unknown", "is unknown"]
    ],
    date: [
      ["more_than_days_ago", "more than … days ago"], ["less_than_days_ago", "less than … days ago"],
      ["exactly_days_ago", "exactly … days ago"], ["after", "after"], ["on", "on"],
      ["before", "before"], ["known", "is known"], ["unknown", "is unknown"]
    ],
    boolean: [["is", "is"], ["is_not", "is not"], ["known", "is known"], ["unknown", "is unknown"]],
    tag: [["is", "is"], ["is_not", "is not"]],
    segment: [["is", "is"], ["is_not", "is not"]]
  };
  var DAYS = { more_than_days_ago: 1, less_than_days_ago: 1, exactly_days_ago: 1 };
  var PRESENCE = { known: 1, unknown: 1 };
  var NUMBER_OPS = { eq: 1, ne: 1, gt: 1, gte: 1, lt: 1, lte: 1 };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function FilterBar(form, bar, box, catalogue) {
    this.form = form;
    this.bar = bar;
    this.box = box;
    this.catalogue = catalogue;
    this.byPath = {};
    this.counter = 0;
    var self = this;
    catalogue.groups.forEach(function (group) {
      group.attributes.forEach(function (a) { self.byPath[a.path] = a; });
    });
    if (catalogue.tags.length) { this.byPath.tag = { path: "tag", label: "Tag", kind: "tag" }; }
    if (catalogue.segments.length) {
      this.byPath.segment = { path: "segment", label: "Segment", kind: "segment" };
    }
  }

  FilterBar.prototype.build = function () {
    var self = this;
    this.bar.textContent = "";
    var head = el("div", { "class": "fb-head" });
    head.appendChild(el("label", { "for": "fb-match" }, "Users matching"));
    this.match = el("select", { id: "fb-match" });
    this.match.appendChild(el("option", { value: "all" }, "all"));
    this.match.appendChild(el("option", { value: "any" }, "any"));
    head.appendChild(this.match);
    head.appendChild(el("span", {}, "of these conditions"));
    this.bar.appendChild(head);
    this.rows = el("ol", { "class": "fb-rows" });
    this.bar.appendChild(this.rows);
    this.note = el("p", { "class": "fb-note muted", "aria-live": "polite" });
    this.bar.appendChild(this.note);
    var add = el("button", { type: "button", "class": "fb-add" }, "+ Add condition");
    add.addEventListener("click", function () {
      var row = self.addRow(null);
      self.sync();
      row.querySelector("select").focus();
    });
    this.bar.appendChild(add);
    this.match.addEventListener("change", function () { self.sync(); });
    this.bar.hidden = false;
  };

  FilterBar.prototype.attributeSelect = function (id, label) {
    var select = el("select", { id: id, "aria-label": label });
    var self = this;
    this.catalogue.groups.forEach(function (group) {
      if (!group.attributes.length) { return; }
      var optgroup = el("optgroup", { label: group.label });
      group.attributes.forEach(function (a) {
        optgroup.appendChild(el("option", { value: a.path }, a.label));
      });
      select.appendChild(optgroup);
    });
    if (this.byPath.tag || this.byPath.segment) {
      var both = el("optgroup", { label: "Tags and segments" });
      ["tag", "segment"].forEach(function (p) {
        if (self.byPath[p]) { both.appendChild(el("option", { value: p }, self.byPath[p].label)); }
      });
      select.appendChild(both);
    }
    return select;
  };

  /* A condition found in the URL whose custom key the sample did not show: offer it too. */
  FilterBar.prototype.learn = function (condition) {
    var path = condition.attribute;
    if (this.byPath[path] || typeof path !== "string") { return this.byPath[path]; }
    var custom = path.indexOf("custom.") === 0 || path.indexOf("company.custom.") === 0;
    if (!custom) { return null; }
    var key = path.slice(path.indexOf("custom.") + 7);
    var kind = "string";
    if (/_at$/.test(key)) { kind = "date"; }
    else if (NUMBER_OPS[condition.operator]) { kind = "number"; }
    else if (typeof condition.value === "boolean") { kind = "boolean"; }
    var attribute = { path: path, label: key, kind: kind };
    var groupLabel = path.indexOf("company.") === 0 ? "Company data" : "Custom data";
    var group = this.catalogue.groups.filter(function (g) { return g.label === groupLabel; })[0];
    if (!group) { group = { label: groupLabel, attributes: [] }; this.catalogue.groups.push(group); }
    group.attributes.push(attribute);
    this.byPath[path] = attribute;
    return attribute;
  };

  FilterBar.prototype.addRow = function (condition) {
    var self = this;
    var n = ++this.counter;
    var row = el("li", { "class": "fb-row" });
    var attribute = this.attributeSelect("fb-attr-" + n, "Attribute");
    var operator = el("select", { id: "fb-op-" + n, "aria-label": "Operator" });
    var valueSlot = el("span", { "class": "fb-value" });
    var remove = el("button", { type: "button", "class": "fb-remove" }, "Remove");
    row.appendChild(attribute);
    row.appendChild(operator);
    row.appendChild(valueSlot);
    row.appendChild(remove);
    this.rows.appendChild(row);
    if (condition) { attribute.value = condition.attribute; }
    this.fillOperators(row, condition ? condition.operator : null);
    this.fillValue(row, condition ? condition.value : null);
    attribute.addEventListener("change", function () {
      self.fillOperators(row, null);
      self.fillValue(row, null);
      self.sync();
    });
    operator.addEventListener("change", function () {
      var kept = self.valueOf(row);
      self.fillValue(row, kept);
      self.sync();
    });
    remove.addEventListener("click", function () {
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      self.sync();
      (next ? next.querySelector("select") : self.bar.querySelector(".fb-add")).focus();
    });
    this.label(row);
    return row;
  };

  FilterBar.prototype.label = function () {
    Array.prototype.forEach.call(this.rows.children, function (row, i) {
      var n = i + 1;
      row.querySelector("select").setAttribute("aria-label", "Condition " + n + ": attribute");
      row.querySelectorAll("select")[1].setAttribute("aria-label", "Condition " + n + ": operator");
      var value = row.querySelector(".fb-value input, .fb-value select");
      if (value) { value.setAttribute("aria-label", "Condition " + n + ": value"); }
      row.querySelector(".fb-remove").setAttribute("aria-label", "Remove condition " + n);
    });
  };

  FilterBar.prototype.kindOf = function (row) {
    var found = this.byPath[row.querySelector("select").value];
    return found ? found.kind : "string";
  };

  FilterBar.prototype.fillOperators = function (row, chosen) {
    var select = row.querySelectorAll("select")[1];
    select.textContent = "";
    OPERATORS[this.kindOf(row)].forEach(function (pair) {
      select.appendChild(el("option", { value: pair[0] }, pair[1]));
    });
    if (chosen) { select.value = chosen; }
    if (!select.value) { select.selectedIndex = 0; }
  };

  FilterBar.prototype.fillValue = function (row, value) {
    var self = this;
    var slot = row.querySelector(".fb-value");
    var op = row.querySelectorAll("select")[1].value;
    var kind = this.kindOf(row);
    slot.textContent = "";
    if (PRESENCE[op]) { this.label(row); return; }
    var input;
    if (kind === "tag" || kind === "segment") {
      input = el("select", { required: "" });
      (kind === "tag" ? this.catalogue.tags : this.catalogue.segments).forEach(function (t) {
        input.appendChild(el("option", { value: t.id }, t.name));
      });
    } else if (kind === "boolean") {
      input = el("select", {});
      input.appendChild(el("option", { value: "true" }, "true"));
      input.appendChild(el("option", { value: "false" }, "false"));
    } else if (kind === "number" || DAYS[op]) {
      input = el("input", { type: "number", required: "", step: DAYS[op] ? "1" : "any" });
      if (DAYS[op]) { input.setAttribute("min", "0"); input.setAttribute("max", "36500"); }
    } else if (kind === "date") {
      input = el("input", { type: "date", required: "" });
    } else {
      input = el("input", { type: "text", required: "", maxlength: "255" });
    }
    if (value !== null && value !== undefined) { input.value = String(value); }
    input.addEventListener("input", function () { self.sync(); });
    input.addEventListener("change", function () { self.sync(); });
    slot.appendChild(input);
    if (DAYS[op]) { slot.appendChild(el("span", { "class": "fb-unit" }, "days ago")); }
    this.label(row);
  };

  FilterBar.prototype.valueOf = function (row) {
    var input = row.querySelector(".fb-value input, .fb-value select");
    return input ? input.value : null;
  };

  FilterBar.prototype.condition = function (row) {
    var attribute = row.querySelector("select").value;
    var op = row.querySelectorAll("select")[1].value;
    var found = { attribute: attribute, operator: op };
    if (PRESENCE[op]) { return found; }
    var kind = this.kindOf(row);
    var raw = this.valueOf(row) || "";
    if (kind === "boolean") { found.value = raw === "true"; }
    else if (DAYS[op]) { found.value = raw === "" ? null : parseInt(raw, 10); }
    else if (kind === "number") { found.value = raw === "" ? null : Number(raw); }
    else { found.value = raw; }
    return found;
  };

  FilterBar.prototype.sync = function () {
    var self = this;
    this.label();
    var parts = Array.prototype.map.call(this.rows.children, function (row) {
      return self.condition(row);
    });
    var json = "";
    if (parts.length === 1) { json = JSON.stringify(parts[0]); }
    else if (parts.length > 1) {
      var group = {};
      group[this.match.value] = parts;
      json = JSON.stringify(group);
    }
    this.box.value = json;
    this.note.textContent = parts.length ? "" : "No conditions: every user. Add one to filter.";
  };

  /* Whether a row can hold the condition's value as written (else the JSON box keeps it). */
  FilterBar.prototype.fits = function (kind, p) {
    var v = p.value;
    if (PRESENCE[p.operator]) { return v === undefined; }
    if (DAYS[p.operator]) { return typeof v === "number" && Math.floor(v) === v && v >= 0; }
    if (kind === "number") { return typeof v === "number" && isFinite(v); }
    if (kind === "boolean") { return typeof v === "boolean"; }
    if (kind === "date") { return typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v); }
    if (kind === "tag" || kind === "segment") {
      var known = kind === "tag" ? this.catalogue.tags : this.catalogue.segments;
      return known.some(function (t) { return t.id === v; });
    }
    return typeof v === "string";
  };

  /* The JSON box's filter as rows, when it is flat (no group inside a group). */
  FilterBar.prototype.load = function (text) {
    var data;
    this.rows.textContent = "";
    if (!text.trim()) { this.sync(); return true; }
    try { data = JSON.parse(text); } catch (e) { return false; }
    if (!data || typeof data !== "object" || Array.isArray(data)) { return false; }
    var mode = "all";
    var parts = [data];
    if (Array.isArray(data.all) || Array.isArray(data.any)) {
      mode = Array.isArray(data.all) ? "all" : "any";
      parts = data[mode];
    }
    var self = this;
    var flat = parts.every(function (p) {
      return p && typeof p === "object" && typeof p.attribute === "string" && self.learn(p) &&
        OPERATORS[self.byPath[p.attribute].kind].some(function (o) { return o[0] === p.operator; }) &&
        self.fits(self.byPath[p.attribute].kind, p);
    });
    if (!flat) { return false; }
    this.match.value = mode;
    parts.forEach(function (p) { self.addRow(p); });
    this.note.textContent = parts.length ? "" : "No conditions: every user. Add one to filter.";
    return true;
  };

  FilterBar.prototype.cannot = function () {
    this.rows.textContent = "";
    this.note.textContent = "The bar cannot show this filter (groups inside groups, an operator " +
      "or value it does not offer, or a tag or segment that is gone): edit it as JSON below.";
  };

  function start(root) {
    var form = root.querySelector("#filter-form");
    var data = root.querySelector("#filter-catalogue");
    if (!form || !data || form.dataset.ready) { return; }
    form.dataset.ready = "1";
    var catalogue = JSON.parse(data.textContent);
    var box = form.querySelector("#filter");
    var json = form.querySelector("#filter-json");
    var bar = new FilterBar(form, form.querySelector("#filter-bar"), box, catalogue);
    bar.build();
    var original = box.value;
    if (bar.load(original)) {
      json.open = false;
      box.value = original;  // as the URL has it, until a row changes
    } else {
      bar.cannot();
    }
    box.addEventListener("change", function () {
      // What was typed stays as typed; the rows show it when they can.
      if (!bar.load(box.value)) { bar.cannot(); }
    });
  }

  /* The table's "tick every user on this page" box. */
  function pickPage(root) {
    var all = root.querySelector("#pick-page");
    if (!all || all.dataset.ready) { return; }
    all.dataset.ready = "1";
    all.hidden = false;
    var boxes = root.querySelectorAll('input[name="ids"][form="bulk"]');
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(boxes, function (b) { b.checked = all.checked; });
    });
  }

  function ready() {
    start(document);
    pickPage(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  document.addEventListener("htmx:afterSettle", ready);
})();
