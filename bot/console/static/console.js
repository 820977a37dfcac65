/* Front Door adviser console: live updates over server-sent events.
 * The server sends only ids and types; the HTML is always fetched from the
 * server, already escaped, and inserted as parsed nodes (never innerHTML). */
(function () {
  "use strict";

  /* An urgent notice is never pushed out by routine news that arrives with it
   * (the transcript and the status panel refresh at the same time): for a few
   * seconds what follows is said after it. */
  var URGENT_HOLD_MS = 5000;
  var urgentNote = null;
  var urgentAt = 0;
  function announce(text, urgent) {
    var region = document.getElementById("live-status");
    if (!region) { return; }
    if (urgent) {
      urgentNote = text;
      urgentAt = Date.now();
      region.textContent = text;
    } else if (urgentNote && Date.now() - urgentAt < URGENT_HOLD_MS) {
      region.textContent = urgentNote + " " + text;
    } else {
      region.textContent = text;
    }
  }

  function parse(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  function getHtml(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { "Accept": "text/x-fragment" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    });
  }

  function showProblem() {
    var problem = document.getElementById("live-problem");
    if (problem) { problem.hidden = false; }
  }

  /* onUpdate gets the events of the last 200 ms (ids and flags only); onOpen
   * runs each time the stream is (re)connected. */
  function listen(url, onUpdate, onOpen) {
    if (!window.EventSource) { return; }
    var source = new EventSource(url);
    var timer = null;
    var pending = [];
    function flush() {
      var batch = pending;
      pending = [];
      onUpdate(batch);
    }
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(flush, 200);
    }
    source.addEventListener("update", function (event) {
      try { pending.push(JSON.parse(event.data)); } catch (e) { /* keep going */ }
      schedule();
    });
    source.addEventListener("open", function () {
      if (onOpen) { onOpen(); }
      schedule(); /* catch up after a reconnect */
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) { showProblem(); }
    });
  }

  /* Where focus was, so replacing a list does not throw a keyboard user out. */
  function focusKey(container) {
    var el = document.activeElement;
    if (!el || !container.contains(el)) { return null; }
    var form = el.closest("form");
    if (form) { return { form: form.getAttribute("action") }; }
    if (el.getAttribute("href")) { return { href: el.getAttribute("href") }; }
    return null;
  }

  function restoreFocus(container, key) {
    if (!key) { return; }
    var nodes = container.querySelectorAll(key.form ? "form" : "a");
    for (var i = 0; i < nodes.length; i++) {
      var attr = key.form ? nodes[i].getAttribute("action") : nodes[i].getAttribute("href");
      if (attr === (key.form || key.href)) {
        var target = key.form ? nodes[i].querySelector("button") : nodes[i];
        if (target) { target.focus(); }
        return;
      }
    }
  }

  function urgentOnes(batch) {
    return batch.filter(function (event) { return event.urgent === true && event.conversation_id; });
  }

  /* The urgent alert: on every console page, in words (an ARIA alert), with a
   * link to the conversation. It never shows what the person wrote. */
  function alertUrgent(box, batch) {
    var urgent = urgentOnes(batch);
    if (!box || !urgent.length) { return; }
    soundAndNotify(box, urgent);
    var id = urgent[urgent.length - 1].conversation_id;
    var text = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = "Urgent: ";
    text.appendChild(strong);
    text.appendChild(document.createTextNode(
      "someone may be at risk now. The conversation is first in the queue. "));
    var link = document.createElement("a");
    link.href = box.dataset.conversations + encodeURIComponent(id);
    link.textContent = "Open the urgent conversation";
    text.appendChild(link);
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "button button-secondary";
    dismiss.textContent = "Dismiss the urgent alert";
    dismiss.addEventListener("click", function () {
      box.hidden = true;
      box.replaceChildren();
    });
    box.hidden = false;
    box.replaceChildren(text, dismiss);
  }

  /* Sound and desktop alerts for new urgent conversations: opt-in, kept in
   * this browser. The sound is made here (Web Audio), nothing is downloaded;
   * the notification never carries what the person wrote. */
  var ALERT_KEY = "fd-console-urgent-alerts";
  var audio = null;

  function alertsOn() {
    try { return window.localStorage.getItem(ALERT_KEY) === "on"; } catch (e) { return false; }
  }

  function setAlerts(on) {
    try { window.localStorage.setItem(ALERT_KEY, on ? "on" : "off"); } catch (e) { /* private mode */ }
  }

  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    if (!audio) { audio = new Context(); }
    if (audio.state === "suspended" && audio.resume) { audio.resume(); }
    return audio;
  }

  function beep() {
    var ctx = audioContext();
    if (!ctx) { return false; }
    [0, 0.25].forEach(function (start) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(ctx.currentTime + start);
      osc.stop(ctx.currentTime + start + 0.18);
    });
    return true;
  }

  function notifyDesktop(id, box) {
    if (!("Notification" in window) || window.Notification.permission !== "granted") { return false; }
    var note = new window.Notification("Urgent conversation in Front Door", {
      body: "Someone may be at risk now. It is first in the queue.",
      tag: "urgent-" + id
    });
    note.onclick = function () {
      window.focus();
      window.location.href = box.dataset.conversations + encodeURIComponent(id);
    };
    return true;
  }

  var alerted = {};

  function soundAndNotify(box, urgent) {
    if (!alertsOn()) { return; }
    var fresh = urgent.filter(function (event) { return !alerted[event.conversation_id]; });
    if (!fresh.length) { return; }
    fresh.forEach(function (event) { alerted[event.conversation_id] = true; });
    var id = fresh[fresh.length - 1].conversation_id;
    var sounded = beep();
    var shown = notifyDesktop(id, box);
    var root = document.documentElement;
    root.dataset.urgentAlerts = String(Number(root.dataset.urgentAlerts || "0") + 1);
    root.dataset.urgentAlertSound = sounded ? "yes" : "no";
    root.dataset.urgentAlertDesktop = shown ? "yes" : "no";
  }

  function setupAlertToggle() {
    var toggle = document.querySelector('input[data-setting="urgent-alerts"]');
    if (!toggle) { return; }
    toggle.checked = alertsOn();
    toggle.addEventListener("change", function () {
      setAlerts(toggle.checked);
      if (toggle.checked) {
        audioContext(); /* a click lets the page make sound later */
        if ("Notification" in window && window.Notification.permission === "default") {
          window.Notification.requestPermission();
        }
        announce("Urgent conversations will make a sound and show a desktop alert.");
      } else {
        announce("Sound and desktop alerts are off.");
      }
    });
  }

  /* The organisation filter: about 250 names, narrowed as the adviser types. */
  function setupOrganisationSearch() {
    var input = document.getElementById("organisation-search");
    var select = document.getElementById("organisation");
    if (!input || !select) { return; }
    input.addEventListener("input", function () {
      var words = input.value.trim().toLowerCase();
      var shown = 0;
      var first = null;
      Array.prototype.forEach.call(select.options, function (option) {
        var match = !option.value || !words || option.textContent.toLowerCase().indexOf(words) !== -1;
        option.hidden = !match;
        option.disabled = !match;
        if (match && option.value) { shown += 1; if (!first) { first = option; } }
      });
      /* one match: chosen; the chosen one filtered out: the first match instead */
      if (words && first && (shown === 1 || select.selectedOptions.length === 0 ||
                             select.selectedOptions[0].hidden)) {
        first.selected = true;
      }
      announce(shown === 1 ? "1 organisation matches." : shown + " organisations match.");
    });
  }

  function setupQueue(live, box) {
    function refresh() {
      return getHtml(live.dataset.refresh).then(function (html) {
        var key = focusKey(live);
        live.replaceChildren.apply(live, Array.prototype.slice.call(parse(html).body.childNodes));
        restoreFocus(live, key);
        var list = live.querySelector("ol[data-count]");
        return list;
      });
    }
    listen(live.dataset.events, function (batch) {
      alertUrgent(box, batch);
      refresh().then(function (list) {
        var urgent = list ? Number(list.dataset.urgent || "0") : 0;
        announce("Queue updated: " + (list ? list.dataset.count : "0") + " waiting" +
          (urgent ? ", " + urgent + " urgent, shown first." : "."));
      }).catch(showProblem);
    }, function () { if (box) { box.dataset.live = "open"; } });
    /* waiting times move on by themselves: their bands are re-read each minute */
    window.setInterval(function () { refresh().catch(function () { /* next minute */ }); }, 60000);
  }

  function setupConversation(transcript) {
    /* after: re-read from there (an urgent message is re-shown with its flag). */
    function refreshMessages(after) {
      var from = after !== undefined ? after : (transcript.dataset.lastId || "0");
      var url = transcript.dataset.messages + "?after=" + encodeURIComponent(from);
      return getHtml(url).then(function (html) {
        var items = parse(html).body.querySelectorAll("li[data-id]");
        var added = 0;
        items.forEach(function (li) {
          var shown = transcript.querySelector('li[data-id="' + li.dataset.id + '"]');
          if (!shown) {
            transcript.appendChild(li);
            if (Number(li.dataset.id) > Number(transcript.dataset.lastId || "0")) {
              transcript.dataset.lastId = li.dataset.id;
            }
            added += 1;
          } else if (shown.dataset.urgent !== li.dataset.urgent ||
                     shown.dataset.delivery !== li.dataset.delivery) {
            shown.replaceWith(li);
          }
        });
        if (added) { announce(added === 1 ? "1 new message." : added + " new messages."); }
      });
    }

    function refreshPanels() {
      return getHtml(transcript.dataset.panel).then(function (html) {
        var doc = parse(html);
        var panel = document.getElementById("status-panel");
        var fresh = doc.getElementById("status-panel");
        if (panel && fresh) {
          var changed = panel.dataset.status !== fresh.dataset.status || panel.dataset.mine !== fresh.dataset.mine;
          var urgentNow = panel.dataset.urgent !== "yes" && fresh.dataset.urgent === "yes";
          /* An outcome the adviser is choosing survives the refresh. */
          var chosen = panel.querySelector("#outcome");
          var freshChoice = fresh.querySelector("#outcome");
          if (chosen && freshChoice) { freshChoice.value = chosen.value; }
          panel.replaceWith(fresh);
          if (urgentNow) {
            announce("This conversation is now urgent: someone may be at risk.", true);
          } else if (changed) {
            announce("Status changed: " + fresh.querySelector(".status").textContent);
          }
        }
        var composer = document.getElementById("composer");
        var freshComposer = doc.getElementById("composer");
        if (composer && freshComposer) {
          var drafts = composer.querySelectorAll("textarea");
          var typing = Array.prototype.some.call(drafts, function (t) { return t.value.trim() !== ""; });
          if (!typing) { composer.replaceWith(freshComposer); setupCanned(); setupSavedReplies(); }
        }
      });
    }

    listen(transcript.dataset.events, function (batch) {
      /* urgent messages and delivery changes are re-read from their id */
      var urgent = urgentOnes(batch).concat(batch.filter(function (event) {
        return event.type === "delivery";
      })).filter(function (event) { return event.message_id; });
      var ids = urgent.map(function (event) { return Number(event.message_id); });
      if (!batch.length) {
        /* a (re)connect: a reply still "Sending…" may have changed meanwhile */
        var pending = transcript.querySelector('li[data-delivery="pending"]');
        if (pending) { ids.push(Number(pending.dataset.id)); }
      }
      var after = ids.length ? Math.max(0, Math.min.apply(null, ids) - 1) : undefined;
      refreshMessages(after).then(refreshPanels).catch(showProblem);
    });
  }

  function setupCanned() {
    var buttons = document.querySelectorAll(".use-canned");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var box = document.getElementById("reply-text");
        if (box) {
          box.value = button.dataset.text;
          box.focus();
        }
      });
    });
  }

  /* Saved replies: "/" at the start of a reply box lists them; Enter or Tab
   * puts the chosen one in, Escape closes the list. */
  function setupSavedReplies() {
    var boxes = document.querySelectorAll("textarea[data-saved-replies]");
    boxes.forEach(function (box) {
      var source = document.getElementById(box.dataset.savedReplies);
      if (!source) { return; }
      var replies = Array.prototype.map.call(source.querySelectorAll("li[data-shortcut]"), function (li) {
        return { shortcut: li.dataset.shortcut, title: li.dataset.title, text: li.dataset.text };
      });
      var list = document.createElement("ul");
      list.id = "saved-suggestions-" + box.id;
      list.className = "saved-suggestions";
      list.setAttribute("role", "listbox");
      list.setAttribute("aria-label", "Saved replies");
      list.hidden = true;
      box.insertAdjacentElement("afterend", list);
      box.setAttribute("aria-autocomplete", "list");
      box.setAttribute("aria-controls", list.id);
      var matches = [];
      var active = 0;

      function close() {
        list.hidden = true;
        list.replaceChildren();
        box.removeAttribute("aria-activedescendant");
      }

      function choose(index) {
        var reply = matches[index];
        if (!reply) { return; }
        box.value = reply.text;
        close();
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
        announce("Saved reply " + reply.title + " put in the reply box.");
      }

      function show() {
        list.replaceChildren();
        matches.forEach(function (reply, index) {
          var item = document.createElement("li");
          item.id = list.id + "-" + index;
          item.setAttribute("role", "option");
          item.setAttribute("aria-selected", index === active ? "true" : "false");
          item.className = index === active ? "is-active" : "";
          var code = document.createElement("code");
          code.textContent = "/" + reply.shortcut;
          item.appendChild(code);
          item.appendChild(document.createTextNode(" " + reply.title));
          item.addEventListener("mousedown", function (event) {
            event.preventDefault();
            choose(index);
          });
          list.appendChild(item);
        });
        list.hidden = matches.length === 0;
        if (matches.length) {
          box.setAttribute("aria-activedescendant", list.id + "-" + active);
        }
      }

      box.addEventListener("input", function () {
        var value = box.value;
        if (value.charAt(0) !== "/" || /\s/.test(value)) { close(); return; }
        var typed = value.slice(1).toLowerCase();
        matches = replies.filter(function (reply) {
          return reply.shortcut.indexOf(typed) === 0 || reply.title.toLowerCase().indexOf(typed) !== -1;
        });
        active = 0;
        show();
        if (matches.length) {
          announce(matches.length === 1 ? "1 saved reply matches." : matches.length + " saved replies match.");
        }
      });
      box.addEventListener("keydown", function (event) {
        if (list.hidden) { return; }
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          var step = event.key === "ArrowDown" ? 1 : -1;
          active = (active + step + matches.length) % matches.length;
          show();
        } else if (event.key === "Enter" || event.key === "Tab") {
          if (event.ctrlKey || event.metaKey) { return; }
          event.preventDefault();
          choose(active);
        } else if (event.key === "Escape") {
          event.preventDefault();
          close();
        }
      });
      box.addEventListener("blur", function () { window.setTimeout(close, 150); });
    });
  }

  /* "e" asks before it resolves, in a modal dialog: resolving tells the person
   * at once (the closing line and the rating question leave through the outbox),
   * so it could not be undone. Enter (on Resolve or the outcome) resolves with
   * the outcome shown, Escape or Cancel goes back to where the adviser was.
   * Returns the function that opens it, or null on pages without it. */
  function setupResolveConfirm() {
    var dialog = document.getElementById("resolve-confirm");
    if (!dialog || !dialog.showModal) { return null; }
    var choice = document.getElementById("resolve-confirm-outcome");
    var acceptButton = dialog.querySelector("[data-resolve-accept]");
    var opener = null;
    var accepted = false;

    function resolveForm() {
      return document.querySelector('#status-panel form[action$="/resolve"]');
    }
    function accept() {
      var form = resolveForm();
      accepted = true;
      dialog.close();
      if (!form) {
        announce("This conversation can no longer be resolved here: see its status.");
        return;
      }
      form.querySelector("#outcome").value = choice.value;
      announce("Resolving the conversation.");
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }
    acceptButton.addEventListener("click", accept);
    dialog.querySelector("[data-resolve-cancel]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (event.target.hasAttribute("data-resolve-cancel")) { return; }
      event.preventDefault();
      accept();
    });
    dialog.addEventListener("close", function () {
      if (accepted) { return; }
      announce("Not resolved.");
      if (opener && opener.focus && document.contains(opener)) { opener.focus(); }
    });
    return function open() {
      var form = resolveForm();
      if (!form) { return false; }
      opener = document.activeElement;
      accepted = false;
      choice.value = form.querySelector("#outcome").value;
      dialog.showModal();
      acceptButton.focus();
      return true;
    };
  }

  /* Keyboard shortcuts (listed on "?"): j/k move through the cards, e resolves
   * (after asking), r goes to the reply box, Ctrl+Enter sends. Letters are
   * ignored while typing in a field or while a dialog is open. */
  function setupShortcuts() {
    var help = document.getElementById("shortcuts");
    if (!help) { return; }
    var opener = null;
    var confirmResolve = setupResolveConfirm();

    function toggleHelp(show) {
      if (show) {
        opener = document.activeElement;
        help.hidden = false;
        help.focus();
      } else {
        help.hidden = true;
        if (opener && opener.focus) { opener.focus(); }
      }
    }
    document.getElementById("shortcuts-close").addEventListener("click", function () { toggleHelp(false); });

    function typing(el) {
      if (!el) { return false; }
      var tag = el.tagName;
      return tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable ||
        (tag === "INPUT" && ["checkbox", "radio", "button", "submit"].indexOf(el.type) === -1);
    }

    function moveCard(step) {
      var links = Array.prototype.slice.call(document.querySelectorAll(".card .card-link"));
      if (!links.length) {
        var next = document.querySelector(step > 0 ? "a[data-next-conversation]" : "a[data-previous-conversation]");
        if (next) { window.location.href = next.href; }
        return;
      }
      var current = links.indexOf(document.activeElement);
      var index = current === -1 ? (step > 0 ? 0 : links.length - 1) :
        Math.min(links.length - 1, Math.max(0, current + step));
      document.querySelectorAll(".card.is-current").forEach(function (card) { card.classList.remove("is-current"); });
      var link = links[index];
      link.closest(".card").classList.add("is-current");
      link.focus();
      link.scrollIntoView({ block: "nearest" });
    }

    document.addEventListener("keydown", function (event) {
      var el = document.activeElement;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && el && el.tagName === "TEXTAREA") {
        var form = el.closest("form");
        if (form && el.value.trim() !== "") {
          event.preventDefault();
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }
        return;
      }
      if (event.key === "Escape" && !help.hidden) { toggleHelp(false); return; }
      if (document.querySelector("dialog[open]")) { return; }
      if (event.ctrlKey || event.metaKey || event.altKey || typing(el)) { return; }
      if (event.key === "?") { event.preventDefault(); toggleHelp(help.hidden); return; }
      if (!help.hidden) { return; }
      if (event.key === "j" || event.key === "k") {
        event.preventDefault();
        moveCard(event.key === "j" ? 1 : -1);
      } else if (event.key === "e" && confirmResolve) {
        event.preventDefault();
        if (!confirmResolve()) {
          announce("Only a waiting conversation, or one you picked up, can be resolved.");
        }
      } else if (event.key === "r") {
        var reply = document.getElementById("reply-text");
        if (reply) { event.preventDefault(); reply.focus(); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("queue-live");
    var box = document.getElementById("urgent-alert");
    if (live) {
      setupQueue(live, box);
    } else if (box) {
      listen(box.dataset.events, function (batch) { alertUrgent(box, batch); },
        function () { box.dataset.live = "open"; });
    }
    var transcript = document.getElementById("transcript");
    if (transcript) { setupConversation(transcript); }
    setupCanned();
    setupAlertToggle();
    setupOrganisationSearch();
    setupSavedReplies();
    setupShortcuts();
  });
})();
