// callqa review: the call page's player, timeline, flags, keyboard, transcript and grading form
// (with drafts saved as the reviewer types). No framework.
(function () {
  "use strict";

  var SEEK_STEP_S = 5;
  var RATES = { "1": 1, "2": 1.5, "3": 2 };
  var DRAFT_DELAY_MS = 800;

  function clock(seconds) {
    var s = Math.max(0, seconds || 0);
    var minutes = Math.floor(s / 60);
    var rest = (s - minutes * 60).toFixed(1);
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function play(player) {
    var started = player.play();
    if (started && started.catch) started.catch(function () {});
  }

  function seek(player, seconds, andPlay) {
    if (!player || isNaN(seconds)) return;
    player.currentTime = Math.max(0, seconds);
    if (andPlay) play(player);
  }

  function typingIn(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // --- timeline and flags -------------------------------------------------------------------

  function setupTimeline(player) {
    var timeline = document.getElementById("timeline");
    if (!timeline) return;
    var duration = parseFloat(timeline.dataset.duration) || 1;
    timeline.querySelectorAll(".tl-mark").forEach(function (mark) {
      var start = parseFloat(mark.dataset.start);
      var end = Math.max(parseFloat(mark.dataset.end), start + duration * 0.004);
      mark.style.left = (100 * start / duration) + "%";
      mark.style.width = (100 * (end - start) / duration) + "%";
    });
    var playhead = document.getElementById("playhead");
    if (player && playhead) {
      player.addEventListener("timeupdate", function () {
        playhead.style.left = (100 * player.currentTime / duration) + "%";
      });
      timeline.addEventListener("click", function (event) {
        if (event.target.closest("[data-seek]")) return;
        var lane = event.target.closest(".lane") || timeline;
        var box = lane.getBoundingClientRect();
        var fraction = (event.clientX - box.left) / box.width;
        seek(player, Math.max(0, Math.min(1, fraction)) * duration, false);
      });
    }
  }

  function flags() {
    return Array.prototype.slice.call(document.querySelectorAll("#timeline .flag")).sort(function (a, b) {
      return parseFloat(a.dataset.start) - parseFloat(b.dataset.start);
    });
  }

  function showTarget(target) {
    document.querySelectorAll(".flag.current, .criterion.targeted").forEach(function (el) {
      el.classList.remove("current", "targeted");
    });
    if (target.classList.contains("flag")) target.classList.add("current");
    var criterionId = target.dataset.criterionLink;
    var criterion = criterionId && document.getElementById("crit-" + criterionId);
    if (criterion) {
      criterion.classList.add("targeted");
      criterion.scrollIntoView({ block: "nearest" });
    }
  }

  function stepFlag(player, forward) {
    var list = flags();
    if (!player || !list.length) return;
    var now = player.currentTime;
    var target = null;
    if (forward) {
      target = list.find(function (f) { return parseFloat(f.dataset.start) > now + 0.05; });
    } else {
      for (var i = list.length - 1; i >= 0; i--) {
        if (parseFloat(list[i].dataset.start) < now - 0.05) { target = list[i]; break; }
      }
    }
    if (!target) return;
    seek(player, parseFloat(target.dataset.start), false);
    showTarget(target);
    target.focus({ preventScroll: true });
  }

  function setupSeeking(player) {
    document.addEventListener("click", function (event) {
      var target = event.target.closest("[data-seek]");
      if (!target || !player) return;
      event.preventDefault();
      seek(player, parseFloat(target.dataset.seek), target.dataset.play === "1" || target.classList.contains("flag"));
      showTarget(target);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      var target = event.target.closest && event.target.closest("li[data-seek]");
      if (target) seek(player, parseFloat(target.dataset.seek), true);
    });
  }

  // --- player: keys, speed, silences ----------------------------------------------------------

  function setRate(player, rate) {
    player.playbackRate = rate;
    document.querySelectorAll(".speed-button").forEach(function (button) {
      var on = parseFloat(button.dataset.rate) === rate;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function setupKeys(player) {
    if (!player) return;
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
      var key = event.key;
      if (key === " " || key === "Spacebar") {
        if (player.paused) play(player); else player.pause();
      } else if (key === "ArrowLeft") {
        seek(player, player.currentTime - SEEK_STEP_S, false);
      } else if (key === "ArrowRight") {
        seek(player, Math.min(player.currentTime + SEEK_STEP_S, player.duration || Infinity), false);
      } else if (key === "j" || key === "J") {
        stepFlag(player, false);
      } else if (key === "k" || key === "K") {
        stepFlag(player, true);
      } else if (RATES[key]) {
        setRate(player, RATES[key]);
      } else {
        return;
      }
      event.preventDefault();
    });
    document.querySelectorAll(".speed-button").forEach(function (button) {
      button.addEventListener("click", function () { setRate(player, parseFloat(button.dataset.rate)); });
    });
  }

  function silences() {
    // gaps between the union of all turns, from the start of the call to its end
    var timeline = document.getElementById("timeline");
    var duration = timeline ? parseFloat(timeline.dataset.duration) || 0 : 0;
    var spans = Array.prototype.map.call(document.querySelectorAll("#transcript .turn"), function (line) {
      return [parseFloat(line.dataset.start), parseFloat(line.dataset.end)];
    }).sort(function (a, b) { return a[0] - b[0]; });
    var gaps = [];
    var covered = 0;
    spans.forEach(function (span) {
      if (span[0] > covered) gaps.push([covered, span[0]]);
      covered = Math.max(covered, span[1]);
    });
    if (duration > covered) gaps.push([covered, duration]);
    return gaps;
  }

  function setupSkipSilences(player) {
    var box = document.getElementById("skip-silence");
    var seconds = document.getElementById("skip-silence-s");
    var note = document.getElementById("skipped");
    if (!player || !box || !seconds) return;
    var gaps = silences();
    var timer = null;
    function check() {
      var longest = parseFloat(seconds.value);
      if (!box.checked || player.paused || isNaN(longest)) return;
      var t = player.currentTime;
      for (var i = 0; i < gaps.length; i++) {
        var gap = gaps[i];
        if (gap[1] - gap[0] > longest && t >= gap[0] && t < gap[1] - 0.05) {
          player.currentTime = gap[1];
          if (note) note.textContent = "skipped " + clock(gap[0]) + "–" + clock(gap[1]) + " (silence)";
          return;
        }
      }
    }
    player.addEventListener("play", function () { timer = timer || setInterval(check, 50); });
    player.addEventListener("pause", function () { clearInterval(timer); timer = null; });
  }

  function setupHighlight(player) {
    var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript .turn"));
    var now = document.getElementById("now");
    if (!player) return;
    var current = null;
    player.addEventListener("timeupdate", function () {
      var t = player.currentTime;
      if (now) now.textContent = clock(t);
      var speaking = null;
      for (var i = 0; i < lines.length; i++) {
        var line = lines[i];
        if (parseFloat(line.dataset.start) <= t && t < parseFloat(line.dataset.end)) { speaking = line; break; }
      }
      if (speaking === current) return;
      if (current) current.classList.remove("speaking");
      if (speaking) {
        speaking.classList.add("speaking");
        if (!player.paused) speaking.scrollIntoView({ block: "nearest" });
      }
      current = speaking;
    });
  }

  function setupPlayButton(player) {
    var button = document.getElementById("play");
    if (!button || !player) return;
    button.addEventListener("click", function () {
      if (player.paused) play(player); else player.pause();
    });
    player.addEventListener("play", function () { button.textContent = "❚❚ Pause"; });
    player.addEventListener("pause", function () { button.textContent = "▶ Play"; });
    player.addEventListener("error", function () {
      var problem = document.getElementById("audio-error");
      if (problem) problem.hidden = false;
    });
  }

  function setupStartAt(player) {
    // a search hit opens the call at the matching moment
    var panel = document.getElementById("player-panel");
    var hit = document.querySelector("#transcript .turn.hit");
    if (hit) hit.scrollIntoView({ block: "center" });
    if (!player || !panel || panel.dataset.startAt === undefined) return;
    var at = parseFloat(panel.dataset.startAt);
    function go() { seek(player, at, false); }
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }

  // --- grading form: overrides, counters, drafts ------------------------------------------

  function setupOverrides(form) {
    function sync(criterion) {
      var override = criterion.querySelector('input[value="override"]');
      var fields = criterion.querySelector(".override-fields");
      if (!override || !fields) return;
      var on = override.checked;
      fields.classList.toggle("off", !on);
      fields.querySelectorAll("select, input").forEach(function (field) { field.disabled = !on; });
    }
    form.querySelectorAll(".criterion").forEach(function (criterion) {
      sync(criterion);
      criterion.querySelectorAll('input[type="radio"]').forEach(function (radio) {
        radio.addEventListener("change", function () { sync(criterion); });
      });
    });
    return function () { form.querySelectorAll(".criterion").forEach(sync); };
  }

  function setupCounters(form) {
    form.querySelectorAll(".counted").forEach(function (field) {
      var max = parseInt(field.getAttribute("maxlength"), 10);
      var counter = document.createElement("span");
      counter.className = "counter muted";
      field.insertAdjacentElement("afterend", counter);
      function update() {
        counter.textContent = field.value.length.toLocaleString("en") + " / " + max.toLocaleString("en");
        counter.classList.toggle("near", field.value.length > 0.9 * max);
        counter.classList.toggle("over", field.value.length > max);
      }
      field.addEventListener("input", update);
      update();
    });
  }

  function formFields(form) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && name !== "amends_review_id") fields.push([name, value]);
    });
    return fields;
  }

  function applyFields(form, fields) {
    fields.forEach(function (pair) {
      form.querySelectorAll('[name="' + CSS.escape(pair[0]) + '"]').forEach(function (field) {
        if (field.type === "radio" || field.type === "checkbox") field.checked = field.value === pair[1];
        else field.value = pair[1];
      });
    });
  }

  function setupDrafts(form, resync) {
    var status = document.getElementById("draft-status");
    var amends = form.querySelector('[name="amends_review_id"]');
    var key = "callqa-draft:" + form.dataset.user + ":" + form.dataset.callId + ":" + (amends ? amends.value : "");
    var timer = null;
    var saving = false;
    var dirty = false;

    function say(text) { if (status) status.textContent = text; }
    function stash(synced) {
      try {
        sessionStorage.setItem(key, JSON.stringify({ fields: formFields(form), synced: synced }));
      } catch (e) { /* storage full or off: the server copy still counts */ }
    }
    function body() {
      var data = new URLSearchParams(new FormData(form));
      return data;
    }
    function save() {
      timer = null;
      if (saving) { timer = setTimeout(save, DRAFT_DELAY_MS); return; }
      saving = true;
      dirty = false;
      fetch(form.dataset.draftUrl, {
        method: "POST", body: body(), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (response.status === 401) {
          say("Your session has ended: log in again. What you typed is kept in this tab and comes back after you log in.");
          status.classList.add("error");
          return null;
        }
        return response.json().then(function (data) {
          if (!response.ok) { say("Draft not saved: " + (data.detail || response.status)); return; }
          status.classList.remove("error");
          say("Draft saved " + data.saved_at + " UTC");
          if (!dirty) stash(true);
        });
      }).catch(function () {
        say("Draft not saved (no connection): what you typed is kept in this tab.");
      }).then(function () { saving = false; });
    }
    function changed() {
      dirty = true;
      stash(false);
      clearTimeout(timer);
      timer = setTimeout(save, DRAFT_DELAY_MS);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function () { stash(false); });
    window.addEventListener("pagehide", function () {
      if (dirty && navigator.sendBeacon) navigator.sendBeacon(form.dataset.draftUrl, body());
    });
    // typed after the session ended (or never sent): put it back and save it now
    var kept = null;
    try { kept = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { kept = null; }
    if (kept && !kept.synced && kept.fields) {
      applyFields(form, kept.fields);
      resync();
      say("Restored what you typed before logging in again; saving…");
      changed();
    }
  }

  function forgetSubmittedDrafts() {
    var submitted = document.getElementById("submitted");
    var head = document.querySelector("h1 code");
    if (!submitted || !head) return;
    var suffix = ":" + head.textContent.trim() + ":";
    for (var i = sessionStorage.length - 1; i >= 0; i--) {
      var name = sessionStorage.key(i);
      if (name && name.indexOf("callqa-draft:") === 0 && name.indexOf(suffix) > 0) sessionStorage.removeItem(name);
    }
  }

  function setupGradeForm() {
    var form = document.getElementById("grade-form");
    forgetSubmittedDrafts();
    if (!form) return;
    var resync = setupOverrides(form);
    setupCounters(form);
    setupDrafts(form, resync);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var player = document.getElementById("player");
    setupTimeline(player);
    setupSeeking(player);
    setupKeys(player);
    setupSkipSilences(player);
    setupHighlight(player);
    setupPlayButton(player);
    setupStartAt(player);
    setupGradeForm();
  });
})();
