// Chaperone's tab: gets a token (Teams single sign-on, or dev mode's visible sign-in), then
// fetches each page's content from /tab/api/... with it. Links, filters, forms and downloads
// all go through fetch with the token; nothing is stored but the dev sign-in token (in this
// tab's sessionStorage, dev mode only).
(function () {
  "use strict";
  var main = document.getElementById("main");
  var devSignIn = document.body.getAttribute("data-dev-sign-in") === "1";
  var inTeams = false;
  var refreshTimer = null;
  var TOKEN_KEY = "chaperone.token";

  function setTheme(theme) {
    // Teams says "default", "dark" or "contrast"; outside Teams, ?theme= or the system's choice.
    var t = theme === "dark" || theme === "contrast" ? theme : (theme === "default" || theme === "light" ? "light" : "");
    if (t) document.documentElement.setAttribute("data-theme", t);
    else document.documentElement.removeAttribute("data-theme");
  }

  function withTimeout(promise, ms) {
    return Promise.race([promise, new Promise(function (_, reject) { setTimeout(function () { reject(new Error("timeout")); }, ms); })]);
  }

  async function startTeams() {
    // Only a page framed by Teams (or in its mobile web view) can talk to it.
    if (!window.microsoftTeams || (window.parent === window && !window.nativeInterface)) return false;
    try {
      await withTimeout(microsoftTeams.app.initialize(), 5000);
      var context = await microsoftTeams.app.getContext();
      setTheme(context.app && context.app.theme);
      microsoftTeams.app.registerOnThemeChangeHandler(setTheme);
      return true;
    } catch (e) {
      return false;
    }
  }

  async function token() {
    if (inTeams) return microsoftTeams.authentication.getAuthToken();
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function apiPath(location) {
    // /tab/register?from=... -> /tab/api/register?from=...; /tab or /tab/ -> today
    var path = location.pathname.replace(/\/+$/, "");
    var page = path === "/tab" ? "today" : path.slice("/tab/".length);
    return "/tab/api/" + page + location.search;
  }

  function show(html) {
    main.innerHTML = html;
    var h1 = main.querySelector("[data-title]");
    document.title = "Chaperone" + (h1 ? " · " + h1.getAttribute("data-title") : "");
    var page = main.querySelector("[data-refresh]");
    clearTimeout(refreshTimer);
    if (page) refreshTimer = setTimeout(function () { load(window.location, true); }, 1000 * parseInt(page.getAttribute("data-refresh"), 10));
  }

  async function request(url, options) {
    var t = await token();
    if (!t) { await signIn(); return null; }
    options = options || {};
    options.headers = Object.assign({ Authorization: "Bearer " + t }, options.headers || {});
    var response = await fetch(url, options);
    if (response.status === 401 && !inTeams && devSignIn) {
      sessionStorage.removeItem(TOKEN_KEY);
      await signIn();
      return null;
    }
    return response;
  }

  async function load(location, quiet) {
    if (!quiet) main.setAttribute("aria-busy", "true");
    try {
      var response = await request(apiPath(location));
      if (response) show(await response.text());
    } catch (e) {
      show("<p class='notice' role='alert'>Chaperone could not be reached. Try again in a moment.</p>");
    } finally {
      main.removeAttribute("aria-busy");
    }
  }

  function navigate(href) {
    var url = new URL(href, window.location.href);
    window.history.pushState({}, "", url.pathname + url.search);
    load(url);
  }

  async function download(link) {
    var response = await request(link.getAttribute("href"));
    if (!response) return;
    if (!response.ok) { show(await response.text()); return; }
    var blob = await response.blob();
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = link.getAttribute("data-download") || "chaperone.csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (link && link.hasAttribute("data-download")) { event.preventDefault(); download(link); return; }
    if (link && link.hasAttribute("data-nav")) { event.preventDefault(); navigate(link.getAttribute("href")); return; }
    if (event.target.closest("[data-print]")) { window.print(); return; }
    var person = event.target.closest("[data-person]");
    if (person) { event.preventDefault(); devSignInAs(person.getAttribute("data-person")); }
  });

  document.addEventListener("submit", async function (event) {
    var form = event.target;
    if (form.hasAttribute("data-get")) {
      event.preventDefault();
      // The school picker keeps the page's other choices (its period): only its own field changes.
      var params = new URLSearchParams(form.hasAttribute("data-keep") ? window.location.search : "");
      new FormData(form).forEach(function (value, name) { params.set(name, value); });
      navigate(form.getAttribute("action") + "?" + params.toString());
    } else if (form.hasAttribute("data-post")) {
      event.preventDefault();
      var response = await request(form.getAttribute("action"), { method: "POST", body: new URLSearchParams(new FormData(form)) });
      if (response) show(await response.text());
    }
  });

  window.addEventListener("popstate", function () { load(window.location); });

  // ---- dev mode's visible sign-in (never offered unless the server says dev mode) ----------
  async function signIn() {
    if (!devSignIn) {
      show("<div class='page'><h1 data-title='Sign in'>Open Chaperone in Teams</h1><p>Chaperone signs you in through Teams. " +
           "Open it from the Chaperone app in Microsoft Teams.</p></div>");
      return;
    }
    var response = await fetch("/tab/api/dev/people");
    var people = (await response.json()).people;
    var items = people.map(function (p) {
      return "<li><button type='button' class='person' data-person='" + escapeHtml(p.id) + "'>" + escapeHtml(p.name) +
             " <span class='muted'>" + escapeHtml(p.role) + "</span></button></li>";
    }).join("");
    show("<div class='page'><h1 data-title='Dev sign-in'>Dev sign-in</h1><p class='notice'>Dev mode: Teams single sign-on is off. " +
         "Choose who to be. This is never offered outside dev mode.</p><ul class='people'>" + items + "</ul></div>");
  }

  async function devSignInAs(id) {
    var response = await fetch("/tab/api/dev/sign-in", { method: "POST", body: new URLSearchParams({ id: id }) });
    if (!response.ok) return;
    var signed = await response.json();
    sessionStorage.setItem(TOKEN_KEY, signed.token);
    sessionStorage.setItem("chaperone.dev-name", signed.name + " (" + signed.role + ")");
    banner();
    load(window.location);
  }

  function banner() {
    var b = document.getElementById("dev-banner");
    var name = sessionStorage.getItem("chaperone.dev-name");
    if (!devSignIn || !name) { b.hidden = true; return; }
    b.hidden = false;
    b.innerHTML = "Dev sign-in: " + escapeHtml(name) + " · <a href='#' id='switch-person'>switch</a>";
    document.getElementById("switch-person").onclick = function (event) {
      event.preventDefault();
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.removeItem("chaperone.dev-name");
      banner();
      signIn();
    };
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }

  (async function start() {
    var theme = new URLSearchParams(window.location.search).get("theme");
    if (theme) setTheme(theme);
    inTeams = await startTeams();
    banner();
    load(window.location);
  })();
})();
