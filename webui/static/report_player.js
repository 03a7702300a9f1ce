// The report pages: a transcript line or an evidence quote seeks the answer's player to where
// it was said, and the line being spoken is highlighted while the recording plays.
// Progressive enhancement only: without this file the players and transcripts still work.
"use strict";

(() => {
  const players = () => Array.from(document.querySelectorAll("[data-player]"));
  const seconds = (value, fallback) => {
    const number = Number.parseFloat(value);
    return Number.isFinite(number) ? number : fallback;
  };

  // The player of `recording` whose answer holds `time`, else that recording's first player.
  const playerFor = (recording, time) => {
    const own = players().filter((p) => p.dataset.recording === recording);
    const holding = own.find(
      (p) => time >= seconds(p.dataset.start, 0) && time < seconds(p.dataset.end, Infinity),
    );
    return holding || own[0] || null;
  };

  const seek = (player, time) => {
    player.currentTime = time;
    const playing = player.play();
    if (playing) playing.catch(() => {}); // a refused autoplay leaves the player at the time
  };

  // Highlight the line being spoken; keep it in view inside its list while playing.
  const highlight = (player) => {
    const answer = player.closest("[data-answer]");
    if (!answer) return;
    const now = player.currentTime;
    answer.querySelectorAll("button.line").forEach((line) => {
      const on = now >= seconds(line.dataset.start, 0) && now < seconds(line.dataset.end, 0);
      if (on === line.classList.contains("speaking")) return;
      line.classList.toggle("speaking", on);
      if (on) {
        line.setAttribute("aria-current", "true");
        const list = line.closest("ol.lines");
        if (list && !player.paused && list.scrollHeight > list.clientHeight) {
          const top = line.offsetTop - list.offsetTop;
          if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - line.offsetHeight) {
            list.scrollTop = Math.max(0, top - list.clientHeight / 3);
          }
        }
      } else {
        line.removeAttribute("aria-current");
      }
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    players().forEach((player) => {
      ["timeupdate", "seeked"].forEach((name) =>
        player.addEventListener(name, () => highlight(player)),
      );
      // One voice at a time: starting a player pauses the others.
      player.addEventListener("play", () => {
        players().forEach((other) => {
          if (other !== player && !other.paused) other.pause();
        });
      });
    });

    document.querySelectorAll("[data-answer] button.line").forEach((line) => {
      line.addEventListener("click", () => {
        const player = line.closest("[data-answer]").querySelector("[data-player]");
        if (player) seek(player, seconds(line.dataset.start, 0));
      });
    });

    document.querySelectorAll("a.seek[data-seek-recording]").forEach((link) => {
      link.addEventListener("click", (event) => {
        const time = seconds(link.dataset.seek, 0);
        const player = playerFor(link.dataset.seekRecording, time);
        if (!player) return; // no player on this page: the link jumps to the answers
        event.preventDefault();
        player.scrollIntoView({ block: "center" });
        seek(player, time);
      });
    });
  });
})();
