/* Front Door chat widget: embed with one tag,
 *   <script src="https://HOST/widget.js" data-frontdoor-title="Front Door" defer></script>
 * Plain JS, no dependencies, no inline styles or scripts (works under a strict CSP:
 * sizes are set through the CSSOM, never a style attribute). Text from the server
 * or the person only ever becomes text nodes and checked http(s) links.
 *
 * Kept in the browser: the conversation id, its token and the urgent advice the
 * person dismissed (localStorage, so a reload resumes the chat); whether the panel
 * is open and where the conversation was scrolled to (sessionStorage: this tab);
 * the panel size chosen on a desktop (localStorage).
 *
 * Sections: STRINGS · helpers · DOM · layout (phone, resize, persistence) ·
 * rendering (messages, links, system lines) · quick replies · urgent advice ·
 * greeting · composer (length limit) · conversation (API, stream) · open/close.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__frontDoorWidget) {
    return;
  }
  window.__frontDoorWidget = true;

  // Every text the person sees, in one place (a language toggle swaps this object).
  var STRINGS = {
    launcherText: "Ask {title}",
    launcherOpen: "Open chat with {title}",
    launcherClose: "Close chat with {title}",
    close: "Close chat",
    subtitle: "Help for charities and community groups",
    resize: "Resize the chat panel: arrow keys make it larger or smaller",
    privacyTitle: "Before you start",
    privacyStored: "This is an automated assistant. We store what you write here, " +
      "and any email address you give us, so we can answer you. Human advisers at " +
      "local support organisations can read this conversation when they help you.",
    privacyOthers: "Please don't share personal details about other people, " +
      "or anything you wouldn't want an adviser to see.",
    privacyShort: "This chat is stored, and advisers can read it. Please don't " +
      "share other people's personal details.",
    conversation: "Conversation",
    you: "You",
    adviser: "Adviser",
    typing: "{title} is typing\u2026",
    queued: "You're in the queue for an adviser. They will reply here.",
    assigned: "An adviser is looking at your conversation.",
    unavailable: "Sorry, the chat is not available right now.",
    notSent: "Not sent. Please check your connection and try again.",
    label: "Your message",
    hint: "Press Enter to send, Shift and Enter for a new line.",
    send: "Send",
    human: "Talk to a person",
    humanText: "I'd like to talk to a person",
    count: "{count} of {max} characters",
    tooLong: "Your message is {count} characters long, and the limit is {max}. " +
      "Please shorten it or send it in two parts.",
    suggested: "Suggested replies",
    moreOptions: "Show all {count} options",
    searchOptions: "Search the options",
    allOptions: "All options",
    matches: "{count} of {total} options shown",
    noMatch: "No option matches. You can also type your answer below.",
    urgentLabel: "Urgent advice",
    urgentTitle: "Important",
    dismiss: "Dismiss this advice",
    greeting: "Hello! I'm {title}, an automated assistant for charities and " +
      "community groups. I can help with funding, governance and volunteering " +
      "questions, find your local support organisation, or put you in touch " +
      "with an adviser. What can I help with?",
    // Titles the person sees; payloads the bot already understands (domain.yml).
    greetingButtons: [
      { title: "Funding", payload: "I have a question about funding" },
      {
        title: "Governance",
        payload: "I have a question about governance and running our group"
      },
      { title: "Volunteering", payload: "I have a question about volunteers" },
      { title: "Talk to a person", payload: "/request_human" }
    ],
    languageToggle: "Cymraeg",
    languageToggleLabel: "Cymraeg: newid i'r Gymraeg (switch to Welsh)"
  };

  // The same texts in Welsh (issue 16): the Cymraeg / English toggle swaps them.
  // tests/i18n/test_catalogue.py keeps the two objects' keys in step.
  var STRINGS_CY = {
    launcherText: "Gofyn i {title}",
    launcherOpen: "Agor sgwrs gyda {title}",
    launcherClose: "Cau'r sgwrs gyda {title}",
    close: "Cau'r sgwrs",
    subtitle: "Help i elusennau a grwpiau cymunedol",
    resize: "Newid maint y panel sgwrsio: mae'r bysellau saeth yn ei wneud yn fwy " +
      "neu'n llai",
    privacyTitle: "Cyn i chi ddechrau",
    privacyStored: "Cynorthwyydd awtomatig yw hwn. Rydyn ni'n cadw'r hyn rydych " +
      "chi'n ei ysgrifennu yma, ac unrhyw gyfeiriad e-bost rydych chi'n ei roi i " +
      "ni, er mwyn i ni allu eich ateb. Gall cynghorwyr mewn sefydliadau cymorth " +
      "lleol ddarllen y sgwrs hon pan fyddan nhw'n eich helpu.",
    privacyOthers: "Peidiwch â rhannu manylion personol am bobl eraill, nac " +
      "unrhyw beth na fyddech chi eisiau i gynghorydd ei weld.",
    privacyShort: "Mae'r sgwrs hon yn cael ei chadw, a gall cynghorwyr ei " +
      "darllen. Peidiwch â rhannu manylion personol pobl eraill.",
    conversation: "Sgwrs",
    you: "Chi",
    adviser: "Cynghorydd",
    typing: "Mae {title} yn teipio\u2026",
    queued: "Rydych chi yn y ciw am gynghorydd. Byddan nhw'n ateb yma.",
    assigned: "Mae cynghorydd yn edrych ar eich sgwrs.",
    unavailable: "Mae'n ddrwg gennym, dydy'r sgwrs ddim ar gael ar hyn o bryd.",
    notSent: "Heb ei anfon. Gwiriwch eich cysylltiad a rhowch gynnig arall arni.",
    label: "Eich neges",
    hint: "Pwyswch Enter i anfon, Shift ac Enter am linell newydd.",
    send: "Anfon",
    human: "Siarad â pherson",
    humanText: "Hoffwn i siarad â pherson",
    count: "{count} o {max} nod",
    tooLong: "Mae eich neges yn {count} nod o hyd, a'r terfyn yw {max}. " +
      "Byrhewch hi neu anfonwch hi mewn dwy ran.",
    suggested: "Atebion a awgrymir",
    moreOptions: "Dangos pob un o'r {count} dewis",
    searchOptions: "Chwilio'r dewisiadau",
    allOptions: "Pob dewis",
    matches: "{count} o {total} dewis yn y golwg",
    noMatch: "Does dim dewis yn cyfateb. Gallwch chi hefyd deipio eich ateb isod.",
    urgentLabel: "Cyngor brys",
    urgentTitle: "Pwysig",
    dismiss: "Cau'r cyngor hwn",
    greeting: "Shwmae! {title} ydw i, cynorthwyydd awtomatig ar gyfer elusennau " +
      "a grwpiau cymunedol. Galla i helpu gyda chwestiynau am gyllid, llywodraethu " +
      "a gwirfoddoli, dod o hyd i'ch sefydliad cymorth lleol, neu eich rhoi mewn " +
      "cysylltiad â chynghorydd. Sut galla i helpu?",
    // Welsh titles, the same payloads (the bot reads them as before)
    greetingButtons: [
      { title: "Cyllid", payload: "I have a question about funding" },
      {
        title: "Llywodraethu",
        payload: "I have a question about governance and running our group"
      },
      { title: "Gwirfoddoli", payload: "I have a question about volunteers" },
      { title: "Siarad â pherson", payload: "/request_human" }
    ],
    languageToggle: "English",
    languageToggleLabel: "English: switch to English (newid i'r Saesneg)"
  };
  var LANGUAGES = { en: STRINGS, cy: STRINGS_CY };

  var MAX_CHARS = 6000; // the server's limit (bot/gateway/channels/web.py)
  var INLINE_MAX = 6; // this many quick replies are shown as they are
  var INLINE_FEW = 3; // with more, this many choices and "show all"
  var SMALL_SCREEN = "(max-width: 600px)";

  var data = script.dataset || {};
  var base = (data.frontdoorUrl || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var title = data.frontdoorTitle || "Front Door";
  var storeKey = "frontdoor:" + base;
  var viewKey = "frontdoor:view:" + base;
  var sizeKey = "frontdoor:size:" + base;
  var langKey = "frontdoor:lang:" + base;
  // The language: the person's choice (kept), else the page's (data-frontdoor-lang
  // or <html lang="cy">), else English. The conversation keeps it on the server.
  var chosenLanguage = null;
  try {
    chosenLanguage = window.localStorage.getItem(langKey);
  } catch (e) {
    chosenLanguage = null;
  }
  var pageLanguage = (data.frontdoorLang || document.documentElement.lang || "")
    .toLowerCase().indexOf("cy") === 0 ? "cy" : "en";
  var language = LANGUAGES[chosenLanguage] ? chosenLanguage : pageLanguage;
  STRINGS = LANGUAGES[language];

  var state = {
    conversationId: null,
    token: null,
    status: "bot",
    lastId: 0,
    seen: {},
    pending: 0,
    source: null,
    open: false,
    restoring: false,
    dismissed: [],
    pinnedId: null,
    pollTimer: null,
    streamRetry: null
  };

  // ------------------------------------------------------------------ helpers

  function t(key, values) {
    return String(STRINGS[key]).replace(/\{(\w+)\}/g, function (all, name) {
      if (name === "title") {
        return title;
      }
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }

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

  function readJson(storage, key) {
    try {
      return JSON.parse(window[storage].getItem(key) || "null");
    } catch (e) {
      return null;
    }
  }

  function writeJson(storage, key, value) {
    try {
      window[storage].setItem(key, JSON.stringify(value));
    } catch (e) {
      /* private browsing: the chat still works, it just won't survive a reload */
    }
  }

  function load() {
    return readJson("localStorage", storeKey);
  }

  function save() {
    writeJson("localStorage", storeKey, {
      conversationId: state.conversationId,
      token: state.token,
      dismissed: state.dismissed.slice(-20)
    });
  }

  function chars(text) {
    // Characters as the server counts them (code points, not UTF-16 units).
    return Array.from(text).length;
  }

  function number(n) {
    return n.toLocaleString("en-GB");
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
          error.body = json;
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
    "aria-label": t("launcherOpen")
  }, [
    chatIcon(),
    el("span", { className: "fd-launcher-text", text: t("launcherText") })
  ]);

  var closeButton = el("button", {
    type: "button", className: "fd-close", "aria-label": t("close")
  }, [el("span", { "aria-hidden": "true", text: "\u00D7" })]);

  var languageButton = el("button", {
    type: "button",
    className: "fd-language",
    lang: language === "cy" ? "en" : "cy",
    "aria-label": t("languageToggleLabel"),
    text: t("languageToggle")
  });

  var resizeHandle = el("button", {
    type: "button", className: "fd-resize", "aria-label": t("resize")
  }, [el("span", { className: "fd-resize-grip", "aria-hidden": "true" })]);

  var privacy = el("div", { className: "fd-privacy", id: "fd-privacy" }, [
    el("h3", { className: "fd-privacy-title", text: t("privacyTitle") }),
    el("p", { text: t("privacyStored") }),
    el("p", { text: t("privacyOthers") }),
    el("p", { className: "fd-privacy-short", text: t("privacyShort") })
  ]);

  var pinned = el("div", {
    className: "fd-pinned", role: "region", "aria-label": t("urgentLabel"), hidden: true
  });

  var log = el("div", {
    className: "fd-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": t("conversation"),
    tabindex: "0"
  });

  var typing = el("div", { className: "fd-typing", role: "status" });
  var notice = el("p", { className: "fd-notice", role: "status" });
  var replies = el("div", {
    className: "fd-replies", role: "group", "aria-label": t("suggested")
  });

  var input = el("textarea", {
    id: "fd-input",
    className: "fd-input",
    rows: "2",
    autocomplete: "off",
    "aria-describedby": "fd-input-hint fd-count"
  });
  var counter = el("p", { id: "fd-count", className: "fd-count", "aria-live": "polite" });
  var sendButton = el("button", { type: "submit", className: "fd-send", text: t("send") });
  var form = el("form", { className: "fd-form", novalidate: true }, [
    el("label", { "for": "fd-input", className: "fd-label", text: t("label") }),
    el("span", { id: "fd-input-hint", className: "fd-visually-hidden", text: t("hint") }),
    el("div", { className: "fd-form-row" }, [input, sendButton]),
    counter
  ]);
  var humanButton = el("button", { type: "button", className: "fd-human", text: t("human") });
  var footer = el("div", { className: "fd-footer" }, [humanButton]);

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
      resizeHandle,
      el("div", { className: "fd-heading" }, [
        el("h2", { id: "fd-title", className: "fd-title", text: title }),
        el("p", { className: "fd-subtitle", text: t("subtitle") })
      ]),
      languageButton,
      closeButton
    ]),
    pinned,
    el("div", { className: "fd-body" }, [privacy, log, typing]),
    notice,
    replies,
    form,
    footer
  ]);

  var root = el("div", { id: "frontdoor-widget", className: "fd-root" }, [panel, launcher]);

  // ------------------------------------------------------------------ layout

  function smallScreen() {
    return !!(window.matchMedia && window.matchMedia(SMALL_SCREEN).matches);
  }

  // On a phone the panel fills the visual viewport, which shrinks when the
  // on-screen keyboard opens: the input stays above the keyboard.
  function fitViewport() {
    var vv = window.visualViewport;
    var height = vv ? vv.height : window.innerHeight;
    var top = vv ? vv.offsetTop : 0;
    root.style.setProperty("--fd-vh", height + "px");
    root.style.setProperty("--fd-vtop", top + "px");
    if (state.open && nearBottom) {
      scrollToEnd();
    }
  }

  function clamp(value, low, high) {
    return Math.max(low, Math.min(high, value));
  }

  function applySize(size) {
    if (!size || smallScreen()) {
      return;
    }
    var width = clamp(size.width, 288, Math.max(288, window.innerWidth - 32));
    var height = clamp(size.height, 360, Math.max(360, window.innerHeight - 96));
    panel.style.width = width + "px";
    panel.style.height = height + "px";
  }

  function resizeBy(dw, dh) {
    var box = panel.getBoundingClientRect();
    applySize({ width: box.width + dw, height: box.height + dh });
    var now = panel.getBoundingClientRect();
    writeJson("localStorage", sizeKey, { width: now.width, height: now.height });
  }

  // The panel sits at the bottom right, so it grows from its top-left corner.
  resizeHandle.addEventListener("pointerdown", function (event) {
    if (smallScreen()) {
      return;
    }
    event.preventDefault();
    var box = panel.getBoundingClientRect();
    var startX = event.clientX;
    var startY = event.clientY;
    resizeHandle.setPointerCapture(event.pointerId);
    function move(e) {
      applySize({
        width: box.width + startX - e.clientX,
        height: box.height + startY - e.clientY
      });
    }
    function up() {
      resizeHandle.removeEventListener("pointermove", move);
      resizeHandle.removeEventListener("pointerup", up);
      resizeHandle.removeEventListener("pointercancel", up);
      resizeBy(0, 0);
    }
    resizeHandle.addEventListener("pointermove", move);
    resizeHandle.addEventListener("pointerup", up);
    resizeHandle.addEventListener("pointercancel", up);
  });
  resizeHandle.addEventListener("keydown", function (event) {
    var step = 32;
    var moves = {
      ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]
    };
    if (moves[event.key]) {
      event.preventDefault();
      resizeBy(moves[event.key][0], moves[event.key][1]);
    }
  });

  // Open state and scroll position, for this tab: a reload puts them back.
  var nearBottom = true;
  function saveView() {
    writeJson("sessionStorage", viewKey, {
      open: state.open,
      scrollTop: log.scrollTop,
      atBottom: nearBottom
    });
  }

  var scrollSaving = false;
  log.addEventListener("scroll", function () {
    if (state.restoring) {
      return;
    }
    nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    if (!scrollSaving) {
      scrollSaving = true;
      window.requestAnimationFrame(function () {
        scrollSaving = false;
        saveView();
      });
    }
  });

  function restoreScroll() {
    var view = readJson("sessionStorage", viewKey);
    state.restoring = false;
    if (view && view.atBottom === false && typeof view.scrollTop === "number") {
      log.scrollTop = view.scrollTop;
      nearBottom = false;
    } else {
      scrollToEnd();
    }
  }

  // Show the end of the conversation, but never scroll the latest message's
  // start (the question a list of replies answers) out of view.
  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
    var last = log.lastElementChild;
    if (last && last.offsetTop < log.scrollTop) {
      log.scrollTop = Math.max(0, last.offsetTop - 8);
    }
    nearBottom = true;
  }

  // --------------------------------------------------------------- rendering

  var TRAILING = ".,;:!?'\"*";
  var CLOSERS = { ")": "(", "]": "[", "}": "{" };
  var URL_RE = /https?:\/\/[^\s<>"]+/g;

  function count(text, ch) {
    return text.split(ch).length - 1;
  }

  function trimUrl(url) {
    // Drop trailing punctuation, and a closing bracket only when it has no
    // opening one in the address: "(see www.gov.uk/charity-types)" but ".../wiki/Trust_(law)".
    for (;;) {
      var last = url.charAt(url.length - 1);
      if (TRAILING.indexOf(last) >= 0) {
        url = url.slice(0, -1);
      } else if (CLOSERS[last] && count(url, CLOSERS[last]) < count(url, last)) {
        url = url.slice(0, -1);
      } else {
        return url;
      }
    }
  }

  function appendText(node, text) {
    // Link web addresses; everything else stays plain text (never HTML).
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = trimUrl(match[0]);
      var start = match.index;
      URL_RE.lastIndex = start + Math.max(url.length, 1);
      if (!/^https?:\/\/[^/?#]+/.test(url)) {
        continue; // "https://" alone is not an address
      }
      if (start > last) {
        node.appendChild(document.createTextNode(text.slice(last, start)));
      }
      node.appendChild(el("a", {
        href: url, target: "_blank", rel: "noopener noreferrer", text: url
      }));
      last = start + url.length;
    }
    if (last < text.length) {
      node.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  var WHO = { person: "you", adviser: "adviser" };
  // "Is this wrong?" on a directory entry stays with its own message.
  var INLINE_RE = /^\/directory_report/;

  function senderOf(message) {
    var s = message.sender;
    return s === "person" || s === "adviser" || s === "system" ? s : "bot";
  }

  function bubble(sender, text, inline) {
    var node = el("div", { className: "fd-msg fd-msg--" + sender });
    if (sender !== "system") {
      node.appendChild(el("span", {
        className: "fd-who", text: (WHO[sender] ? t(WHO[sender]) : title) + ":"
      }));
    }
    var body = el("p", { className: "fd-text" });
    appendText(body, text || "");
    node.appendChild(body);
    (inline || []).forEach(function (button) {
      var b = el("button", {
        type: "button", className: "fd-inline-action", text: button.title
      });
      b.addEventListener("click", function () {
        b.disabled = true;
        send(button.title, button.payload);
      });
      node.appendChild(b);
    });
    return node;
  }

  function render(message, pendingNode) {
    if (message.id && state.seen[message.id]) {
      return state.seen[message.id];
    }
    var sender = senderOf(message);
    var stick = nearBottom || sender === "person";
    var inline = [];
    var quick = [];
    (message.buttons || []).forEach(function (b) {
      (INLINE_RE.test(b.payload || "") ? inline : quick).push(b);
    });
    var node = pendingNode;
    if (!node) {
      node = bubble(sender, message.text, inline);
      log.appendChild(node);
    }
    if (message.id) {
      state.seen[message.id] = node;
      node.setAttribute("data-id", String(message.id));
      state.lastId = Math.max(state.lastId, message.id);
      privacy.classList.add("fd-privacy--compact");
    }
    if (message.urgent && sender !== "person") {
      node.classList.add("fd-msg--urgent");
      pin(message);
    }
    // Quick replies belong to the latest message only (a sent message's own
    // node is already in place, and its answer may have arrived first).
    if (!pendingNode && sender !== "system") {
      showReplies(sender === "person" ? [] : quick);
    }
    if (!state.restoring && stick) {
      scrollToEnd();
    }
    return node;
  }

  function setTyping(active) {
    typing.textContent = active ? t("typing") : "";
    typing.classList.toggle("fd-typing--on", !!active);
  }

  function setStatus(status) {
    state.status = status;
    notice.textContent = status === "queued" ? t("queued") :
      (status === "assigned" ? t("assigned") : "");
  }

  // ------------------------------------------------------------ quick replies

  function isAction(button) {
    // "/skip_location", "/request_human": not one of the choices, always shown
    return typeof button.payload === "string" && button.payload.charAt(0) === "/";
  }

  function replyButton(button, className) {
    var b = el("button", { type: "button", className: className || "fd-reply", text: button.title });
    b.addEventListener("click", function () {
      send(button.title, button.payload);
    });
    return b;
  }

  function showReplies(buttons, greeting) {
    replies.textContent = "";
    replies.classList.remove("fd-replies--list");
    panel.classList.remove("fd-panel--choosing");
    footer.hidden = !!greeting; // the greeting offers "talk to a person" itself
    if (buttons.length <= INLINE_MAX) {
      buttons.forEach(function (b) { replies.appendChild(replyButton(b)); });
      return;
    }
    var choices = buttons.filter(function (b) { return !isAction(b); });
    var actions = buttons.filter(isAction);
    choices.slice(0, INLINE_FEW).forEach(function (b) {
      replies.appendChild(replyButton(b));
    });
    var more = el("button", {
      type: "button",
      className: "fd-reply fd-reply--more",
      "aria-expanded": "false",
      text: t("moreOptions", { count: choices.length })
    });
    more.addEventListener("click", function () { showChoiceList(choices, actions); });
    replies.appendChild(more);
    actions.forEach(function (b) { replies.appendChild(replyButton(b)); });
  }

  // Every choice, in a list of its own height with a search box: nothing is
  // dropped however many there are, and the question above stays in view.
  function showChoiceList(choices, actions) {
    replies.textContent = "";
    replies.classList.add("fd-replies--list");
    panel.classList.add("fd-panel--choosing");
    var search = el("input", {
      type: "search",
      id: "fd-choice-search",
      className: "fd-choice-search",
      autocomplete: "off",
      "aria-controls": "fd-choice-list",
      "aria-describedby": "fd-choice-count"
    });
    var list = el("ul", {
      id: "fd-choice-list", className: "fd-choice-list", "aria-label": t("allOptions")
    });
    var shown = el("p", {
      id: "fd-choice-count", className: "fd-choice-count", "aria-live": "polite"
    });
    var items = choices.map(function (b) {
      var item = el("li", {}, [replyButton(b, "fd-reply fd-choice")]);
      list.appendChild(item);
      return { item: item, key: b.title.toLocaleLowerCase() };
    });
    search.addEventListener("input", function () {
      var q = search.value.trim().toLocaleLowerCase();
      var n = 0;
      items.forEach(function (it) {
        var hit = !q || it.key.indexOf(q) >= 0;
        it.item.hidden = !hit;
        n += hit ? 1 : 0;
      });
      shown.textContent = n ? (q ? t("matches", { count: n, total: items.length }) : "") :
        t("noMatch");
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // Enter picks the only match, or does nothing
        var visible = items.filter(function (it) { return !it.item.hidden; });
        if (visible.length === 1) {
          visible[0].item.firstChild.click();
        }
      }
    });
    if (actions.length) {
      // first, so "Skip" stays in view however long the list
      var row = el("div", { className: "fd-choice-actions" });
      actions.forEach(function (b) { row.appendChild(replyButton(b)); });
      replies.appendChild(row);
    }
    replies.appendChild(el("label", {
      "for": "fd-choice-search", className: "fd-choice-label", text: t("searchOptions")
    }));
    replies.appendChild(search);
    replies.appendChild(shown);
    replies.appendChild(list);
    search.focus();
    scrollToEnd();
  }

  // ------------------------------------------------------------ urgent advice

  // The emergency text stays pinned above the conversation, whatever follows
  // it, until the person dismisses it (remembered across reloads).
  function pin(message) {
    if (!message.id || state.dismissed.indexOf(message.id) >= 0) {
      return;
    }
    state.pinnedId = message.id;
    pinned.textContent = "";
    var text = el("p", { className: "fd-pinned-text" });
    appendText(text, message.text || "");
    var dismiss = el("button", {
      type: "button", className: "fd-pinned-dismiss", text: t("dismiss")
    });
    dismiss.addEventListener("click", function () {
      state.dismissed.push(message.id);
      state.pinnedId = null;
      save();
      pinned.hidden = true;
      pinned.textContent = "";
      input.focus();
    });
    pinned.appendChild(el("h3", { className: "fd-pinned-title", text: t("urgentTitle") }));
    pinned.appendChild(text);
    pinned.appendChild(dismiss);
    pinned.hidden = false;
  }

  // ----------------------------------------------------------------- greeting

  var greeted = false;
  function greet() {
    if (greeted) {
      return;
    }
    greeted = true;
    log.insertBefore(el("div", { className: "fd-msg fd-msg--bot fd-msg--greeting" }, [
      el("span", { className: "fd-who", text: title + ":" }),
      el("p", { className: "fd-text", text: t("greeting") })
    ]), log.firstChild);
    if (!log.querySelector("[data-id]") && state.pending === 0) {
      showReplies(STRINGS.greetingButtons, true);
    }
  }

  // ----------------------------------------------------------------- composer

  function checkLength() {
    var n = chars(input.value.trim());
    var over = n > MAX_CHARS;
    input.setAttribute("aria-invalid", over ? "true" : "false");
    counter.classList.toggle("fd-count--over", over);
    if (over) {
      counter.textContent = t("tooLong", { count: number(n), max: number(MAX_CHARS) });
    } else if (n > MAX_CHARS * 0.8) {
      counter.textContent = t("count", { count: number(n), max: number(MAX_CHARS) });
    } else {
      counter.textContent = "";
    }
    return !over;
  }

  input.addEventListener("input", checkLength);

  // ------------------------------------------------------------- conversation

  // ----------------------------------------------------------------- language

  // Put every standing text of the panel into the current language.
  function relabel() {
    root.setAttribute("lang", language);
    launcher.setAttribute("aria-label", t(state.open ? "launcherClose" : "launcherOpen"));
    launcher.querySelector(".fd-launcher-text").textContent = t("launcherText");
    closeButton.setAttribute("aria-label", t("close"));
    resizeHandle.setAttribute("aria-label", t("resize"));
    var texts = privacy.children;
    texts[0].textContent = t("privacyTitle");
    texts[1].textContent = t("privacyStored");
    texts[2].textContent = t("privacyOthers");
    texts[3].textContent = t("privacyShort");
    pinned.setAttribute("aria-label", t("urgentLabel"));
    log.setAttribute("aria-label", t("conversation"));
    replies.setAttribute("aria-label", t("suggested"));
    sendButton.textContent = t("send");
    form.querySelector(".fd-label").textContent = t("label");
    form.querySelector("#fd-input-hint").textContent = t("hint");
    humanButton.textContent = t("human");
    panel.querySelector(".fd-subtitle").textContent = t("subtitle");
    languageButton.textContent = t("languageToggle");
    languageButton.setAttribute("aria-label", t("languageToggleLabel"));
    languageButton.setAttribute("lang", language === "cy" ? "en" : "cy");
    var greeting = log.querySelector(".fd-msg--greeting .fd-text");
    if (greeting) {
      greeting.textContent = t("greeting");
      if (!log.querySelector("[data-id]") && state.pending === 0) {
        showReplies(STRINGS.greetingButtons, true);
      }
    }
    setStatus(state.status);
  }

  function setLanguage(next, chosen) {
    if (!LANGUAGES[next]) {
      return;
    }
    language = next;
    STRINGS = LANGUAGES[next];
    if (chosen) {
      chosenLanguage = next;
      try {
        window.localStorage.setItem(langKey, next);
      } catch (e) {
        // private mode: the choice lasts for this page
      }
    }
    relabel();
    if (privacyTexts) {
      loadPrivacy(); // the server's notice in the new language
    }
  }

  languageButton.addEventListener("click", function () {
    setLanguage(language === "cy" ? "en" : "cy", true);
    if (state.conversationId) {
      api("POST", "/conversations/" + encodeURIComponent(state.conversationId) +
        "/language", { token: state.token, language: language }).catch(function () {
        notice.textContent = t("notSent");
      });
    }
  });

  function start() {
    var saved = load() || {};
    return api("POST", "/conversations", {
      conversation_id: saved.conversationId || null,
      token: saved.token || null,
      language: chosenLanguage || (pageLanguage === "cy" ? "cy" : null)
    }).then(function (json) {
      var resumed = json.conversation_id === saved.conversationId;
      if (json.language && json.language !== language && !chosenLanguage) {
        setLanguage(json.language, false); // the conversation was in Welsh
      }
      state.conversationId = json.conversation_id;
      state.token = json.token;
      state.dismissed = resumed && Array.isArray(saved.dismissed) ? saved.dismissed : [];
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
        state.restoring = false;
        throw error;
      });
    }
    return starting;
  }

  function history() {
    state.restoring = true;
    return api("GET", "/conversations/" + encodeURIComponent(state.conversationId) +
      "/messages?token=" + encodeURIComponent(state.token)).then(function (json) {
      (json.messages || []).forEach(function (m) { render(m); });
      setStatus(json.status);
      restoreScroll();
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
    source.addEventListener("open", stopPolling);
    source.addEventListener("error", function () {
      // EventSource gives up for good on an HTTP error (a worker gone, a proxy
      // that refuses streams, too many tabs): read the history instead, and
      // try the stream again a little later.
      if (source.readyState === EventSource.CLOSED) {
        state.source = null;
        startPolling();
      }
    });
  }

  var POLL_MS = 4000;
  var STREAM_RETRY_MS = 30000;

  function pollOnce() {
    return api("GET", "/conversations/" + encodeURIComponent(state.conversationId) +
      "/messages?token=" + encodeURIComponent(state.token) +
      "&after=" + state.lastId).then(function (json) {
      (json.messages || []).forEach(function (m) {
        if (m.sender === "person" && state.pending > 0) {
          return;
        }
        render(m);
      });
      if (json.status) {
        setStatus(json.status);
      }
    }).catch(function () { /* the next poll tries again */ });
  }

  function startPolling() {
    if (state.pollTimer || !state.conversationId) {
      return;
    }
    state.pollTimer = window.setInterval(pollOnce, POLL_MS);
    state.streamRetry = window.setTimeout(function () {
      state.streamRetry = null;
      connect();
    }, STREAM_RETRY_MS);
    pollOnce();
  }

  function stopPolling() {
    if (state.pollTimer) {
      window.clearInterval(state.pollTimer);
      state.pollTimer = null;
    }
    if (state.streamRetry) {
      window.clearTimeout(state.streamRetry);
      state.streamRetry = null;
    }
  }

  function send(text, payload) {
    text = (text || "").trim();
    if (!text) {
      return;
    }
    var clientId = randomId();
    var node = bubble("person", text);
    node.classList.add("fd-msg--sending");
    log.appendChild(node);
    privacy.classList.add("fd-privacy--compact");
    showReplies([]);
    scrollToEnd();
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
      if (json.language && json.language !== language && !chosenLanguage) {
        setLanguage(json.language, false); // the person writes in Welsh
      }
      if (json.status) {
        setStatus(json.status);
      }
    }).catch(function (error) {
      node.classList.add("fd-msg--failed");
      var tooLong = error.status === 413 && error.body && error.body.max_chars;
      node.appendChild(el("p", {
        className: "fd-error",
        text: tooLong ?
          t("tooLong", { count: number(chars(text)), max: number(error.body.max_chars) }) :
          t("notSent")
      }));
    }).then(function () {
      state.pending -= 1;
      if (state.pending === 0) {
        setTyping(false);
      }
    });
  }

  // ----------------------------------------------------------- open / close

  function openPanel(restoring) {
    state.open = true;
    panel.hidden = false;
    root.classList.add("fd-root--open");
    document.documentElement.classList.add("fd-chat-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", t("launcherClose"));
    applySize(readJson("localStorage", sizeKey));
    fitViewport();
    greet();
    if (!restoring) {
      input.focus();
      saveView(); // a restored view keeps its saved scroll position to put back
    }
    var saved = load();
    if (saved && saved.conversationId) {
      ensureConversation().catch(function () {
        notice.textContent = t("unavailable");
      });
    } else {
      scrollToEnd();
    }
  }

  function closePanel() {
    state.open = false;
    saveView(); // before hiding: a hidden log has no scroll position
    panel.hidden = true;
    root.classList.remove("fd-root--open");
    document.documentElement.classList.remove("fd-chat-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", t("launcherOpen"));
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (state.open) {
      closePanel();
    } else {
      openPanel(false);
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
    if (!checkLength()) {
      input.focus();
      return; // said in the counter; the text stays in the box to shorten
    }
    var text = input.value;
    input.value = "";
    checkLength();
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
    send(t("humanText"));
  });

  if (window.visualViewport) {
    window.visualViewport.addEventListener("resize", fitViewport);
    window.visualViewport.addEventListener("scroll", fitViewport);
  }
  window.addEventListener("resize", function () {
    fitViewport();
    if (state.open) {
      applySize(readJson("localStorage", sizeKey));
    }
  });
  window.addEventListener("pagehide", function () {
    if (!state.restoring) {
      saveView();
    }
  });

  // ---------------------------------------------------- privacy (issue 13)
  // The notice comes from the server (bot/privacy/notice.py, bot/i18n): what
  // is kept, by whom, for how long (RETENTION_DAYS) and how to ask for a copy.
  // "Delete this conversation" asks first, then erases it from every store.

  var privacyTexts = null;
  var privacyFor = null; // the conversation the notice's reference names
  var deleteButton = el("button", { type: "button", className: "fd-delete", hidden: true });
  var deleteQuestion = el("p", { id: "fd-delete-q", className: "fd-delete-q" });
  var deleteYes = el("button", { type: "button", className: "fd-delete-yes" });
  var deleteNo = el("button", { type: "button", className: "fd-delete-no" });
  var deleteConfirm = el("div", {
    className: "fd-delete-confirm", role: "group", "aria-labelledby": "fd-delete-q",
    hidden: true
  }, [deleteQuestion, el("div", { className: "fd-delete-row" }, [deleteYes, deleteNo])]);
  var privacySummary = el("summary", { className: "fd-privacy-summary" });
  var privacyMore = el("div", { className: "fd-privacy-notice" });
  // One folded line under the chat, once there is a conversation: the layout
  // of the greeting is left as it is.
  var privacyTools = el("details", { className: "fd-privacy-tools", hidden: true }, [
    privacySummary, privacyMore, deleteButton, deleteConfirm
  ]);
  panel.appendChild(privacyTools);

  function privacyLang() {
    return language; // the widget's language (issue 16: the toggle, the page)
  }

  function showDelete() {
    privacyTools.hidden = !(privacyTexts && state.conversationId);
    deleteButton.hidden = !(privacyTexts && state.conversationId && deleteConfirm.hidden);
  }

  function loadPrivacy() {
    privacyFor = state.conversationId;
    var query = "/privacy?lang=" + privacyLang() +
      (state.conversationId ? "&conversation_id=" + encodeURIComponent(state.conversationId) : "");
    return api("GET", query).then(function (json) {
      privacyTexts = json;
      privacySummary.textContent = json.title;
      privacyMore.textContent = "";
      (json.paragraphs || []).forEach(function (text) {
        privacyMore.appendChild(el("p", { text: text }));
      });
      deleteButton.textContent = json.delete_button;
      deleteQuestion.textContent = json.delete_confirm;
      deleteYes.textContent = json.delete_yes;
      deleteNo.textContent = json.delete_no;
      showDelete();
    }).catch(function () { /* the static notice stays */ });
  }

  function forgetConversation() {
    if (state.source) {
      state.source.close();
      state.source = null;
    }
    state.conversationId = null;
    state.token = null;
    state.status = "bot";
    state.lastId = 0;
    state.seen = {};
    state.dismissed = [];
    starting = null;
    writeJson("localStorage", storeKey, {});
    log.textContent = "";
    replies.textContent = "";
    setTyping(false);
  }

  deleteButton.addEventListener("click", function () {
    deleteButton.hidden = true;
    deleteConfirm.hidden = false;
    deleteNo.focus();
  });
  deleteNo.addEventListener("click", function () {
    deleteConfirm.hidden = true;
    showDelete();
    deleteButton.focus();
  });
  deleteYes.addEventListener("click", function () {
    var id = state.conversationId;
    if (!id) {
      return;
    }
    deleteYes.disabled = true;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/delete", {
      token: state.token, confirm: true
    }).then(function () {
      forgetConversation();
      deleteConfirm.hidden = true;
      privacyTools.open = false;
      notice.textContent = privacyTexts.deleted;
      loadPrivacy();
      input.focus();
    }, function () {
      notice.textContent = privacyTexts.delete_failed;
    }).then(function () {
      deleteYes.disabled = false;
    });
  });

  // The button appears once there is a conversation to delete.
  new MutationObserver(function () {
    if (state.conversationId && state.conversationId !== privacyFor) {
      loadPrivacy();
    }
    showDelete();
  }).observe(log, { childList: true });
  loadPrivacy();

  function mount() {
    root.setAttribute("lang", language);
    var link = el("link", { rel: "stylesheet", href: base + "/widget.css" });
    document.head.appendChild(link);
    document.body.appendChild(root);
    var view = readJson("sessionStorage", viewKey);
    if (view && view.open) {
      openPanel(true);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mount);
  } else {
    mount();
  }
})();
