// callqa review: the call page's player, timeline, transcript and grading form. No framework.
(function () {
  "use strict";

  function clock(seconds) {
    var s = Math.max(0, seconds || 0);
    var minutes = Math.floor(s / 60);
    var rest = (s - minutes * 60).toFixed(1);
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function setupTimeline(player) {
    var timeline = document.getElementById("timeline");
    if (!timeline) return;
    var duration = parseFloat(timeline.dataset.duration) || 1;
    timeline.querySelectorAll(".tl-mark").forEach(function (mark) {
      var start = parseFloat(mark.dataset.start);
      var end = Math.max(parseFloat(mark.dataset.end), start + duration * 0.002);
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

  function seek(player, seconds, play) {
    if (!player || isNaN(seconds)) return;
    player.currentTime = seconds;
    if (play) {
      var started = player.play();
      if (started && started.catch) started.catch(function () {});
    }
  }

  function setupSeeking(player) {
    document.addEventListener("click", function (event) {
      var target = event.target.closest("[data-seek]");
      if (!target || !player) return;
      event.preventDefault();
      seek(player, parseFloat(target.dataset.seek), true);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      var target = event.target.closest && event.target.closest("li[data-seek]");
      if (target) seek(player, parseFloat(target.dataset.seek), true);
    });
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
      if (player.paused) {
        var started = player.play();
        if (started && started.catch) started.catch(function () {});
      } else {
        player.pause();
      }
    });
    player.addEventListener("play", function () { button.textContent = "❚❚ Pause"; });
    player.addEventListener("pause", function () { button.textContent = "▶ Play"; });
  }

  function setupGradeForm() {
    var form = document.getElementById("grade-form");
    if (!form) return;
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
  }

  document.addEventListener("DOMContentLoaded", function () {
    var player = document.getElementById("player");
    setupTimeline(player);
    setupSeeking(player);
    setupHighlight(player);
    setupPlayButton(player);
    setupGradeForm();
  });
})();
