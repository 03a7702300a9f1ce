// The candidate's interview room: device check, then question by question with MediaRecorder.
// Every recorded piece is first written to IndexedDB, then sent in order (PUT .../pieces/<n>);
// the server acknowledges a piece once it is sealed in its encrypted spool. After a network
// drop the pieces wait and are sent when the connection returns; after a reload (or a crash)
// the page finds the unfinished take in IndexedDB, sends what the server lacks and finishes it.
// Finishing is acknowledged at once ({background: true}); the appliance then checks and stores
// the answer, and the page asks (GET .../takes/<key>) until it is safe before it can be kept.
"use strict";

(() => {
  const DB_NAME = "appliance-room";
  const SLICE_MS = 1000;
  const TRANSIENT = new Set([0, 500, 502, 503, 504]);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const format = (template, values) =>
    template.replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
  const clock = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };

  // --- IndexedDB: takes and their pieces, kept until the server has the answer -------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("takes", { keyPath: "key" });
        db.createObjectStore("pieces", { keyPath: ["key", "seq"] });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  function tx(db, stores, mode, work) {
    return new Promise((resolve, reject) => {
      const t = db.transaction(stores, mode);
      let result;
      t.oncomplete = () => resolve(result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
      result = work(t);
    });
  }
  const idbGet = (req) =>
    new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });

  class LocalTakes {
    constructor(db) {
      this.db = db;
    }
    save(take) {
      return tx(this.db, ["takes"], "readwrite", (t) => t.objectStore("takes").put(take));
    }
    async take(key) {
      const t = this.db.transaction(["takes"], "readonly");
      return idbGet(t.objectStore("takes").get(key));
    }
    addPiece(key, seq, blob) {
      return tx(this.db, ["pieces"], "readwrite", (t) =>
        t.objectStore("pieces").put({ key, seq, blob, size: blob.size })
      );
    }
    async pieces(key) {
      const t = this.db.transaction(["pieces"], "readonly");
      const range = IDBKeyRange.bound([key, 0], [key, Number.MAX_SAFE_INTEGER]);
      const found = await idbGet(t.objectStore("pieces").getAll(range));
      return found.sort((a, b) => a.seq - b.seq);
    }
    forget(key) {
      return tx(this.db, ["takes", "pieces"], "readwrite", (t) => {
        t.objectStore("takes").delete(key);
        t.objectStore("pieces").delete(IDBKeyRange.bound([key, 0], [key, Number.MAX_SAFE_INTEGER]));
      });
    }
  }

  // --- talking to the room's endpoints --------------------------------------------------------
  class RoomApi {
    constructor(base) {
      this.base = base.replace(/\/$/, "");
      this.csrf = document.querySelector('meta[name="csrf-token"]').content;
    }
    async call(method, path, body, { raw = false } = {}) {
      const headers = { "X-CSRFToken": this.csrf };
      let payload = body;
      if (body !== undefined && !raw) {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
      let response;
      try {
        response = await fetch(this.base + path, {
          method, headers, body: payload, credentials: "same-origin", cache: "no-store",
        });
      } catch (error) {
        return { status: 0, data: null };
      }
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (data && data.csrf) this.csrf = data.csrf;
      if (response.status === 400 && data && data.error && data.error.code === "csrf_failed") {
        await this.refreshCsrf();
        return { status: 0, data }; // transient: the caller sends again with the new token
      }
      return { status: response.status, data };
    }
    async refreshCsrf() {
      try {
        const response = await fetch(this.base + "/state", { credentials: "same-origin" });
        const data = await response.json();
        if (data.csrf) this.csrf = data.csrf;
      } catch (error) {
        /* offline: the next attempt tries again */
      }
    }
    state() {
      return this.call("GET", "/state");
    }
  }

  // --- sending one take's pieces in order, with retries ---------------------------------------
  class Uploader {
    constructor(api, local, key, onProgress) {
      this.api = api;
      this.local = local;
      this.key = key;
      this.onProgress = onProgress;
      this.acked = 0; // pieces the server holds
      this.produced = 0; // pieces written locally
      this.bytes = 0;
      this.running = null;
      this.offline = false;
    }
    note(seq, size) {
      this.produced = Math.max(this.produced, seq + 1);
      this.bytes += size;
      this.kick();
    }
    kick() {
      if (!this.running) this.running = this.drain().finally(() => (this.running = null));
      return this.running;
    }
    async drain() {
      let delay = 500;
      while (this.acked < this.produced) {
        const pieces = await this.local.pieces(this.key);
        const next = pieces.find((p) => p.seq === this.acked);
        if (!next) return; // not written yet: the next note() resumes
        const result = await this.api.call(
          "PUT", `/takes/${encodeURIComponent(this.key)}/pieces/${next.seq}`, next.blob, { raw: true }
        );
        if (result.status === 200) {
          this.acked = result.data.next_seq;
          this.offline = false;
          delay = 500;
        } else if (result.status === 409 && result.data && "expected" in result.data.error) {
          this.acked = result.data.error.expected;
        } else if (TRANSIENT.has(result.status)) {
          this.offline = true;
          this.onProgress(this);
          await sleep(delay);
          delay = Math.min(delay * 2, 4000);
          continue;
        } else {
          throw new Error(result.data && result.data.error ? result.data.error.message : String(result.status));
        }
        this.onProgress(this);
      }
    }
    async flush() {
      while (this.acked < this.produced) {
        await this.kick();
        if (this.acked < this.produced) await sleep(300);
      }
    }
  }

  function setup(root) {
    const api = new RoomApi(root.dataset.base);
    const msg = (name, values = {}) => format(root.dataset[name] || name, values);
    const $ = (id) => document.getElementById(id);
    const status = $("room-status");
    const say = (text) => (status.textContent = text);
    let state = null;
    let local = null;
    let stream = null;
    let recorder = null;
    let uploader = null;
    let timerHandle = null;
    const safeWaits = new Map(); // take key -> promise of its stored state (safe or a problem)

    const show = (section) => {
      for (const id of ["device-check", "question-panel", "finish"]) $(id).hidden = id !== section;
    };

    async function media() {
      if (stream) return stream;
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } },
        audio: true,
      });
      return stream;
    }

    // --- device check: camera, microphone level, upload speed ---------------------------------
    async function deviceCheck() {
      show("device-check");
      try {
        const s = await media();
        $("preview").srcObject = s;
        $("camera-state").textContent = msg("msgCameraOk");
        const context = new AudioContext();
        const analyser = context.createAnalyser();
        context.createMediaStreamSource(s).connect(analyser);
        const samples = new Float32Array(analyser.fftSize);
        const meter = $("mic-level");
        const tick = () => {
          analyser.getFloatTimeDomainData(samples);
          let sum = 0;
          for (const v of samples) sum += v * v;
          const level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
          meter.value = level;
          meter.textContent = level.toFixed(2);
          if (!$("device-check").hidden) requestAnimationFrame(tick);
        };
        tick();
        $("device-ok").disabled = false;
      } catch (error) {
        $("camera-state").textContent = msg("msgCameraBad");
        $("camera-state").className = "problem";
      }
      const size = Number(root.dataset.probeBytes);
      const started = performance.now();
      const result = await api.call("POST", "/bandwidth", new Blob([new Uint8Array(size)]), { raw: true });
      if (result.status === 200) {
        const kbps = Math.round((size * 8) / Math.max(1, performance.now() - started));
        $("speed-state").textContent = msg(kbps < 800 ? "msgSpeedLow" : "msgSpeed", { kbps });
      }
    }

    $("device-ok").addEventListener("click", async () => {
      const result = await api.call("POST", "/begin", {});
      if (result.status !== 200) return say(msg("msgError", { reason: result.status }));
      state = result.data;
      await render();
    });

    // --- a question ----------------------------------------------------------------------------
    const readAloud = () => {
      if (!("speechSynthesis" in window) || !state.question) return;
      window.speechSynthesis.cancel();
      const utterance = new SpeechSynthesisUtterance(state.question.text);
      utterance.lang = state.language === "zh" ? "zh-CN" : "en-US";
      window.speechSynthesis.speak(utterance);
    };
    $("read-aloud").addEventListener("click", readAloud);

    function stopTimer() {
      if (timerHandle) clearInterval(timerHandle);
      timerHandle = null;
    }

    function thinking() {
      stopTimer();
      let left = state.settings.thinking_s;
      const timer = $("timer");
      if (left <= 0) {
        timer.textContent = "";
        return;
      }
      timer.textContent = msg("msgThinking", { s: left });
      timerHandle = setInterval(() => {
        left -= 1;
        timer.textContent = msg("msgThinking", { s: Math.max(0, left) });
        if (left <= 0) {
          stopTimer();
          startRecording();
        }
      }, 1000);
    }

    function progress(up) {
      root.dataset.recordedPieces = String(up.produced);
      root.dataset.recordedBytes = String(up.bytes);
      root.dataset.ackedPieces = String(up.acked);
      $("upload-state").textContent = up.offline
        ? msg("msgOffline")
        : msg("msgUploaded", { acked: up.acked, pieces: up.produced });
    }

    function pickType() {
      const types = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
      return types.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || "";
    }

    async function startRecording() {
      stopTimer();
      if (recorder) return;
      const s = await media();
      const mimeType = pickType();
      const key = crypto.randomUUID();
      await local.save({ key, question: state.question.id, type: mimeType });
      const result = await api.call("POST", `/questions/${state.question.id}/takes`, {
        key, content_type: mimeType || "video/webm",
      });
      if (result.status !== 201) {
        await local.forget(key);
        return say(msg("msgError", { reason: result.data ? result.data.error.message : result.status }));
      }
      uploader = new Uploader(api, local, key, progress);
      progress(uploader);
      recorder = new MediaRecorder(s, { mimeType, videoBitsPerSecond: 400000, audioBitsPerSecond: 64000 });
      let seq = 0;
      let writes = Promise.resolve();
      recorder.addEventListener("dataavailable", (event) => {
        if (!event.data || event.data.size === 0) return;
        const mine = seq++;
        // Written locally first, in order; only then counted and sent.
        writes = writes.then(() => local.addPiece(key, mine, event.data)).then(() => uploader.note(mine, event.data.size));
      });
      const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve));
      recorder.start(SLICE_MS);
      const began = performance.now();
      $("record-start").hidden = true;
      $("record-stop").hidden = false;
      $("record-stop").focus();
      const max = state.settings.max_answer_s;
      timerHandle = setInterval(() => {
        const elapsed = (performance.now() - began) / 1000;
        $("timer").textContent = msg("msgRecording", { elapsed: clock(elapsed), max: clock(max) });
        if (elapsed >= max) stopRecording();
      }, 250);
      recorder.finished = stopped.then(() => writes);
    }

    async function stopRecording() {
      if (!recorder) return;
      stopTimer();
      const current = recorder;
      if (current.state !== "inactive") current.stop();
      $("record-stop").hidden = true;
      await current.finished;
      recorder = null;
      await finishTake(uploader.key);
    }
    $("record-start").addEventListener("click", startRecording);
    $("record-stop").addEventListener("click", stopRecording);

    async function finishTake(key) {
      say(msg("msgSaving"));
      const pieces = await local.pieces(key);
      const bytes = pieces.reduce((sum, p) => sum + p.size, 0);
      if (!uploader || uploader.key !== key) {
        uploader = new Uploader(api, local, key, progress);
      }
      uploader.produced = pieces.length;
      uploader.bytes = bytes;
      await uploader.flush();
      for (;;) {
        const result = await api.call("POST", `/takes/${encodeURIComponent(key)}/finish`, {
          pieces: pieces.length, bytes, background: true,
        });
        if (result.status === 200) {
          state = result.data;
          break;
        }
        if (!TRANSIENT.has(result.status)) {
          say(msg("msgError", { reason: result.data ? result.data.error.message : result.status }));
          return;
        }
        await sleep(1000);
      }
      await review(key);
    }

    async function review(key) {
      const pieces = await local.pieces(key);
      const playback = $("playback");
      if (pieces.length) {
        const take = await local.take(key);
        playback.src = URL.createObjectURL(new Blob(pieces.map((p) => p.blob), { type: (take && take.type) || "video/webm" }));
      }
      $("record-start").hidden = true;
      $("record-stop").hidden = true;
      $("review").hidden = false;
      const left = state.question.attempts_left;
      $("again").hidden = left <= 0;
      $("again").textContent = msg("msgAgain", { n: left });
      $("again").dataset.key = key;
      $("keep").dataset.key = key;
      $("keep").hidden = false;
      $("keep").focus();
      const take = state.take && state.take.key === key ? state.take : null;
      if (take && take.safe) {
        root.dataset.safe = key;
        say(msg("msgReview", { seconds: Math.round(take.duration_s || 0) }));
      } else {
        say(msg("msgSaving"));
        untilSafe(key);
      }
    }

    // Asks the appliance until the answer is stored and checked (or could not be).
    function untilSafe(key) {
      if (!safeWaits.has(key)) {
        const waiting = (async () => {
          let delay = 500;
          for (;;) {
            const result = await api.call("GET", `/takes/${encodeURIComponent(key)}`);
            if (result.status === 200 && (result.data.safe || result.data.problem)) return result.data;
            if (result.status !== 200 && !TRANSIENT.has(result.status)) {
              return { problem: result.data && result.data.error ? result.data.error.message : String(result.status) };
            }
            await sleep(delay);
            delay = Math.min(delay * 2, 2000);
          }
        })().then((take) => {
          if ($("keep").dataset.key === key) {
            if (take.safe) {
              root.dataset.safe = key;
              say(msg("msgReview", { seconds: Math.round(take.duration_s || 0) }));
            } else {
              $("keep").hidden = true;
              $("again").hidden = false;
              say(msg("msgError", { reason: take.problem }));
            }
          }
          return take;
        });
        safeWaits.set(key, waiting);
      }
      return safeWaits.get(key);
    }

    $("keep").addEventListener("click", async () => {
      const key = $("keep").dataset.key;
      if (root.dataset.safe !== key) {
        say(msg("msgSaving"));
        const take = await untilSafe(key);
        if (!take.safe) return;
      }
      const result = await api.call("POST", `/takes/${encodeURIComponent(key)}/keep`, {});
      if (result.status !== 200) return say(msg("msgError", { reason: result.status }));
      await local.forget(key);
      state = result.data;
      if (state.followup_until) await waitForFollowup();
      await render();
    });

    $("again").addEventListener("click", async () => {
      const key = $("again").dataset.key;
      const result = await api.call("POST", `/takes/${encodeURIComponent(key)}/discard`, {});
      if (result.status !== 200) return say(msg("msgError", { reason: result.status }));
      await local.forget(key);
      state = result.data;
      await render();
    });

    async function waitForFollowup() {
      say(msg("msgWaiting"));
      const until = performance.now() + (state.settings.followup_budget_s + 1) * 1000;
      const planned = state.question ? state.question.id : null;
      while (performance.now() < until) {
        await sleep(500);
        const result = await api.state();
        if (result.status === 200) {
          state = result.data;
          if (state.question && state.question.followup && state.question.id !== planned) return;
        }
      }
      const result = await api.state();
      if (result.status === 200) state = result.data;
    }

    // --- drawing the room from the server's state ----------------------------------------------
    async function render() {
      root.dataset.stage = state.stage;
      if (state.stage === "device_check") return deviceCheck();
      if (!state.question) {
        show("finish");
        $("finish-text").textContent = msg("msgAllDone");
        $("finish-button").focus();
        return;
      }
      show("question-panel");
      const q = state.question;
      $("question-number").textContent = q.followup
        ? msg("msgFollowup")
        : msg("msgQuestionOf", { n: q.number, total: state.total });
      $("question-text").textContent = q.text;
      root.dataset.question = String(q.id);
      $("review").hidden = true;
      $("upload-state").textContent = "";
      $("timer").textContent = "";
      try {
        $("live-view").srcObject = await media();
      } catch (error) {
        say(msg("msgCameraBad"));
        return;
      }
      if (state.take) return resume(state.take);
      $("record-start").hidden = false;
      $("record-stop").hidden = true;
      say("");
      $("question-text").focus();
      if (state.settings.read_aloud) readAloud();
      thinking();
    }

    async function resume(take) {
      if (take.state === "complete" || take.finished) return review(take.key);
      const pieces = await local.pieces(take.key);
      if (!pieces.length) {
        say(msg("msgLost"));
        const result = await api.call("POST", `/takes/${encodeURIComponent(take.key)}/discard`, {});
        if (result.status === 200) state = result.data;
        return render();
      }
      const bytes = pieces.reduce((sum, p) => sum + p.size, 0);
      root.dataset.recoveredPieces = String(pieces.length);
      root.dataset.recoveredBytes = String(bytes);
      say(msg("msgRecovering", { pieces: pieces.length }));
      uploader = new Uploader(api, local, take.key, progress);
      uploader.acked = take.next_seq;
      await finishTake(take.key);
    }

    (async () => {
      try {
        local = new LocalTakes(await openDb());
      } catch (error) {
        say(msg("msgError", { reason: "IndexedDB" }));
        return;
      }
      const result = await api.state();
      if (result.status !== 200) return say(msg("msgError", { reason: result.status }));
      state = result.data;
      await render();
      root.dataset.ready = "1";
    })();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("room");
    if (root) setup(root);
  });
})();
