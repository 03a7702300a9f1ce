// Live assist: capture the call's audio (tab or microphone), resample to 16 kHz 16-bit mono,
// send it in ~250 ms pieces in order (retrying after a drop), and draw the appliance's running
// transcript, competency coverage and alerts, which the worker updates as it transcribes.
"use strict";

(() => {
  const PIECE_MS = 250;
  const POLL_MS = 400;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const format = (template, values) =>
    template.replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));

  function setup(root) {
    const msg = (name, values = {}) => format(root.dataset[name] || name, values);
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const rate = Number(root.dataset.sampleRate);
    const status = document.getElementById("live-status");
    const queue = [];
    let session = null;
    let seq = 0;
    let sent = 0;
    let sending = false;
    let context = null;
    let ended = false;

    const post = (url, body) =>
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });

    async function pump() {
      if (sending) return;
      sending = true;
      let delay = 300;
      try {
        while (queue.length) {
          const piece = queue[0];
          let response = null;
          try {
            response = await fetch(session.audio_url + piece.seq, {
              method: "PUT",
              headers: { "X-CSRFToken": csrf, "Content-Type": "application/octet-stream" },
              body: piece.data,
              credentials: "same-origin",
            });
          } catch (error) {
            response = null;
          }
          if (response && (response.ok || response.status === 409)) {
            queue.shift();
            sent += piece.data.byteLength / 2 / rate;
            status.textContent = msg("msgListening", { seconds: Math.round(sent) });
            delay = 300;
            continue;
          }
          status.textContent = msg("msgOffline");
          await sleep(delay);
          delay = Math.min(delay * 2, 3000);
        }
      } finally {
        sending = false;
      }
    }

    function encoder(stream) {
      context = new AudioContext({ sampleRate: rate });
      const source = context.createMediaStreamSource(stream);
      const processor = context.createScriptProcessor(4096, 1, 1);
      let buffer = new Int16Array(0);
      const perPiece = Math.round((rate * PIECE_MS) / 1000);
      processor.onaudioprocess = (event) => {
        if (ended) return;
        const input = event.inputBuffer.getChannelData(0);
        const samples = new Int16Array(input.length);
        for (let i = 0; i < input.length; i += 1) {
          const v = Math.max(-1, Math.min(1, input[i]));
          samples[i] = v < 0 ? v * 0x8000 : v * 0x7fff;
        }
        const joined = new Int16Array(buffer.length + samples.length);
        joined.set(buffer);
        joined.set(samples, buffer.length);
        buffer = joined;
        while (buffer.length >= perPiece) {
          queue.push({ seq: seq++, data: buffer.slice(0, perPiece).buffer });
          buffer = buffer.slice(perPiece);
        }
        pump();
      };
      source.connect(processor);
      processor.connect(context.destination);
    }

    async function start(kind) {
      let stream;
      try {
        stream = kind === "tab"
          ? await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true })
          : await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (error) {
        status.textContent = msg("msgRefused", { reason: error.name });
        return;
      }
      if (!stream.getAudioTracks().length) {
        status.textContent = msg("msgRefused", { reason: "no audio" });
        return;
      }
      const response = await post(root.dataset.startUrl, {
        language: root.dataset.language, sample_rate: rate,
      });
      const data = await response.json();
      if (response.status !== 201) {
        status.textContent = msg("msgRefused", { reason: data.error ? data.error.message : response.status });
        return;
      }
      session = data;
      root.dataset.session = String(session.id);
      document.getElementById("capture-tab").disabled = true;
      document.getElementById("capture-mic").disabled = true;
      document.getElementById("live-end").disabled = false;
      encoder(stream);
      poll();
    }

    function draw(view) {
      const list = document.getElementById("transcript");
      while (list.children.length < view.segments.length) {
        const segment = view.segments[list.children.length];
        const item = document.createElement("li");
        item.textContent = segment.text;
        item.dataset.end = String(segment.end);
        list.appendChild(item);
      }
      document.getElementById("partial").textContent = view.partial || "";
      const coverage = document.getElementById("coverage");
      coverage.replaceChildren(
        ...view.coverage.map((c) => {
          const item = document.createElement("li");
          item.textContent = `${c.name}: ${c.covered ? msg("msgCovered") : msg("msgOpen")}`;
          item.className = c.covered ? "state-succeeded" : "muted";
          return item;
        })
      );
      const alerts = document.getElementById("alerts");
      alerts.replaceChildren(
        ...view.alerts.map((a) => {
          const item = document.createElement("li");
          const message = document.createElement("p");
          message.textContent = a.message || a.code;
          item.appendChild(message);
          if (a.probe) {
            const probe = document.createElement("p");
            probe.className = "notice";
            probe.textContent = a.probe;
            item.appendChild(probe);
          }
          return item;
        })
      );
    }

    async function poll() {
      for (;;) {
        try {
          const response = await fetch(session.view_url, { credentials: "same-origin", cache: "no-store" });
          if (response.ok) {
            const view = await response.json();
            draw(view);
            if (view.state === "ended") {
              status.textContent = msg("msgSaved");
              return;
            }
          }
        } catch (error) {
          /* the next poll tries again */
        }
        await sleep(POLL_MS);
      }
    }

    document.getElementById("capture-tab").addEventListener("click", () => start("tab"));
    document.getElementById("capture-mic").addEventListener("click", () => start("mic"));
    document.getElementById("live-end").addEventListener("click", async () => {
      ended = true;
      document.getElementById("live-end").disabled = true;
      status.textContent = msg("msgEnding");
      while (queue.length) {
        await pump();
        if (queue.length) await sleep(200);
      }
      if (context) await context.close();
      await post(session.end_url);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("live");
    if (root) setup(root);
  });
})();
