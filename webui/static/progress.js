// Live progress of one analysis job: polls its JSON every 2 s until it succeeded or failed.
"use strict";

(() => {
  const INTERVAL_MS = 2000;
  const MAX_INTERVAL_MS = 30000;
  const STATES = ["queued", "running", "succeeded", "failed", "cancelled"];

  function render(job) {
    const state = document.getElementById("job-state");
    state.textContent = job.state;
    STATES.forEach((name) => state.classList.toggle(`state-${name}`, name === job.state));
    document.getElementById("job-step").textContent = job.step || "–";
    const bar = document.getElementById("job-progress");
    bar.value = job.progress;
    bar.textContent = `${job.progress} %`;
    document.getElementById("job-progress-text").textContent = `${job.progress} %`;
    document.getElementById("job-attempts").textContent = `${job.attempts}/${job.max_attempts}`;
    const left = document.getElementById("job-time-left");
    if (left) {
      left.textContent = job.time_left || "";
      left.hidden = !job.time_left;
    }
    const error = document.getElementById("job-error");
    error.hidden = !job.error_code;
    document.getElementById("job-error-code").textContent = job.error_code || "";
    document.getElementById("job-error-message").textContent = job.error || "";
    const report = document.getElementById("report-link");
    if (report && job.report_url) {
      report.querySelector("a").href = job.report_url;
      report.hidden = false;
    }
  }

  async function poll(url, delay) {
    let next = INTERVAL_MS;
    try {
      const response = await fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        return; // logged out or no longer visible: stop asking
      }
      if (response.ok) {
        const job = await response.json();
        render(job);
        if (job.finished || job.state === "cancelled") return;
      } else {
        next = Math.min(MAX_INTERVAL_MS, delay * 2);
      }
    } catch (error) {
      next = Math.min(MAX_INTERVAL_MS, delay * 2); // network trouble: back off, keep trying
    }
    setTimeout(() => poll(url, next), next);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const live = document.getElementById("job-live");
    if (!live || live.dataset.finished === "true") return;
    setTimeout(() => poll(live.dataset.statusUrl, INTERVAL_MS), INTERVAL_MS);
  });
})();
