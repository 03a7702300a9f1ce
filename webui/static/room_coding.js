// The room's code step: an editor per task (CodeMirror where `make editor` vendored it, else the
// plain text area, in which Tab inserts spaces), autosave and resume like the recordings, the
// visible tests and submissions. Every change is kept in localStorage at once (marked unsynced)
// and sent to the server a moment later, every few seconds while typing, on blur and when the
// page is hidden; after a network drop the unsynced copy waits and is sent when the connection
// returns, and after a reload the page takes the device's unsynced copy over the server's draft.
// Runs and submissions are judged by the appliance's worker: the page asks until they are done.
"use strict";

(() => {
  const SAVE_AFTER_MS = 1500; // quiet time after a keystroke before the draft is sent
  const SAVE_EVERY_MS = 5000; // and at least this often while typing goes on
  const TRANSIENT = new Set([0, 500, 502, 503, 504]);
  const INDENT = "    ";
  const MODES = {
    python: "python",
    javascript: "javascript",
    c: "text/x-csrc",
    cpp: "text/x-c++src",
    java: "text/x-java",
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const format = (template, values) =>
    template.replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
  const clockTime = (date) => date.toTimeString().slice(0, 8);

  class Api {
    constructor(base) {
      this.base = base.replace(/\/$/, "");
      this.csrf = document.querySelector('meta[name="csrf-token"]').content;
    }
    async call(method, path, body, { keepalive = false } = {}) {
      const headers = { "X-CSRFToken": this.csrf, Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let response;
      try {
        response = await fetch(this.base + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "same-origin",
          cache: "no-store",
          keepalive,
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
        await this.call("GET", "/coding/state");
        return { status: 0, data }; // transient: sent again with the fresh token
      }
      return { status: response.status, data };
    }
  }

  // The editor: CodeMirror when it was vendored, else the text area itself.
  function makeEditor(textarea, language, onChange, onBlur) {
    if (window.CodeMirror) {
      const cm = window.CodeMirror.fromTextArea(textarea, {
        mode: MODES[language] || null,
        lineNumbers: true,
        indentUnit: 4,
        tabSize: 4,
        indentWithTabs: false,
        viewportMargin: Infinity,
        extraKeys: {
          Tab: (editor) =>
            editor.somethingSelected() ? editor.indentSelection("add") : editor.replaceSelection(INDENT),
          "Shift-Tab": (editor) => editor.indentSelection("subtract"),
          Esc: (editor) => editor.getInputField().blur(), // a way out of the editor by keyboard
        },
      });
      if (textarea.labels[0]) cm.getInputField().setAttribute("aria-label", textarea.labels[0].textContent);
      cm.on("change", onChange);
      cm.on("blur", onBlur);
      return {
        get: () => cm.getValue(),
        set: (code) => cm.setValue(code),
        mode: (lang) => cm.setOption("mode", MODES[lang] || null),
        kind: "codemirror",
      };
    }
    let escaped = false; // Escape, then Tab, leaves the text area (keyboard users are not trapped)
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        escaped = true;
        return;
      }
      if (event.key === "Tab" && !event.shiftKey && !escaped) {
        event.preventDefault();
        const { selectionStart: start, selectionEnd: end, value } = textarea;
        textarea.value = value.slice(0, start) + INDENT + value.slice(end);
        textarea.selectionStart = textarea.selectionEnd = start + INDENT.length;
        onChange();
      }
      escaped = false;
    });
    textarea.addEventListener("input", onChange);
    textarea.addEventListener("blur", onBlur);
    return { get: () => textarea.value, set: (code) => (textarea.value = code), mode: () => {}, kind: "textarea" };
  }

  function setup(root) {
    const api = new Api(root.dataset.base);
    const msg = (name, values = {}) => format(root.getAttribute(`data-msg-${name}`) || name, values);
    const verdict = (code) => msg(`verdict-${code}`);
    const finishButton = document.getElementById("finish-button");
    const finishWait = document.getElementById("finish-wait");
    const judging = new Set(); // submissions waiting for their result
    const tasks = [];

    const updateFinish = () => {
      finishButton.disabled = judging.size > 0;
      finishWait.hidden = judging.size === 0;
    };

    function showResult(box, result, headline) {
      box.replaceChildren();
      const head = document.createElement("p");
      head.className = result.verdict === "ok" ? "result-ok" : "result-bad";
      head.textContent = headline;
      box.append(head);
      if (result.compile_message) {
        const label = document.createElement("p");
        label.textContent = msg("compile");
        const pre = document.createElement("pre");
        pre.className = "code";
        pre.textContent = result.compile_message;
        box.append(label, pre);
      }
      const list = document.createElement("ul");
      list.className = "case-results";
      for (const c of result.cases) {
        const item = document.createElement("li");
        item.dataset.verdict = c.verdict;
        item.textContent = msg("case", { name: c.name, verdict: verdict(c.verdict) });
        if (c.verdict !== "ok" && c.output !== null && c.output !== undefined && c.verdict !== "compile_error") {
          const label = document.createElement("div");
          label.textContent = msg("output");
          const pre = document.createElement("pre");
          pre.className = "code";
          pre.textContent = c.output;
          item.append(label, pre);
        }
        list.append(item);
      }
      box.append(list);
    }

    function taskOf(section, server) {
      const id = section.dataset.task;
      const storeKey = `room-code:${root.dataset.storageKey}:${id}`;
      const starters = JSON.parse(section.dataset.starters || "{}");
      const select = section.querySelector(".code-language");
      const status = section.querySelector(".save-state");
      const results = section.querySelector(".run-results");
      const runButton = section.querySelector(".run-tests");
      const submitButton = section.querySelector(".submit-code");
      const task = { id, dirty: false, saving: null, timer: null, lastSend: 0, retry: null };
      const say = (text) => (status.textContent = text);

      const readLocal = () => {
        try {
          return JSON.parse(localStorage.getItem(storeKey) || "null");
        } catch (error) {
          return null;
        }
      };
      const writeLocal = (synced) => {
        try {
          localStorage.setItem(
            storeKey,
            JSON.stringify({ language: select.value, code: task.editor.get(), synced, at: Date.now() })
          );
        } catch (error) {
          /* storage full or refused: the server copy still goes */
        }
      };

      async function save({ keepalive = false } = {}) {
        if (!task.dirty) return true;
        if (task.saving && !keepalive) return task.saving;
        const language = select.value;
        const code = task.editor.get();
        task.dirty = false;
        task.lastSend = Date.now();
        say(msg("saving"));
        const sending = api
          .call("POST", `/coding/tasks/${id}/draft`, { language, code }, { keepalive })
          .then((result) => {
            const unchanged = task.editor.get() === code && select.value === language;
            if (result.status === 200) {
              if (unchanged) writeLocal(true);
              root.dataset.savedCode = code;
              section.dataset.saved = String(Date.now());
              say(msg("saved", { time: clockTime(new Date()) }));
              return true;
            }
            task.dirty = true; // still to be sent
            if (TRANSIENT.has(result.status)) {
              say(msg("offline"));
              section.dataset.offline = "1";
              clearTimeout(task.retry);
              task.retry = setTimeout(() => {
                task.retry = null;
                save();
              }, 3000);
            } else {
              task.dirty = false; // refused (too large, ...): sending it again will not help
              say(msg("error", { reason: result.data && result.data.error ? result.data.error.message : result.status }));
            }
            return false;
          })
          .finally(() => {
            task.saving = null;
            if (task.dirty && !task.retry) schedule();
          });
        task.saving = sending;
        return sending;
      }

      function schedule() {
        clearTimeout(task.timer);
        const overdue = Date.now() - task.lastSend >= SAVE_EVERY_MS;
        task.timer = setTimeout(() => save(), overdue ? 0 : SAVE_AFTER_MS);
      }

      function changed() {
        task.dirty = true;
        writeLocal(false);
        if (!task.retry) schedule();
      }

      task.editor = makeEditor(section.querySelector(".code-editor"), select.value, changed, () => save());
      root.dataset.editor = task.editor.kind;
      task.save = save;
      task.flush = () => {
        if (task.dirty) save({ keepalive: true });
      };
      task.online = () => {
        clearTimeout(task.retry);
        task.retry = null;
        if (task.dirty) save();
      };

      select.addEventListener("change", () => {
        const current = task.editor.get();
        const isStarter = !current.trim() || Object.values(starters).includes(current);
        task.editor.mode(select.value);
        if (isStarter) task.editor.set(starters[select.value] || "");
        changed();
      });

      // Resume: the device's unsynced copy first, else the server's newest draft, else a starter.
      const local = readLocal();
      const draft = server.drafts[id];
      const setLanguage = (lang) => {
        if ([...select.options].some((o) => o.value === lang)) select.value = lang;
        task.editor.mode(select.value);
      };
      if (local && !local.synced && (!draft || local.code !== draft.code || local.language !== draft.language)) {
        setLanguage(local.language);
        task.editor.set(local.code);
        say(msg("restored"));
        task.dirty = true;
        schedule();
      } else if (draft) {
        setLanguage(draft.language);
        task.editor.set(draft.code);
        task.dirty = false;
        writeLocal(true);
        say(msg("saved", { time: clockTime(new Date(draft.saved_at)) }));
      } else {
        task.editor.set(starters[select.value] || "");
      }

      async function whileRunning(buttons, work) {
        for (const b of buttons) b.disabled = true;
        try {
          await work();
        } finally {
          for (const b of buttons) b.disabled = false;
        }
      }

      runButton.addEventListener("click", () =>
        whileRunning([runButton, submitButton], async () => {
          results.replaceChildren(msg("running"));
          const body = { language: select.value, code: task.editor.get() };
          const started = await api.call("POST", `/coding/tasks/${id}/runs`, body);
          if (started.status !== 202) {
            results.textContent = msg("error", {
              reason: started.data && started.data.error ? started.data.error.message : started.status,
            });
            return;
          }
          writeLocal(true); // the run kept the code as a draft
          task.dirty = false;
          say(msg("saved", { time: clockTime(new Date()) }));
          for (let delay = 500; ; delay = Math.min(delay * 1.5, 3000)) {
            await sleep(delay);
            const found = await api.call("GET", `/coding/runs/${started.data.id}`);
            if (found.status !== 200) continue; // offline: ask again
            if (found.data.state === "running") continue;
            if (found.data.state === "done") {
              const r = found.data.result;
              showResult(results, r, msg("passed", { passed: r.passed, total: r.total }));
              section.dataset.ran = `${r.passed}/${r.total}`;
            } else {
              results.textContent = msg("run-failed");
            }
            return;
          }
        })
      );

      async function followSubmission(submissionId) {
        judging.add(submissionId);
        updateFinish();
        results.replaceChildren(msg("judging"));
        for (let delay = 1000; ; delay = Math.min(delay * 1.5, 4000)) {
          await sleep(delay);
          const found = await api.call("GET", "/coding/submissions");
          if (found.status !== 200) continue;
          const mine = found.data.items.find((s) => s.id === submissionId);
          if (!mine || mine.state === "queued") continue;
          judging.delete(submissionId);
          updateFinish();
          if (mine.state === "judged" && mine.result) {
            const r = mine.result;
            showResult(results, r, msg("judged", { passed: r.passed, total: r.total }));
            section.dataset.judged = `${r.passed}/${r.total}`;
          } else {
            results.textContent = msg("judge-failed");
          }
          return;
        }
      }
      task.follow = followSubmission;

      submitButton.addEventListener("click", () =>
        whileRunning([runButton, submitButton], async () => {
          results.replaceChildren(msg("submitting"));
          const body = { language: select.value, code: task.editor.get() };
          const sent = await api.call("POST", `/coding/tasks/${id}/submissions`, body);
          if (sent.status !== 201) {
            results.textContent = msg("error", {
              reason: sent.data && sent.data.error ? sent.data.error.message : sent.status,
            });
            return;
          }
          section.dataset.submitted = String(sent.data.id);
          await followSubmission(sent.data.id);
        })
      );
      return task;
    }

    (async () => {
      let server = null;
      for (let delay = 500; !server; delay = Math.min(delay * 2, 4000)) {
        const result = await api.call("GET", "/coding/state");
        if (result.status === 200) server = result.data;
        else if (!TRANSIENT.has(result.status)) return;
        else await sleep(delay);
      }
      for (const section of root.querySelectorAll(".coding-task")) tasks.push(taskOf(section, server));
      // Submissions still being judged (after a reload): the page waits for them again.
      for (const s of server.submissions) {
        const task = tasks.find((t) => t.id === String(s.task_id));
        if (s.state === "queued" && task) task.follow(s.id);
      }
      window.addEventListener("online", () => tasks.forEach((t) => t.online()));
      window.addEventListener("pagehide", () => tasks.forEach((t) => t.flush()));
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") tasks.forEach((t) => t.flush());
      });
      root.dataset.ready = "1";
    })();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("coding-room");
    if (root) setup(root);
  });
})();
