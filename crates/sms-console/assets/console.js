// The console's one script: local times, the reply box's counter, the New SMS pre-check and
// live updates. Every page works without it, except the live updates and the counter.
(function () {
  "use strict";

  // --- Times, in the viewer's own zone (the server writes UTC) ---
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      const at = new Date(el.getAttribute("datetime"));
      if (!isNaN(at.getTime())) {
        el.textContent = timeFormat.format(at);
        el.title = el.getAttribute("datetime");
      }
    });
  }

  // --- The counter: characters as the API counts them (code points), segments as the service
  // counts them, with the alphabets and limits the page was given by the server ---
  function counter(area) {
    const out = document.getElementById(area.dataset.counter);
    const marks = document.querySelector('[data-marks-for="' + area.id + '"]');
    const basic = area.dataset.gsmBasic || "";
    const extended = area.dataset.gsmExtended || "";
    const gsm = (area.dataset.gsmLimits || "160 153").split(" ").map(Number);
    const ucs2 = (area.dataset.ucs2Limits || "70 67").split(" ").map(Number);
    const max = Number(area.getAttribute("maxlength")) || 1600;
    function update() {
      const chars = Array.from(area.value);
      let septets = 0;
      const forcing = [];
      chars.forEach(function (c) {
        if (basic.includes(c)) septets += 1;
        else if (extended.includes(c)) septets += 2;
        else if (!forcing.includes(c)) forcing.push(c);
      });
      const isGsm = forcing.length === 0;
      const units = isGsm ? septets : area.value.length; // UTF-16 units
      const limits = isGsm ? gsm : ucs2;
      const segments = units === 0 ? 0 : units <= limits[0] ? 1 : Math.ceil(units / limits[1]);
      const encoding = isGsm ? "GSM-7" : "UCS-2";
      out.textContent = chars.length + " / " + max + " characters · " + segments + " segment" +
        (segments === 1 ? "" : "s") + " · " + encoding;
      out.dataset.encoding = encoding;
      out.dataset.segments = String(segments);
      out.classList.toggle("over", chars.length > max);
      if (marks) {
        marks.hidden = isGsm;
        marks.textContent = "";
        if (!isGsm) {
          marks.append("Characters that force UCS-2: ");
          forcing.forEach(function (c, i) {
            const mark = document.createElement("mark");
            mark.textContent = c === " " ? "space" : c;
            if (i > 0) marks.append(" ");
            marks.append(mark);
          });
        }
      }
    }
    area.addEventListener("input", update);
    update();
  }

  // --- Fragments: the part of a page that live changes replace ---
  // One read at a time: a change heard while a read is under way asks for one more read after
  // it, so that an older answer never lands over a newer one. An answer that shows nothing new
  // leaves the page as it is (no flicker, nothing for a screen reader to announce again).
  let reading = false;
  let readAgain = false;
  let shown = null;
  function normalized(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.innerHTML.trim();
  }
  function refresh(kind) {
    const region = document.getElementById("live-region");
    if (!region) return;
    if (reading) { readAgain = true; return; }
    reading = true;
    fetch(window.location.href, { headers: { "X-Console-Fragment": kind }, credentials: "same-origin" })
      .then(function (res) {
        if (res.status === 401) { window.location.reload(); return null; }
        return res.ok ? res.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        const fresh = normalized(html);
        if (fresh === shown) return;
        shown = fresh;
        const focused = document.activeElement && region.contains(document.activeElement) ? document.activeElement.id : "";
        region.innerHTML = fresh;
        localTimes(region);
        if (focused) { const again = document.getElementById(focused); if (again) again.focus(); }
        document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || "0") + 1);
      })
      .catch(function () { /* the next change or reconnection tries again */ })
      .then(function () {
        reading = false;
        if (readAgain) { readAgain = false; refresh(kind); }
      });
  }

  // The live feed. The browser reconnects a dropped feed by itself; the page also notices a
  // feed that went silent (no ping for 45 s), the network going away and coming back. Whenever
  // the feed is ready, the first time included, the page reads its part again: what changed
  // between the page's own reading and the feed's start (a reply's delivery, say, recorded
  // while the page loaded) is never missed.
  function live() {
    const kind = document.body.dataset.live;
    if (!kind || !window.EventSource) return;
    const state = document.getElementById("live-state");
    const chat = Number(document.body.dataset.chat || "0");
    const SILENCE_MS = 45000;
    let pending = null;
    let source = null;
    let heard = Date.now();
    function show(name, text) {
      if (!state) return;
      state.dataset.state = name;
      state.textContent = text;
    }
    function soon() {
      if (pending) return;
      pending = setTimeout(function () { pending = null; refresh(kind); }, 100);
    }
    function connect() {
      if (source) source.close();
      heard = Date.now();
      source = new EventSource("/console/live");
      source.addEventListener("ready", function () {
        heard = Date.now();
        show("live", "Live");
        soon();
      });
      source.addEventListener("ping", function () { heard = Date.now(); });
      source.addEventListener("change", function (event) {
        heard = Date.now();
        let data = {};
        try { data = JSON.parse(event.data); } catch (e) { data = {}; }
        if (kind === "list" || data.chat === undefined || data.chat === chat) soon();
      });
      source.addEventListener("resync", function () { heard = Date.now(); soon(); });
      source.addEventListener("error", function () {
        if (source.readyState === EventSource.CLOSED) {
          show("reconnecting", "Reconnecting…");
          setTimeout(connect, 2000);
        } else {
          show("reconnecting", "Reconnecting…");
        }
      });
    }
    window.addEventListener("offline", function () {
      if (source) source.close();
      show("reconnecting", "Reconnecting…");
    });
    window.addEventListener("online", connect);
    setInterval(function () {
      if (Date.now() - heard > SILENCE_MS) { show("reconnecting", "Reconnecting…"); connect(); }
    }, 5000);
    connect();
  }

  // --- New SMS: say which rule would refuse the message, as To and From change ---
  function precheck(form) {
    const target = document.getElementById(form.dataset.precheck);
    let timer = null;
    function check() {
      const data = new URLSearchParams(new FormData(form));
      if (!data.get("to")) { target.innerHTML = ""; return; }
      data.set("check", "1");
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-Console-Fragment": "precheck", "Content-Type": "application/x-www-form-urlencoded" },
      }).then(function (res) { return res.ok ? res.text() : null; })
        .then(function (html) { if (html !== null) target.innerHTML = html; })
        .catch(function () {});
    }
    ["to", "from"].forEach(function (name) {
      const field = form.elements.namedItem(name);
      if (field) field.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(check, 150); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // What the server wrote, before the times are made local: a read that answers the same
    // changes nothing.
    const region = document.getElementById("live-region");
    if (region) shown = normalized(region.innerHTML);
    localTimes(document);
    document.querySelectorAll("textarea[data-counter]").forEach(counter);
    document.querySelectorAll("form[data-precheck]").forEach(precheck);
    live();
  });
})();
