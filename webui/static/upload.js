// Resumable upload of a recording in pieces: progress, retry with back-off, resume after reload.
// Protocol: POST start → {id, received_bytes, piece_bytes}; PUT /uploads/<id>?offset=N pieces;
// 409 → continue at error.expected; GET /uploads/<id> → received_bytes after a reload.
"use strict";

(() => {
  const MAX_RETRIES = 8;
  const MAX_DELAY_MS = 30000;
  // Network errors and these answers are worth another try; others are final (503 = queue full).
  const TRANSIENT = new Set([0, 500, 502, 504]);
  const STORAGE_PREFIX = "appliance.upload.";

  class UploadStopped extends Error {
    constructor(message, { forget = false } = {}) {
      super(message);
      this.forget = forget;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const format = (template, values) =>
    template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));

  function setup(root) {
    const input = root.querySelector("#recording-file");
    const button = root.querySelector("#upload-start");
    const bar = root.querySelector("#upload-progress");
    const percentText = root.querySelector("#upload-percent");
    const message = root.querySelector("#upload-message");
    const hint = root.querySelector("#upload-resume-hint");
    const done = root.querySelector("#upload-done");
    const jobLink = root.querySelector("#upload-job-link");
    const msg = (name, values = {}) => format(root.dataset[name] || name, values);
    const storageKey = STORAGE_PREFIX + root.dataset.interview;
    const statusUrl = (id) => root.dataset.statusBase.replace("UPLOAD_ID", encodeURIComponent(id));

    root.hidden = false;
    const fallback = document.getElementById("simple-upload");
    if (fallback) fallback.hidden = true;

    const remembered = () => {
      try {
        return JSON.parse(window.localStorage.getItem(storageKey) || "null");
      } catch (error) {
        return null;
      }
    };
    const remember = (entry) => {
      try {
        window.localStorage.setItem(storageKey, JSON.stringify(entry));
      } catch (error) {
        /* private mode: the upload still works, it just cannot resume after a reload */
      }
    };
    const forget = () => {
      try {
        window.localStorage.removeItem(storageKey);
      } catch (error) {
        /* nothing to forget */
      }
    };

    const showHint = () => {
      const entry = remembered();
      hint.hidden = !entry;
      if (entry) hint.textContent = msg("msgResumeHint", { name: entry.name });
    };
    showHint();

    const show = (sent, total) => {
      const percent = total > 0 ? Math.min(100, Math.floor((sent / total) * 100)) : 0;
      bar.value = percent;
      bar.textContent = `${percent} %`;
      percentText.textContent = `${percent} %`;
      return percent;
    };
    const say = (text, isError = false) => {
      message.textContent = text;
      message.classList.toggle("problem", isError);
    };

    const headers = (extra = {}) => ({
      Accept: "application/json",
      "X-CSRFToken": window.applianceCsrfToken ? window.applianceCsrfToken() : "",
      ...extra,
    });

    const reasonOf = async (response) => {
      try {
        const body = await response.json();
        return (body.error && body.error.message) || response.statusText;
      } catch (error) {
        return response.statusText || String(response.status);
      }
    };

    // fetch() with retries on network errors and 5xx answers; other answers are returned.
    async function request(url, options, onRetry) {
      for (let attempt = 0; ; attempt += 1) {
        let response = null;
        try {
          response = await fetch(url, { credentials: "same-origin", ...options });
        } catch (error) {
          response = null;
        }
        if (response && !TRANSIENT.has(response.status)) return response;
        if (attempt >= MAX_RETRIES) throw new UploadStopped(msg("msgGaveUp"));
        const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** attempt);
        if (onRetry) onRetry(delay);
        await sleep(delay);
      }
    }

    // One piece by XMLHttpRequest, for progress events within the piece.
    function sendPiece(url, blob, onProgress) {
      return new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open("PUT", url);
        Object.entries(headers({ "Content-Type": "application/octet-stream" })).forEach(
          ([name, value]) => xhr.setRequestHeader(name, value),
        );
        xhr.responseType = "json";
        xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
        xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.response }));
        xhr.addEventListener("error", () => resolve({ status: 0, body: null }));
        xhr.addEventListener("abort", () => resolve({ status: 0, body: null }));
        xhr.addEventListener("timeout", () => resolve({ status: 0, body: null }));
        xhr.send(blob);
      });
    }

    const failOn = async (response) => {
      if (response.status === 401) throw new UploadStopped(msg("msgLogin"));
      const reason = await reasonOf(response);
      // 404: the upload expired or is not this user's; 422 etc.: refused for good.
      throw new UploadStopped(msg("msgFailed", { reason }), { forget: true });
    };

    async function begin(file) {
      const entry = remembered();
      const same =
        entry && entry.name === file.name && entry.size === file.size &&
        entry.lastModified === file.lastModified;
      if (same) {
        const response = await request(statusUrl(entry.upload_id), { headers: headers() });
        if (response.ok) {
          const status = await response.json();
          say(msg("msgResuming", { percent: show(status.received_bytes, file.size) }));
          return status;
        }
        if (response.status === 401) await failOn(response);
        forget(); // expired or gone: start afresh
      }
      say(msg("msgStarting"));
      const response = await request(root.dataset.startUrl, {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({
          filename: file.name,
          content_type: file.type || "application/octet-stream",
          total_bytes: file.size,
        }),
      });
      if (!response.ok) await failOn(response);
      const status = await response.json();
      remember({
        upload_id: status.id,
        name: file.name,
        size: file.size,
        lastModified: file.lastModified,
      });
      return status;
    }

    async function finish(status) {
      let final = status;
      if (!final.job_url) {
        const response = await request(final.status_url, { headers: headers() });
        if (response.ok) final = await response.json();
      }
      if (!final.completed) {
        throw new UploadStopped(msg("msgFailed", { reason: final.error || "incomplete" }), {
          forget: true,
        });
      }
      forget();
      hint.hidden = true;
      show(1, 1);
      say(msg("msgDone"));
      if (final.job_url) {
        jobLink.href = final.job_url;
        jobLink.textContent = msg("msgJobLink", { id: final.job_id });
      }
      done.hidden = false;
    }

    async function upload(file) {
      let status = await begin(file);
      const pieceBytes = status.piece_bytes;
      let offset = status.received_bytes;
      let failures = 0;
      show(offset, file.size);
      while (!status.completed && offset < file.size) {
        const end = Math.min(offset + pieceBytes, file.size);
        say(msg("msgUploading"));
        const url = `${status.piece_url}?offset=${offset}`;
        const base = offset;
        const reply = await sendPiece(url, file.slice(offset, end), (loaded) =>
          show(base + loaded, file.size),
        );
        if (reply.status === 200 && reply.body) {
          failures = 0;
          status = reply.body;
          offset = status.received_bytes;
          show(offset, file.size);
        } else if (reply.status === 409 && reply.body && reply.body.error) {
          failures = 0;
          offset = reply.body.error.expected; // the server knows best where to continue
          show(offset, file.size);
          if (offset >= file.size) status = { ...status, completed: true, job_url: null };
        } else if (TRANSIENT.has(reply.status)) {
          if (failures >= MAX_RETRIES) throw new UploadStopped(msg("msgGaveUp"));
          const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** failures);
          failures += 1;
          show(offset, file.size); // the lost piece's bytes do not count
          say(msg("msgRetrying", { seconds: Math.round(delay / 1000) }));
          await sleep(delay);
          show(offset, file.size);
        } else if (reply.status === 401) {
          throw new UploadStopped(msg("msgLogin"));
        } else {
          const reason = (reply.body && reply.body.error && reply.body.error.message) ||
            String(reply.status);
          throw new UploadStopped(msg("msgFailed", { reason }), { forget: true });
        }
      }
      await finish(status);
    }

    button.addEventListener("click", async () => {
      const file = input.files && input.files[0];
      if (!file) {
        say(msg("msgChoose"), true);
        input.focus();
        return;
      }
      button.disabled = true;
      input.disabled = true;
      done.hidden = true;
      try {
        await upload(file);
      } catch (error) {
        if (error instanceof UploadStopped && error.forget) {
          forget();
          showHint();
        }
        say(error instanceof UploadStopped ? error.message : String(error), true);
      } finally {
        button.disabled = false;
        input.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("resumable-upload");
    if (root) setup(root);
  });
})();
