// The dashboard's actions. Every control has a data-action (close-gate, open-gate, create-service,
// delete-service, end-holder, end-ticket), opens one dialog that says what will change or end, with
// its inputs as data-field, and acts only on its data-action="confirm" button, through the same HTTP
// API as any client.
(function (W) {
  var $ = function (id) { return document.getElementById(id); };
  var pending = null;
  // The administrator's "user:password", for this page's life only (never stored).
  var admin = null;

  function enc(s) { return encodeURIComponent(s); }
  function field(name, label, value, type) {
    var wrap = W.el("div");
    var l = W.el("label", null, label);
    var input = W.el("input");
    input.dataset.field = name;
    input.type = type || "text";
    input.value = value || "";
    input.id = "field-" + name;
    l.htmlFor = input.id;
    wrap.appendChild(l); wrap.appendChild(input);
    return wrap;
  }
  function value(name) {
    var input = document.querySelector("#dialog [data-field=" + name + "]");
    return input ? input.value.trim() : "";
  }
  function notice(message, bad) {
    var n = $("notice");
    n.textContent = message;
    n.className = bad ? "bad" : "";
  }
  function open(spec) {
    pending = spec;
    $("dialog-title").textContent = spec.title;
    $("dialog-text").textContent = spec.text;
    $("dialog-error").textContent = "";
    var fields = $("dialog-fields");
    fields.replaceChildren();
    (spec.fields || []).forEach(function (f) { fields.appendChild(field(f[0], f[1], f[2], f[3])); });
    var confirm = document.querySelector("#dialog [data-action=confirm]");
    confirm.textContent = spec.confirm;
    $("dialog").hidden = false;
    var first = fields.querySelector("input");
    (first || confirm).focus();
  }
  function close() { pending = null; $("dialog").hidden = true; }
  function reason(r) {
    return (r.body && (r.body.reason || r.body.message)) || ("the server answered " + r.status);
  }

  function lockOf(name) {
    return W.state.locks.filter(function (l) { return l.id === name; })[0];
  }
  function serviceOf(name) {
    return W.state.services.filter(function (s) { return s.name === name; })[0];
  }
  function list(items, none) { return items.length ? items.join(", ") : none; }

  var actions = {
    "close-gate": function (d) {
      var gate = d.service + ":" + d.gate;
      return {
        title: "Close gate " + gate,
        text: "Nobody new gets through " + gate + " until it is opened again; tickets waiting for it keep their place. A ticket holding it now keeps it.",
        fields: [["message", "Message (why, and who)", ""]],
        confirm: "Close " + gate,
        run: function () {
          return W.api("PUT", "/api/services/" + enc(d.service) + "/" + enc(d.gate),
            { state: "closed", message: value("message") });
        },
        done: "Closed " + gate + "."
      };
    },
    "open-gate": function (d) {
      var gate = d.service + ":" + d.gate;
      return {
        title: "Open gate " + gate,
        text: "Tickets waiting for " + gate + " go through in turn. The message is replaced by this one (empty clears it).",
        fields: [["message", "Message", ""]],
        confirm: "Open " + gate,
        run: function () {
          return W.api("PUT", "/api/services/" + enc(d.service) + "/" + enc(d.gate),
            { state: "open", message: value("message") });
        },
        done: "Opened " + gate + "."
      };
    },
    "create-service": function () {
      return {
        title: "New service",
        text: "A service with its gates, all open.",
        fields: [["name", "Service name", ""], ["group", "Group", ""], ["gates", "Gates (comma-separated)", ""]],
        confirm: "Create",
        run: function () {
          var gates = value("gates").split(",").map(function (g) { return g.trim(); })
            .filter(function (g) { return g; });
          if (!value("name")) return Promise.resolve({ status: 0, body: { reason: "a service needs a name" } });
          return W.api("POST", "/api/services/" + enc(value("name")), { group: value("group"), environments: gates });
        },
        done: "Created the service."
      };
    },
    "delete-service": function (d) {
      var svc = serviceOf(d.service), gates = svc ? Object.keys(svc.environments).sort() : [];
      var tickets = Object.keys(W.state.tickets).filter(function (id) {
        var t = W.state.tickets[id];
        return t.holds.concat(t.waits).some(function (g) { return g.indexOf(d.service + ":") === 0; });
      }).map(function (id) {
        var h = W.state.tickets[id].holder;
        return id + (h ? " (" + h + ")" : "");
      });
      return {
        title: "Delete service " + d.service,
        text: "Service " + d.service + " and its gates (" + list(gates, "none") + ") are deleted. " +
          "These tickets end: " + list(tickets, "none") + ".",
        confirm: "Delete " + d.service,
        run: function () { return W.api("DELETE", "/api/services/" + enc(d.service)); },
        done: "Deleted the service " + d.service + "."
      };
    },
    "end-holder": function (d) {
      var lock = lockOf(d.lock), holders = lock ? W.holdersOf(lock) : [], waiting = lock ? (lock.queue || []).length : 0;
      var who = holders.map(function (h) { return h.holder + " (held " + W.dur(Number(h.held_for) || 0) + ")"; });
      var fields = admin ? [] : [["user", "Administrator", ""], ["password", "Password", "", "password"]];
      return {
        title: "End lock " + d.lock,
        text: "Ends the holder" + (holders.length === 1 ? " " : "s ") + list(who, "(none now)") +
          (waiting ? " and the " + waiting + " request" + (waiting === 1 ? "" : "s") + " waiting for it" : "") +
          ". Needs the server's --admin-credentials.",
        fields: fields,
        confirm: "End " + d.lock,
        run: function () {
          var creds = admin || (value("user") + ":" + value("password"));
          return W.api("POST", "/break", { id: d.lock }, { admin: creds }).then(function (r) {
            if (r.status === 200) admin = creds;
            if (r.status === 401) { admin = null; r.body = { reason: "wrong administrator user or password" }; }
            return r;
          });
        },
        done: "Ended lock " + d.lock + "."
      };
    },
    "end-ticket": function (d) {
      var t = W.state.tickets[d.ticket] || { holds: [], waits: [] };
      return {
        title: "End ticket " + d.ticket,
        text: "Ticket " + d.ticket + (t.holder ? " (" + t.holder + ")" : "") + " ends: it lets go of " + list(t.holds, "no gate") +
          " and leaves the line for " + list(t.waits, "no gate") + ".",
        confirm: "End the ticket",
        run: function () { return W.api("DELETE", "/api/tickets/" + enc(d.ticket)); },
        done: "Ended ticket " + d.ticket + "."
      };
    }
  };

  document.addEventListener("click", function (ev) {
    var target = ev.target instanceof Element ? ev.target.closest("[data-action]") : null;
    if (!target) return;
    var action = target.dataset.action;
    if (action === "cancel") { close(); return; }
    if (actions[action]) open(actions[action](target.dataset));
  });
  $("dialog").querySelector("form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var spec = pending;
    if (!spec) return;
    $("dialog-error").textContent = "";
    spec.run().then(function (r) {
      if (r.status >= 200 && r.status < 300 && !(r.body && r.body.status === "error")) {
        close();
        notice(spec.done, false);
        W.poll();
        return;
      }
      $("dialog-error").textContent = "Not done: " + reason(r);
      if (spec === pending && !admin && spec.title.indexOf("End lock") === 0 &&
          !document.querySelector("#dialog [data-field=user]")) {
        var fields = $("dialog-fields");
        fields.appendChild(field("user", "Administrator", ""));
        fields.appendChild(field("password", "Password", "", "password"));
      }
    }, function () {
      $("dialog-error").textContent = "Not done: the server cannot be reached.";
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && pending) close();
  });
})(weblock);
