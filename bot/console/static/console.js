/* Front Door adviser console: live updates over server-sent events.
 * The server sends only ids and types; the HTML is always fetched from the
 * server, already escaped, and inserted as parsed nodes (never innerHTML). */
(function () {
  "use strict";

  function announce(text) {
    var region = document.getElementById("live-status");
    if (region) { region.textContent = text; }
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

  function listen(url, onUpdate) {
    if (!window.EventSource) { return; }
    var source = new EventSource(url);
    var timer = null;
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(onUpdate, 200);
    }
    source.addEventListener("update", schedule);
    source.addEventListener("open", schedule); /* catch up after a reconnect */
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

  function setupQueue(live) {
    listen(live.dataset.events, function () {
      getHtml(live.dataset.refresh).then(function (html) {
        var key = focusKey(live);
        live.replaceChildren.apply(live, Array.prototype.slice.call(parse(html).body.childNodes));
        restoreFocus(live, key);
        var list = live.querySelector("ol[data-count]");
        announce("Queue updated: " + (list ? list.dataset.count : "0") + " waiting.");
      }).catch(showProblem);
    });
  }

  function setupConversation(transcript) {
    function refreshMessages() {
      var url = transcript.dataset.messages + "?after=" + encodeURIComponent(transcript.dataset.lastId || "0");
      return getHtml(url).then(function (html) {
        var items = parse(html).body.querySelectorAll("li[data-id]");
        var added = 0;
        items.forEach(function (li) {
          if (!transcript.querySelector('li[data-id="' + li.dataset.id + '"]')) {
            transcript.appendChild(li);
            transcript.dataset.lastId = li.dataset.id;
            added += 1;
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
          panel.replaceWith(fresh);
          if (changed) { announce("Status changed: " + fresh.querySelector(".status").textContent); }
        }
        var composer = document.getElementById("composer");
        var freshComposer = doc.getElementById("composer");
        if (composer && freshComposer) {
          var drafts = composer.querySelectorAll("textarea");
          var typing = Array.prototype.some.call(drafts, function (t) { return t.value.trim() !== ""; });
          if (!typing) { composer.replaceWith(freshComposer); setupCanned(); }
        }
      });
    }

    listen(transcript.dataset.events, function () {
      refreshMessages().then(refreshPanels).catch(showProblem);
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

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("queue-live");
    if (live) { setupQueue(live); }
    var transcript = document.getElementById("transcript");
    if (transcript) { setupConversation(transcript); }
    setupCanned();
  });
})();
