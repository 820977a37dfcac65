/* Front Door chat widget: embed with one tag,
 *   <script src="https://HOST/widget.js" data-frontdoor-title="Front Door" defer></script>
 * Plain JS, no dependencies, no inline styles or scripts (works under a strict CSP).
 * The conversation id and its token are kept in localStorage so a reload resumes it.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__frontDoorWidget) {
    return;
  }
  window.__frontDoorWidget = true;

  var data = script.dataset || {};
  var base = (data.frontdoorUrl || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var title = data.frontdoorTitle || "Front Door";
  var storeKey = "frontdoor:" + base;
  var HUMAN_TEXT = "I'd like to talk to a person";
  var URL_RE = /(https?:\/\/[^\s<>"')]+[^\s<>"'.,;:!?)])/g;

  var state = {
    conversationId: null,
    token: null,
    status: "bot",
    lastId: 0,
    seen: {},
    pending: 0,
    source: null,
    open: false
  };

  // ------------------------------------------------------------------ helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") {
        node.textContent = attrs[key];
      } else if (key === "className") {
        node.className = attrs[key];
      } else if (attrs[key] === true) {
        node.setAttribute(key, "");
      } else if (attrs[key] !== false && attrs[key] !== null) {
        node.setAttribute(key, attrs[key]);
      }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(storeKey) || "null");
    } catch (e) {
      return null;
    }
  }

  function save() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify({
        conversationId: state.conversationId,
        token: state.token
      }));
    } catch (e) {
      /* private browsing: the chat still works, it just won't survive a reload */
    }
  }

  function api(method, path, body) {
    var options = { method: method, headers: {}, credentials: "omit" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(base + "/api/widget" + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) {
          var error = new Error(json.error || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return json;
      });
    });
  }

  // --------------------------------------------------------------------- DOM

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "22");
    svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "fd-launcher-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z");
    svg.appendChild(path);
    return svg;
  }

  var launcher = el("button", {
    type: "button",
    className: "fd-launcher",
    "aria-expanded": "false",
    "aria-controls": "fd-panel",
    "aria-label": "Open chat with " + title
  }, [
    chatIcon(),
    el("span", { className: "fd-launcher-text", text: "Ask " + title })
  ]);

  var closeButton = el("button", {
    type: "button", className: "fd-close", "aria-label": "Close chat"
  }, [el("span", { "aria-hidden": "true", text: "\u00D7" })]);

  var privacy = el("div", { className: "fd-privacy", id: "fd-privacy" }, [
    el("h3", { className: "fd-privacy-title", text: "Before you start" }),
    el("p", { text: "This is an automated assistant. We store what you write here, " +
      "and any email address you give us, so we can answer you. Human advisers at " +
      "local support organisations can read this conversation when they help you." }),
    el("p", { text: "Please don't share personal details about other people, " +
      "or anything you wouldn't want an adviser to see." }),
    el("p", { className: "fd-privacy-short", text: "This chat is stored, and " +
      "advisers can read it. Please don't share other people's personal details." })
  ]);

  var log = el("div", {
    className: "fd-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0"
  });

  var typing = el("div", { className: "fd-typing", role: "status" });
  var notice = el("p", { className: "fd-notice", role: "status" });
  var replies = el("div", {
    className: "fd-replies", role: "group", "aria-label": "Suggested replies"
  });

  var input = el("textarea", {
    id: "fd-input",
    className: "fd-input",
    rows: "2",
    maxlength: "2000",
    autocomplete: "off",
    "aria-describedby": "fd-input-hint"
  });
  var sendButton = el("button", { type: "submit", className: "fd-send", text: "Send" });
  var form = el("form", { className: "fd-form", novalidate: true }, [
    el("label", { "for": "fd-input", className: "fd-label", text: "Your message" }),
    el("span", {
      id: "fd-input-hint", className: "fd-visually-hidden",
      text: "Press Enter to send, Shift and Enter for a new line."
    }),
    el("div", { className: "fd-form-row" }, [input, sendButton])
  ]);
  var humanButton = el("button", {
    type: "button", className: "fd-human", text: "Talk to a person"
  });

  var panel = el("section", {
    id: "fd-panel",
    className: "fd-panel",
    role: "dialog",
    "aria-modal": "false",
    "aria-labelledby": "fd-title",
    "aria-describedby": "fd-privacy",
    hidden: true
  }, [
    el("div", { className: "fd-header" }, [
      el("div", {}, [
        el("h2", { id: "fd-title", className: "fd-title", text: title }),
        el("p", { className: "fd-subtitle", text: "Help for charities and community groups" })
      ]),
      closeButton
    ]),
    el("div", { className: "fd-body" }, [privacy, log, typing]),
    notice,
    replies,
    form,
    el("div", { className: "fd-footer" }, [humanButton])
  ]);

  var root = el("div", { id: "frontdoor-widget", className: "fd-root" }, [panel, launcher]);

  // ------------------------------------------------------------- rendering

  function appendText(node, text) {
    // Link web addresses; everything else stays plain text (never HTML).
    var last = 0;
    text.replace(URL_RE, function (match, _url, offset) {
      if (offset > last) {
        node.appendChild(document.createTextNode(text.slice(last, offset)));
      }
      node.appendChild(el("a", {
        href: match, target: "_blank", rel: "noopener noreferrer", text: match
      }));
      last = offset + match.length;
      return match;
    });
    if (last < text.length) {
      node.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  var WHO = { person: "You", bot: title, adviser: "Adviser" };
  var INLINE_RE = /^\/directory_report/;

  function render(message, pendingNode) {
    if (message.id && state.seen[message.id]) {
      return state.seen[message.id];
    }
    var sender = message.sender === "person" ? "person" :
      (message.sender === "adviser" ? "adviser" : "bot");
    var node = pendingNode || el("div", { className: "fd-msg fd-msg--" + sender });
    // "Is this wrong?" on a directory entry stays with its own message.
    var inline = [], quick = [];
    (message.buttons || []).forEach(function (b) {
      (INLINE_RE.test(b.payload || "") ? inline : quick).push(b);
    });
    if (!pendingNode) {
      node.appendChild(el("span", { className: "fd-who", text: WHO[sender] + ":" }));
      var body = el("p", { className: "fd-text" });
      appendText(body, message.text || "");
      node.appendChild(body);
      inline.forEach(function (button) {
        var b = el("button", {
          type: "button", className: "fd-inline-action", text: button.title
        });
        b.addEventListener("click", function () {
          b.disabled = true;
          send(button.title, button.payload);
        });
        node.appendChild(b);
      });
      log.appendChild(node);
    }
    if (message.id) {
      state.seen[message.id] = node;
      node.setAttribute("data-id", String(message.id));
      state.lastId = Math.max(state.lastId, message.id);
    }
    // Quick replies belong to the latest message only (a sent message's own
    // node is already in place, and its answer may have arrived first).
    if (!pendingNode) {
      showReplies(sender === "person" ? [] : quick);
    }
    privacy.classList.add("fd-privacy--compact");
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function showReplies(buttons) {
    replies.textContent = "";
    buttons.forEach(function (button) {
      var b = el("button", { type: "button", className: "fd-reply", text: button.title });
      b.addEventListener("click", function () {
        send(button.title, button.payload);
      });
      replies.appendChild(b);
    });
  }

  function setTyping(active) {
    typing.textContent = active ? title + " is typing\u2026" : "";
    typing.classList.toggle("fd-typing--on", !!active);
  }

  function setStatus(status) {
    state.status = status;
    if (status === "queued") {
      notice.textContent = "You're in the queue for an adviser. They will reply here.";
    } else if (status === "assigned") {
      notice.textContent = "An adviser is looking at your conversation.";
    } else {
      notice.textContent = "";
    }
  }

  // ----------------------------------------------------------- conversation

  function start() {
    var saved = load() || {};
    return api("POST", "/conversations", {
      conversation_id: saved.conversationId || null,
      token: saved.token || null
    }).then(function (json) {
      var resumed = json.conversation_id === saved.conversationId;
      state.conversationId = json.conversation_id;
      state.token = json.token;
      setStatus(json.status);
      save();
      return resumed ? history() : null;
    }).then(connect);
  }

  var starting = null;
  function ensureConversation() {
    if (!starting) {
      starting = start().catch(function (error) {
        starting = null;
        throw error;
      });
    }
    return starting;
  }

  function history() {
    return api("GET", "/conversations/" + encodeURIComponent(state.conversationId) +
      "/messages?token=" + encodeURIComponent(state.token)).then(function (json) {
      (json.messages || []).forEach(function (m) { render(m); });
      setStatus(json.status);
    });
  }

  function connect() {
    if (state.source || !window.EventSource) {
      return;
    }
    var url = base + "/api/widget/conversations/" +
      encodeURIComponent(state.conversationId) + "/events?token=" +
      encodeURIComponent(state.token) + "&after=" + state.lastId;
    var source = new EventSource(url);
    state.source = source;
    source.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      // Our own messages are shown when sent; others (another tab) are shown here.
      if (message.sender === "person" && state.pending > 0) {
        return;
      }
      render(message);
      if (message.sender !== "person") {
        setTyping(false);
      }
    });
    source.addEventListener("typing", function (event) {
      setTyping(JSON.parse(event.data).active);
    });
    source.addEventListener("status", function (event) {
      setStatus(JSON.parse(event.data).status);
    });
  }

  function send(text, payload) {
    text = (text || "").trim();
    if (!text) {
      return;
    }
    var clientId = randomId();
    var node = el("div", { className: "fd-msg fd-msg--person fd-msg--sending" }, [
      el("span", { className: "fd-who", text: "You:" })
    ]);
    var body = el("p", { className: "fd-text" });
    appendText(body, text);
    node.appendChild(body);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    showReplies([]);
    state.pending += 1;
    setTyping(true);

    function attempt(tries) {
      return ensureConversation().then(function () {
        var body = { token: state.token, client_message_id: clientId, text: text };
        if (payload) {
          body.payload = payload;
        }
        return api("POST", "/conversations/" +
          encodeURIComponent(state.conversationId) + "/messages", body);
      }).catch(function (error) {
        // Resend with the same client id: the server stores it only once.
        if (tries > 0 && (!error.status || error.status >= 500 || error.status === 429)) {
          return new Promise(function (resolve) {
            window.setTimeout(resolve, 1500 * (4 - tries));
          }).then(function () { return attempt(tries - 1); });
        }
        throw error;
      });
    }

    attempt(3).then(function (json) {
      node.classList.remove("fd-msg--sending");
      if (json.message) {
        render(json.message, node);
      }
      (json.replies || []).forEach(function (m) { render(m); });
      if (json.status) {
        setStatus(json.status);
      }
    }).catch(function () {
      node.classList.add("fd-msg--failed");
      node.appendChild(el("p", {
        className: "fd-error",
        text: "Not sent. Please check your connection and try again."
      }));
    }).then(function () {
      state.pending -= 1;
      if (state.pending === 0) {
        setTyping(false);
      }
    });
  }

  // ----------------------------------------------------------- open / close

  function openPanel() {
    state.open = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat with " + title);
    input.focus();
    var saved = load();
    if (saved && saved.conversationId) {
      ensureConversation().catch(function () {
        notice.textContent = "Sorry, the chat is not available right now.";
      });
    }
  }

  function closePanel() {
    state.open = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open chat with " + title);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (state.open) {
      closePanel();
    } else {
      openPanel();
    }
  });
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  humanButton.addEventListener("click", function () {
    send(HUMAN_TEXT);
  });

  function mount() {
    var link = el("link", { rel: "stylesheet", href: base + "/widget.css" });
    document.head.appendChild(link);
    document.body.appendChild(root);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mount);
  } else {
    mount();
  }
})();
