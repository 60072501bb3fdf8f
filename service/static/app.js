// dfdetect's page: upload a video, follow the job, draw the result.
// Plain JS, no build step, no third-party code. Every string that comes from the server or the
// upload goes into the DOM as text (textContent / createElement), never as markup.
"use strict";

(function () {
  const KEY_STORAGE = "dfdetect.apiKey";
  const POLL_MS = 1000;
  const STAGES = [
    ["decode", "Decoding frames"],
    ["detect_faces", "Finding faces"],
    ["crop", "Cropping faces"],
    ["score", "Scoring faces"],
    ["postprocess", "Combining scores"],
  ];
  const THRESHOLD = 0.5;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ERROR_HINTS = {
    unauthorized: "Enter a valid API key above and try again.",
    upload_too_large: "The file is larger than this service accepts.",
    invalid_video: "The file is not a video that can be decoded.",
    no_video_stream: "The file has no video track.",
    unsupported_media: "This container or codec is not accepted.",
    rate_limited: "Too many uploads for this key in the last minute.",
    queue_full: "Too many videos are waiting.",
    too_many_uploads: "Too many uploads are streaming at once.",
    queue_unavailable: "The job queue is down; the service is not ready.",
    not_ready: "The service is not ready yet.",
    insufficient_storage: "The server's upload store is full.",
    job_not_found: "The job is gone (results expire) or belongs to another key.",
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $("upload-form"),
    keyRow: $("key-row"),
    key: $("api-key"),
    forgetKey: $("forget-key"),
    drop: $("drop-zone"),
    file: $("file-input"),
    fileName: $("file-name"),
    sizeLimit: $("size-limit"),
    upload: $("upload-button"),
    cancel: $("cancel-button"),
    progressRow: $("progress-row"),
    progress: $("upload-progress"),
    percent: $("upload-percent"),
    jobBox: $("job-box"),
    jobDetails: $("job-details"),
    status: $("status"),
    stages: $("stages"),
    jobId: $("job-id"),
    jobFile: $("job-file"),
    elapsed: $("elapsed"),
    error: $("error"),
    result: $("result"),
  };

  const state = {
    config: { auth_required: false, max_upload_bytes: 0 },
    file: null, // the File to upload
    xhr: null, // the upload in flight
    jobId: null,
    jobFile: "",
    pollTimer: null,
    clock: null,
    startedAt: 0,
    fromLink: false, // followed from the URL's #job=: the page did not see the upload
    generation: 0, // bumped per upload, so a stale poll never draws over a newer job
    result: null,
    job: null, // the job whose result is shown
    sourceFile: null, // the File the shown job was made from: re-sent to check one person
    pending: null, // {person, t, box}: the person a targeted re-upload in flight asks about
    hoverPerson: null, // the person row under the pointer or focus
    axis: null, // the timeline's time axis, shared by the chart and the people rows
    images: new Map(), // image path -> Promise of a blob: URL (API keys on), per result
  };

  // ---- small DOM helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fmtProb(p) {
    return typeof p === "number" && Number.isFinite(p) ? p.toFixed(3) : "n/a";
  }

  function fmtSeconds(s) {
    return `${Number(s).toFixed(2)} s`;
  }

  function fmtBytes(n) {
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let value = Number(n);
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
  }

  function fmtElapsed(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(total / 60);
    const s = total % 60;
    return m ? `${m} min ${s} s` : `${s} s`;
  }

  // ---- API key (sessionStorage only) ------------------------------------------------------------

  function apiKey() {
    return ui.key.value.trim();
  }

  function authHeaders() {
    const key = apiKey();
    return state.config.auth_required && key ? { Authorization: `Bearer ${key}` } : {};
  }

  function loadKey() {
    try {
      ui.key.value = sessionStorage.getItem(KEY_STORAGE) || "";
    } catch (_) {
      /* storage disabled: the key lives in the field only */
    }
  }

  function saveKey() {
    try {
      if (apiKey()) sessionStorage.setItem(KEY_STORAGE, apiKey());
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      /* ignore */
    }
  }

  // ---- status and errors ------------------------------------------------------------------------

  function setStatus(text) {
    if (ui.status.textContent !== text) ui.status.textContent = text;
  }

  function hideError() {
    ui.error.hidden = true;
    clear(ui.error);
  }

  // `code` and `message` come from the server: text only.
  function showError(title, code, message, extra) {
    clear(ui.error);
    const head = el("p", { class: "error-title" }, title);
    if (code) head.append(" ", el("code", { class: "error-code", "data-testid": "error-code" }, code));
    ui.error.append(head);
    if (message) ui.error.append(el("p", { class: "error-message", "data-testid": "error-message" }, message));
    const hint = extra || ERROR_HINTS[code];
    if (hint) ui.error.append(el("p", { class: "hint" }, hint));
    ui.error.hidden = false;
  }

  function parseError(xhrOrText, status) {
    let body = null;
    try {
      body = JSON.parse(xhrOrText);
    } catch (_) {
      body = null;
    }
    const err = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : null;
    return {
      code: err && typeof err.code === "string" ? err.code : `http_${status}`,
      message: err && typeof err.message === "string" ? err.message : `The server answered HTTP ${status}.`,
    };
  }

  function retryHint(code, retryAfter) {
    const base = ERROR_HINTS[code] || "";
    return retryAfter ? `${base} Retry in ${retryAfter} s.`.trim() : base;
  }

  // ---- file selection ---------------------------------------------------------------------------

  function chooseFile(file) {
    state.file = file || null;
    hideError();
    ui.upload.disabled = Boolean(state.xhr);
    ui.fileName.textContent = state.file ? `${state.file.name} (${fmtBytes(state.file.size)})` : "";
  }

  ui.file.addEventListener("change", () => chooseFile(ui.file.files && ui.file.files[0]));

  for (const type of ["dragenter", "dragover"]) {
    ui.drop.addEventListener(type, (event) => {
      event.preventDefault();
      ui.drop.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "dragend"]) {
    ui.drop.addEventListener(type, () => ui.drop.classList.remove("dragging"));
  }
  ui.drop.addEventListener("drop", (event) => {
    event.preventDefault();
    ui.drop.classList.remove("dragging");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) {
      try {
        ui.file.files = files; // the input shows the dropped file's name
      } catch (_) {
        ui.file.value = "";
      }
      chooseFile(files[0]);
      if (!ui.upload.disabled) ui.upload.focus();
    }
  });
  // A drop that misses the zone must not navigate away to the file.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  ui.key.addEventListener("input", saveKey);
  ui.forgetKey.addEventListener("click", () => {
    ui.key.value = "";
    saveKey();
    ui.key.focus();
  });

  // ---- upload -----------------------------------------------------------------------------------

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.xhr) return;
    if (!state.file) {
      showError("Choose a video first.", null, "Pick a file, or drop one on the box.");
      ui.file.focus();
      return;
    }
    upload(state.file, null);
  });

  // `target`: null for the whole video, or {person, t, box}: the same file again, answered for
  // the person whose face is in `box` at `t` s (the result stays in view meanwhile).
  function upload(file, target) {
    hideError();
    if (state.config.auth_required && !apiKey()) {
      showError("An API key is needed.", "unauthorized", "This service only accepts uploads with an API key.");
      ui.key.focus();
      return;
    }
    const limit = state.config.max_upload_bytes;
    if (limit && file.size > limit) {
      showError(
        "The file is too large.",
        "upload_too_large",
        `${file.name} is ${fmtBytes(file.size)}; this service accepts at most ${fmtBytes(limit)}.`,
        "Checked in the browser; nothing was sent.",
      );
      return;
    }
    stopPolling();
    state.generation += 1;
    state.jobId = null;
    state.jobFile = file.name;
    state.sourceFile = file;
    state.pending = target;
    if (target && state.result && !ui.result.hidden) showPending(file, target);
    else ui.result.hidden = true;
    ui.jobBox.hidden = false;
    ui.jobDetails.hidden = true;
    ui.jobId.textContent = "";
    ui.jobFile.textContent = file.name;
    state.fromLink = false;
    startClock();
    setStatus(`Uploading ${file.name}…`);
    history.replaceState(null, "", location.pathname);

    const form = new FormData();
    if (target) form.append("target", JSON.stringify({ t: target.t, box: target.box }));
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    state.xhr = xhr;
    xhr.open("POST", "/detect");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.responseType = "text";
    ui.progressRow.hidden = false;
    setProgress(0);
    ui.upload.disabled = true;
    ui.cancel.hidden = false;
    ui.cancel.disabled = false;

    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) setProgress(e.loaded / e.total);
    });
    xhr.upload.addEventListener("load", () => {
      setProgress(1);
      setStatus(`Uploaded ${file.name}; the server is checking it…`);
    });
    xhr.addEventListener("load", () => {
      state.xhr = null;
      ui.upload.disabled = false;
      if (xhr.status === 202) {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (_) {
          body = null;
        }
        if (!body || typeof body.job_id !== "string") {
          uploadFailed("The server accepted the upload but its answer could not be read.", "bad_response", "");
          return;
        }
        setProgress(1);
        followJob(body.job_id, file.name);
        return;
      }
      const err = parseError(xhr.responseText, xhr.status);
      uploadFailed(`Upload refused (HTTP ${xhr.status}).`, err.code, err.message, retryHint(err.code, xhr.getResponseHeader("Retry-After")));
    });
    xhr.addEventListener("error", () => {
      state.xhr = null;
      ui.upload.disabled = false;
      uploadFailed("The upload did not reach the server.", "network_error", "Check the connection and that the service runs.");
    });
    xhr.addEventListener("abort", () => {
      state.xhr = null;
      ui.upload.disabled = false;
      endJob();
      setStatus("Upload canceled; nothing was queued.");
    });
    xhr.send(form);
  }

  function uploadFailed(title, code, message, hint) {
    endJob();
    ui.progressRow.hidden = true;
    setStatus("Upload failed.");
    showError(title, code, message, hint);
  }

  function setProgress(fraction) {
    const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
    ui.progress.value = pct;
    ui.percent.textContent = `${pct} %`;
  }

  // ---- the job ----------------------------------------------------------------------------------

  function startClock() {
    state.startedAt = Date.now();
    clearInterval(state.clock);
    ui.elapsed.textContent = "0 s";
    state.clock = setInterval(() => {
      ui.elapsed.textContent = fmtElapsed(Date.now() - state.startedAt);
    }, 500);
  }

  function stopClock() {
    clearInterval(state.clock);
    state.clock = null;
  }

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function endJob() {
    stopPolling();
    stopClock();
    ui.cancel.hidden = true;
    if (state.pending) {
      state.pending = null;
      ui.result.classList.remove("stale");
      ui.result.removeAttribute("aria-busy");
      $("people-status").textContent = "";
      if (state.result && !ui.result.hidden) showPeople(state.result);
    }
  }

  function followJob(jobId, fileName) {
    state.jobId = jobId;
    ui.jobBox.hidden = false;
    ui.jobDetails.hidden = false;
    renderStages(null, "queued");
    ui.jobId.textContent = jobId;
    if (fileName) ui.jobFile.textContent = fileName;
    ui.cancel.hidden = false;
    ui.cancel.disabled = false;
    history.replaceState(null, "", `#job=${encodeURIComponent(jobId)}`);
    setStatus("Queued.");
    poll(state.generation, 0);
  }

  async function poll(generation, failures) {
    if (generation !== state.generation || !state.jobId) return;
    let response;
    let text;
    try {
      response = await fetch(`/jobs/${encodeURIComponent(state.jobId)}`, {
        headers: { Accept: "application/json", ...authHeaders() },
        cache: "no-store",
      });
      text = await response.text();
    } catch (_) {
      if (generation !== state.generation) return;
      if (failures >= 10) {
        endJob();
        showError("Lost contact with the server.", "network_error", "Polling the job failed ten times in a row.");
        return;
      }
      setStatus("Cannot reach the server; retrying…");
      state.pollTimer = setTimeout(() => poll(generation, failures + 1), POLL_MS * 2);
      return;
    }
    if (generation !== state.generation) return;
    if (response.status === 503 && failures < 30) {
      setStatus("The job queue is unavailable; retrying…");
      state.pollTimer = setTimeout(() => poll(generation, failures + 1), POLL_MS * 2);
      return;
    }
    if (!response.ok) {
      const err = parseError(text, response.status);
      endJob();
      setStatus("Cannot read the job.");
      showError(`Polling the job failed (HTTP ${response.status}).`, err.code, err.message);
      return;
    }
    let job;
    try {
      job = JSON.parse(text);
    } catch (_) {
      endJob();
      showError("The job's state could not be read.", "bad_response", "");
      return;
    }
    if (showJob(job)) state.pollTimer = setTimeout(() => poll(generation, 0), POLL_MS);
  }

  // Draws the job's state; true while it is still running.
  function showJob(job) {
    if (typeof job.filename === "string") ui.jobFile.textContent = job.filename;
    switch (job.status) {
      case "queued": {
        const pos = Number.isInteger(job.queue_position) ? job.queue_position : null;
        setStatus(pos === null ? "Queued." : pos === 0 ? "Queued: next to run." : `Queued: ${pos} job${pos === 1 ? "" : "s"} ahead.`);
        renderStages(null, "queued");
        return true;
      }
      case "started": {
        const index = STAGES.findIndex(([name]) => name === job.stage);
        const label = index >= 0 ? STAGES[index][1] : job.stage || "starting";
        setStatus(index >= 0 ? `Running: ${label} (stage ${index + 1} of ${STAGES.length}).` : `Running: ${label}.`);
        renderStages(job.stage || null, "started");
        return true;
      }
      case "finished":
        endJob();
        renderStages(null, "finished");
        if (state.fromLink) {
          // Opened by its link: when it was uploaded is known, how long it took is not (the
          // worker's own time is in the result's Processing line).
          ui.elapsed.textContent = "–";
          setStatus("Finished.");
        } else {
          setStatus(`Finished in ${fmtElapsed(Date.now() - state.startedAt)}.`);
        }
        showResult(job);
        return false;
      case "canceled":
        endJob();
        renderStages(null, "canceled");
        setStatus("Canceled.");
        return false;
      case "failed": {
        endJob();
        renderStages(null, "failed");
        setStatus("Failed.");
        const err = job.error && typeof job.error === "object" ? job.error : {};
        showError("The job failed.", typeof err.code === "string" ? err.code : "failed", typeof err.message === "string" ? err.message : "");
        return false;
      }
      default:
        setStatus(`Unknown job state: ${String(job.status)}`);
        return true;
    }
  }

  function renderStages(current, phase) {
    clear(ui.stages);
    const at = STAGES.findIndex(([name]) => name === current);
    STAGES.forEach(([name, label], i) => {
      let mark = "todo";
      if (phase === "finished" || (phase === "started" && at >= 0 && i < at)) mark = "done";
      else if (phase === "started" && i === at) mark = "current";
      const item = el("li", { class: `stage ${mark}`, "data-stage": name }, label);
      if (mark === "current") item.setAttribute("aria-current", "step");
      ui.stages.append(item);
    });
  }

  ui.cancel.addEventListener("click", async () => {
    if (state.xhr) {
      state.xhr.abort();
      return;
    }
    if (!state.jobId) return;
    ui.cancel.disabled = true;
    setStatus("Asking the server to cancel…");
    try {
      const response = await fetch(`/jobs/${encodeURIComponent(state.jobId)}`, {
        method: "DELETE",
        headers: { Accept: "application/json", ...authHeaders() },
      });
      const text = await response.text();
      if (!response.ok) {
        const err = parseError(text, response.status);
        showError(`Cancel refused (HTTP ${response.status}).`, err.code, err.message);
      } else {
        setStatus("Cancel requested; a running job stops at its next stage.");
      }
    } catch (_) {
      showError("The cancel request did not reach the server.", "network_error", "");
    }
    ui.cancel.disabled = false;
  });

  // ---- the result -------------------------------------------------------------------------------

  function showResult(job) {
    const result = job.result;
    if (!result || typeof result !== "object") {
      showError("The job finished without a result.", "bad_response", "");
      return;
    }
    state.result = result;
    state.job = job;
    resetImages();
    ui.result.hidden = false;
    ui.result.classList.remove("stale");
    ui.result.removeAttribute("aria-busy");
    showVerdict(result);
    showTrust(result);
    showHonesty(result);
    drawChart(result);
    showPeople(result);
    showFaces(result);
    showModels(result);
    showVideo(result, job);
    showScripting(job);
    $("result-title").focus({ preventScroll: true });
  }

  function showVerdict(result) {
    const verdict = $("verdict");
    const label = result.label === "FAKE" ? "FAKE" : result.label === "REAL" ? "REAL" : String(result.label);
    verdict.textContent = label;
    verdict.className = `verdict ${label === "FAKE" ? "fake" : label === "REAL" ? "real" : ""}`;
    if (result.fallback === "no_face" || result.fallback === "target_not_found") {
      verdict.className = "verdict undecided";
      const why = result.fallback === "no_face" ? "no face" : "target not found";
      verdict.append(el("span", { class: "verdict-note" }, ` (${why}: undecided)`));
    } else {
      // The big word is the DFDC convention (FAKE from 0.5); the bands are where this model was
      // measured to be right. When they disagree the big word must not read as the answer.
      const band = bandLabel(result);
      if (band && band !== label) {
        verdict.className = "verdict undecided";
        verdict.append(
          el(
            "span",
            { class: "verdict-note", "data-testid": "verdict-disagrees" },
            ` (by the 0.5 line; the measured bands say ${band})`,
          ),
        );
      }
    }
    const target = result.target && typeof result.target === "object" ? result.target : null;
    const person = target && Number.isInteger(target.person) ? target.person : null;
    $("verdict-title").textContent = person !== null ? `Verdict for person ${person}` : "Verdict";
    // Whose answer this is, when a target was asked for.
    const answer = $("target-answer");
    answer.hidden = !target;
    answer.className = `target-answer${target && person === null ? " missed" : ""}`;
    answer.textContent = !target
      ? ""
      : person !== null
        ? `Answer for person ${person}: ${String(target.why || "")}`
        : `No person matched the target: ${String(target.why || "")}`;
    $("fake-probability").textContent = fmtProb(result.fake_probability);
    // Which weights answered (`model`: name, version; its note comes as a warning too), and
    // the temperature the score was calibrated with: the score is not the members' mean.
    const model = result.model && typeof result.model === "object" ? result.model : {};
    const identity = $("model-identity");
    identity.hidden = typeof model.name !== "string" || !model.name;
    identity.textContent = identity.hidden
      ? ""
      : `Model: ${model.name}${typeof model.version === "string" && model.version ? ` (version ${model.version})` : ""}${calibrationWords(model.calibration)}`;
  }

  function calibrationWords(calibration) {
    if (!calibration || typeof calibration !== "object") return "";
    const t = calibration.temperature;
    if (typeof t !== "number" || !isFinite(t)) return "";
    const on = typeof calibration.fitted_on === "string" ? `, fitted on ${calibration.fitted_on}` : "";
    return `; score calibrated by a temperature of ${t.toFixed(2)}${on} (the members' scores are not)`;
  }

  // The verdict of the model's measured bands (REAL, UNCERTAIN, FAKE), or null without bands.
  function bandLabel(result) {
    const v = result.verdict && typeof result.verdict === "object" ? result.verdict : {};
    return ["REAL", "UNCERTAIN", "FAKE"].includes(v.label) ? v.label : null;
  }

  // The verdict from the model's bands and its note, the reasons, and the input's quality.
  function showTrust(result) {
    const v = result.verdict && typeof result.verdict === "object" ? result.verdict : {};
    const band = $("band-verdict");
    const label = bandLabel(result);
    band.hidden = label === null;
    band.textContent = label || "";
    band.className = `band-verdict ${label ? label.toLowerCase() : ""}`;
    band.dataset.label = label || "";
    $("verdict-note").textContent = typeof v.note === "string" ? v.note : "";

    const list = $("reasons");
    clear(list);
    const reasons = Array.isArray(result.reasons) ? result.reasons : [];
    for (const reason of reasons) {
      if (!reason || typeof reason !== "object") continue;
      list.append(
        el(
          "li",
          {
            class: `reason${reason.abstained ? " abstained" : ""}`,
            "data-testid": "reason",
            "data-code": String(reason.code),
            "data-abstained": reason.abstained ? "true" : "false",
          },
          String(reason.message),
        ),
      );
    }
    list.hidden = list.childElementCount === 0;

    const line = $("quality");
    clear(line);
    const parts = qualityParts(result.quality && typeof result.quality === "object" ? result.quality : null, result.media === "image");
    parts.forEach(([key, text, warn], i) => {
      if (i) line.append(" · ");
      line.append(el("span", { "data-q": key, class: warn ? "warn" : null }, text));
    });
    line.hidden = parts.length === 0;
  }

  // [key, text, warn] for the compact quality line.
  function qualityParts(q, image) {
    if (!q) return [];
    const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
    const parts = [];
    const median = num(q.face_px_median);
    const min = num(q.face_px_min);
    parts.push(
      median === null
        ? ["face_px", "no face", true]
        : ["face_px", `faces ${Math.round(median)} px${min !== null && Math.round(min) !== Math.round(median) ? ` (smallest ${Math.round(min)})` : ""}`, false],
    );
    const sampled = num(q.frames_sampled);
    const withFace = num(q.frames_with_face);
    if (sampled !== null && withFace !== null && !image) {
      const share = num(q.frames_with_face_share);
      parts.push(["frames_with_face", `a face in ${withFace} of ${sampled} frames${share !== null ? ` (${Math.round(share * 100)} %)` : ""}`, share !== null && share < 0.3]);
    }
    const kbps = num(q.bitrate_kbps);
    const bpp = num(q.bits_per_pixel);
    if (kbps !== null) parts.push(["bitrate", `${Math.round(kbps)} kbps${bpp !== null ? ` (${bpp.toFixed(3)} bits/pixel)` : ""}`, false]);
    if (q.low_quality_reencode === true) parts.push(["low_quality", "low-quality re-encode", true]);
    else if (q.low_quality_reencode === false) parts.push(["low_quality", "bit rate not low", false]);
    return parts;
  }

  function showHonesty(result) {
    const noFace = $("no-face");
    noFace.hidden = result.fallback !== "no_face";
    noFace.textContent = noFace.hidden
      ? ""
      : "No face was found in any sampled frame, so nothing could be scored. The service answered " +
        "0.5, the safe guess, and the verdict above means nothing. Try a clip where a face is " +
        "visible, frontal and at least about 20 pixels tall.";

    const models = Array.isArray(result.models) ? result.models : [];
    const untrainedNames = models.filter((m) => m && m.trained === false).map((m) => String(m.name));
    const untrained = $("untrained");
    untrained.hidden = result.trained !== false && untrainedNames.length === 0;
    untrained.textContent = untrained.hidden
      ? ""
      : `These scores come from untrained (random) weights${untrainedNames.length ? `: ${untrainedNames.join(", ")}` : ""}. ` +
        "They say nothing about this video until trained weights are installed.";

    const list = $("warnings");
    clear(list);
    const warnings = Array.isArray(result.warnings) ? result.warnings : [];
    for (const warning of warnings) list.append(el("li", { "data-testid": "warning" }, String(warning)));
    $("no-warnings").hidden = warnings.length > 0 || !untrained.hidden || !noFace.hidden;
    $("honesty").classList.toggle("quiet", warnings.length === 0 && untrained.hidden && noFace.hidden);
  }

  // Every scored face as {frame, faceIndex, t, p, face}.
  function scoredFaces(result) {
    const out = [];
    for (const frame of Array.isArray(result.frames) ? result.frames : []) {
      (Array.isArray(frame.faces) ? frame.faces : []).forEach((face, faceIndex) => {
        out.push({ frame, faceIndex, t: Number(frame.timestamp_s), p: Number(face.fake_probability), face });
      });
    }
    return out;
  }

  function niceStep(span, target) {
    const raw = span / Math.max(1, target);
    const mag = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
    return 10 * mag;
  }

  // The time axis of a result on a chart `width` px wide: shared by the chart and the people
  // rows. An image (or a video whose sampled frames share one time) is one column, centred.
  function timeAxis(result, width) {
    const frames = Array.isArray(result.frames) ? result.frames : [];
    const video = result.video || {};
    const lastT = frames.reduce((m, f) => Math.max(m, Number(f.timestamp_s) || 0), 0);
    const image = result.media === "image" || ((Number(video.duration_s) || 0) <= 0 && lastT <= 0);
    const duration = Math.max(Number(video.duration_s) || 0, lastT, 0.001);
    const narrow = width < 500;
    const m = { top: 14, right: narrow ? 12 : 70, bottom: 40, left: 56 };
    const iw = width - m.left - m.right;
    const x = image ? () => m.left + iw / 2 : (t) => m.left + (Math.max(0, Math.min(duration, t)) / duration) * iw;
    const ticks = [];
    if (!image) {
      const step = niceStep(duration, narrow ? 4 : 8);
      for (let t = 0; t <= duration + 1e-9; t += step) ticks.push(Number(t.toFixed(6)));
    }
    return { width, narrow, m, iw, duration, image, x, ticks, left: m.left };
  }

  function drawChart(result) {
    const host = $("chart");
    clear(host);
    const faces = scoredFaces(result);
    const frames = Array.isArray(result.frames) ? result.frames : [];
    const video = result.video || {};

    const axis = timeAxis(result, Math.max(280, Math.floor(host.clientWidth || 640)));
    state.axis = axis;
    const { width, narrow, m, iw, duration, x } = axis;
    const height = width < 500 ? 230 : 280;
    const ih = height - m.top - m.bottom;
    const y = (p) => m.top + (1 - Math.max(0, Math.min(1, p))) * ih;

    const root = svg("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": "chart-svg-title chart-svg-desc",
      "data-testid": "timeline",
      class: "timeline",
    });
    root.append(svg("title", { id: "chart-svg-title" }, "Fake probability of each face over the video"));
    root.append(
      svg(
        "desc",
        { id: "chart-svg-desc" },
        `${faces.length} scored face${faces.length === 1 ? "" : "s"} ${axis.image ? "in the image" : `over ${duration.toFixed(2)} s`}; ` +
          `${(result.sequences || []).length} sequences; threshold ${THRESHOLD}.`,
      ),
    );
    root.append(svg("rect", { x: m.left, y: m.top, width: iw, height: ih, class: "plot-bg" }));

    // Sequences: a band over their frames, a bar at the sequence model's score.
    const timeOf = new Map(frames.map((f) => [f.index, Number(f.timestamp_s)]));
    const fps = Number(video.fps) || 25;
    const bands = svg("g", { class: "bands" });
    (Array.isArray(result.sequences) ? result.sequences : []).forEach((seq, i) => {
      const idx = Array.isArray(seq.frame_indices) ? seq.frame_indices : [];
      if (!idx.length) return;
      const times = idx.map((k) => (timeOf.has(k) ? timeOf.get(k) : k / fps));
      const x0 = x(Math.min(...times));
      const x1 = Math.max(x(Math.max(...times)), x0 + 4);
      const face = Number(seq.face) || 0;
      const g = svg("g", {
        class: `sequence face-${Math.min(face, 2)}`,
        "data-testid": "sequence-band",
        "data-face": face,
        "data-p": seq.fake_probability,
      });
      g.append(svg("title", {}, `Sequence ${i + 1}, frames ${idx[0]}–${idx[idx.length - 1]}, face ${face}: ${fmtProb(seq.fake_probability)}`));
      g.append(svg("rect", { x: x0 - 2, y: m.top, width: x1 - x0 + 4, height: ih, class: "band" }));
      if (Number.isFinite(Number(seq.fake_probability))) {
        g.append(svg("line", { x1: x0 - 2, x2: x1 + 2, y1: y(seq.fake_probability), y2: y(seq.fake_probability), class: "seq-score" }));
      }
      bands.append(g);
    });
    root.append(bands);

    // Axes and grid.
    const axes = svg("g", { class: "axes" });
    for (const p of [0, 0.25, 0.5, 0.75, 1]) {
      axes.append(svg("line", { x1: m.left, x2: m.left + iw, y1: y(p), y2: y(p), class: "grid" }));
      axes.append(svg("text", { x: m.left - 6, y: y(p) + 4, class: "tick", "text-anchor": "end" }, p.toFixed(2)));
    }
    for (const t of axis.ticks) {
      axes.append(svg("line", { x1: x(t), x2: x(t), y1: m.top + ih, y2: m.top + ih + 5, class: "tick-mark" }));
      axes.append(svg("text", { x: x(t), y: m.top + ih + 18, class: "tick", "text-anchor": "middle" }, Number(t.toFixed(2))));
    }
    if (axis.image) {
      axes.append(svg("line", { x1: x(0), x2: x(0), y1: m.top + ih, y2: m.top + ih + 5, class: "tick-mark" }));
      axes.append(svg("text", { x: x(0), y: m.top + ih + 18, class: "tick", "text-anchor": "middle" }, "the image"));
    }
    axes.append(svg("text", { x: m.left + iw / 2, y: height - 4, class: "axis-label", "text-anchor": "middle" }, axis.image ? "one still image: every face is in the same column" : "time in the video (s)"));
    axes.append(svg("text", { x: 12, y: m.top + ih / 2, class: "axis-label", "text-anchor": "middle", transform: `rotate(-90 12 ${m.top + ih / 2})` }, "fake probability"));
    axes.append(svg("rect", { x: m.left, y: m.top, width: iw, height: ih, class: "frame" }));
    root.append(axes);

    // Threshold.
    const th = svg("g", { class: "threshold", "data-testid": "threshold", "data-p": THRESHOLD });
    th.append(svg("line", { x1: m.left, x2: m.left + iw, y1: y(THRESHOLD), y2: y(THRESHOLD) }));
    // Outside the plot, where no point can hide it; narrow screens rely on the legend.
    if (!narrow) th.append(svg("text", { x: m.left + iw + 6, y: y(THRESHOLD) + 4, class: "threshold-label" }, "threshold"));
    root.append(th);

    // Points: face 0 filled, face 1 ring, face 2+ small grey; data-person links them to a row.
    const points = svg("g", { class: "points" });
    faces.forEach((f, n) => {
      const kind = Math.min(f.faceIndex, 2);
      const person = Number.isInteger(f.face.person) ? f.face.person : null;
      const c = svg("circle", {
        cx: x(f.t),
        cy: y(f.p),
        r: kind === 2 ? 3.5 : 5,
        class: `face-point face-${kind} ${f.p >= THRESHOLD ? "above" : "below"}`,
        "data-testid": "face-point",
        "data-n": n,
        "data-frame": f.frame.index,
        "data-face": f.faceIndex,
        "data-person": person,
        "data-t": f.t,
        "data-p": f.p,
      });
      const who = person !== null ? `, person ${person}` : "";
      c.append(svg("title", {}, `${axis.image ? "image" : fmtSeconds(f.t)}, frame ${f.frame.index}, face ${f.faceIndex}${who}: ${fmtProb(f.p)}`));
      points.append(c);
    });
    root.append(points);

    if (!faces.length) {
      root.append(svg("text", { x: m.left + iw / 2, y: m.top + ih / 2 - 12, class: "empty", "text-anchor": "middle" }, "No face was scored"));
    }
    host.append(root);
    highlightPerson();

    const legend = $("legend");
    clear(legend);
    const faceKinds = new Set(faces.map((f) => Math.min(f.faceIndex, 2)));
    const entries = [
      [0, "face 0 (largest in its frame)"],
      [1, "face 1 (second face)"],
      [2, "face 2 or more"],
    ];
    for (const [kind, text] of entries) {
      if (!faceKinds.has(kind)) continue;
      legend.append(el("li", { class: `key key-face-${kind}` }, text));
    }
    if ((result.sequences || []).length) legend.append(el("li", { class: "key key-band" }, "sequence (sequence model score)"));
    legend.append(el("li", { class: "key key-threshold" }, "0.5 threshold"));
  }

  function showFaces(result) {
    const host = $("faces");
    clear(host);
    const faces = scoredFaces(result);
    $("face-count").textContent = `(${faces.length})`;
    if (!faces.length) {
      host.append(el("p", { class: "hint wide" }, "No faces were scored."));
      return;
    }
    for (const [n, f] of faces.entries()) {
      const box = f.face.box || {};
      const w = Math.max(1, Number(box.x2) - Number(box.x1) || 1);
      const h = Math.max(1, Number(box.y2) - Number(box.y1) || 1);
      const fig = el("figure", {
        class: `face-thumb face-${Math.min(f.faceIndex, 2)} ${f.p >= THRESHOLD ? "above" : "below"}`,
        "data-testid": "face-thumb",
        "data-n": n,
        "data-frame": f.frame.index,
        "data-face": f.faceIndex,
        "data-p": f.p,
      });
      const person = Number.isInteger(f.face.person) ? f.face.person : null;
      if (person !== null) fig.dataset.person = String(person);
      const src = typeof f.face.image_url === "string" ? sameOriginPath(f.face.image_url) : null;
      if (src) {
        const img = el("img", { alt: `Face ${f.faceIndex} at ${fmtSeconds(f.t)}`, loading: "lazy", decoding: "async", width: 96, height: 96 });
        setImage(img, src);
        if (person !== null) {
          // A click on the face asks for that person's verdict, as its row's faces do.
          const pick = el("button", {
            type: "button",
            class: "thumb-button",
            title: `Check person ${person} (this face as the target)`,
            "aria-label": `Check person ${person}: face ${f.faceIndex} at ${fmtSeconds(f.t)}`,
          }, img);
          const [x1, y1, x2, y2] = [box.x1, box.y1, box.x2, box.y2].map(Number);
          pick.addEventListener("click", () => checkPerson(person, { t: f.t, box: [x1, y1, x2, y2] }));
          fig.append(pick);
        } else {
          fig.append(img);
        }
      } else {
        fig.append(
          el(
            "div",
            { class: "placeholder", role: "img", "aria-label": `No image; face box ${Math.round(w)} by ${Math.round(h)} pixels` },
            el("span", {}, `${Math.round(w)}×${Math.round(h)} px`),
          ),
        );
      }
      fig.append(
        el(
          "figcaption",
          {},
          el("strong", { class: "num score" }, fmtProb(f.p)),
          el("span", { class: "num" }, fmtSeconds(f.t)),
          el("span", {}, `face ${f.faceIndex}`),
          person !== null ? el("span", { class: "thumb-person" }, `person ${person}`) : null,
        ),
      );
      host.append(fig);
    }
  }

  // Only paths on this origin are used as image sources (the CSP would refuse others anyway).
  function sameOriginPath(url) {
    try {
      const parsed = new URL(url, location.href);
      return parsed.origin === location.origin ? parsed.pathname + parsed.search : null;
    } catch (_) {
      return null;
    }
  }

  // With API keys on, an <img> cannot send the key: fetch it with the header, show a blob: URL.
  // One fetch per image and result (the strip and the people rows share it); the blob: URLs
  // are released when the next result replaces this one.
  function setImage(img, src) {
    if (!state.config.auth_required) {
      img.src = src;
      return;
    }
    if (!state.images.has(src)) {
      state.images.set(
        src,
        fetch(src, { headers: authHeaders() })
          .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
          .then((blob) => URL.createObjectURL(blob)),
      );
    }
    const images = state.images;
    images
      .get(src)
      .then((url) => {
        if (images === state.images) img.src = url;
      })
      .catch(() => img.replaceWith(el("div", { class: "placeholder", role: "img", "aria-label": "Image unavailable" }, el("span", {}, "no image"))));
  }

  function resetImages() {
    const old = state.images;
    state.images = new Map();
    for (const url of old.values()) url.then((u) => URL.revokeObjectURL(u), () => {});
  }

  // ---- people: rows under the timeline; a face (or a row's button) asks for that person ----

  const people = window.dfdetectPeople({ el, svg, clear, fmtProb, fmtSeconds, sameOriginPath, setImage });

  function showPeople(result) {
    const host = $("people-rows");
    const list = Array.isArray(result.people) ? result.people : [];
    $("people-count").textContent = `(${list.length})`;
    $("people-empty").hidden = list.length > 0;
    $("people-hint").hidden = list.length === 0;
    const target = result.target && typeof result.target === "object" ? result.target : null;
    const selected = state.pending ? null : target && Number.isInteger(target.person) ? target.person : null;
    const axis = state.axis || timeAxis(result, 640);
    state.hoverPerson = null; // the rows are new: none is under the pointer until it moves
    people.render(host, result, {
      axis,
      faces: scoredFaces(result).map((f) => f.face),
      threshold: THRESHOLD,
      selected,
      pending: state.pending ? state.pending.person : null,
      busy: Boolean(state.xhr),
      onPick: checkPerson,
      onHover: (id) => {
        state.hoverPerson = id;
        highlightPerson();
      },
    });
    highlightPerson();
  }

  // The chart's points of the person under the pointer (else the one answered for) stand out.
  function highlightPerson() {
    const chart = document.querySelector("#chart .timeline");
    if (!chart || !state.result) return;
    const target = state.result.target;
    const answered = target && Number.isInteger(target.person) ? target.person : null;
    const pending = state.pending ? state.pending.person : null;
    const id = state.hoverPerson !== null ? state.hoverPerson : pending !== null ? pending : answered;
    chart.classList.toggle("person-focus", id !== null);
    for (const point of chart.querySelectorAll(".face-point")) {
      point.classList.toggle("hl", id !== null && point.dataset.person === String(id));
    }
  }

  // Re-send the file the result came from, with this face as the target.
  function checkPerson(person, face) {
    if (!face || !Array.isArray(face.box)) return;
    const file = state.sourceFile || (state.file && state.job && state.file.name === state.job.filename ? state.file : null);
    if (!file) {
      showError(
        "Choose the file again to check one person.",
        null,
        "The page no longer holds the file this result came from (it was reloaded); choose or drop it above, then click the face again.",
      );
      ui.file.focus();
      return;
    }
    if (state.xhr) return;
    upload(file, { person, t: Number(face.timestamp_s !== undefined ? face.timestamp_s : face.t), box: face.box.map(Number) });
  }

  // While a targeted re-upload runs: the result stays, dimmed, its row marked as being checked.
  function showPending(file, target) {
    ui.result.classList.add("stale");
    ui.result.setAttribute("aria-busy", "true");
    const where = state.result && state.result.media === "image" ? "its face" : `its face at ${fmtSeconds(target.t)}`;
    $("people-status").textContent = `Checking person ${target.person} in ${file.name}: sending the file again with ${where} as the target…`;
    showPeople(state.result);
  }

  function showModels(result) {
    const body = document.querySelector("#models tbody");
    clear(body);
    for (const member of Array.isArray(result.models) ? result.models : []) {
      const trained = member.trained === true;
      const row = el(
        "tr",
        { "data-testid": "model-row" },
        el("th", { scope: "row" }, String(member.name)),
        el("td", { "data-label": "Kind" }, String(member.kind)),
        el("td", { class: "num", "data-label": "Score" }, member.score === null || member.score === undefined ? "no crops" : fmtProb(member.score)),
        el("td", { "data-label": "Post-processing" }, String(member.postprocess)),
        el("td", { class: trained ? "trained" : "untrained-cell", "data-label": "Weights" }, trained ? "trained" : "UNTRAINED"),
      );
      if (typeof member.checkpoint_sha256 === "string") row.title = `checkpoint sha256 ${member.checkpoint_sha256}`;
      body.append(row);
    }
  }

  function showVideo(result, job) {
    const v = result.video || {};
    const dl = $("video-facts");
    clear(dl);
    const timings = result.timings_ms || {};
    const rows = [
      ["File", job.filename || state.jobFile],
      ["Duration", v.duration_s !== undefined ? fmtSeconds(v.duration_s) : null],
      ["Frame rate", v.fps !== undefined ? `${Number(v.fps).toFixed(2)} fps` : null],
      ["Resolution", v.width !== undefined ? `${v.width} × ${v.height}` : null],
      ["Frames", v.frame_count],
      ["Rotation", v.rotation ? `${v.rotation}°` : "none"],
      ["Codec", v.codec],
      ["Sampled frames", Array.isArray(result.frames) ? result.frames.length : null],
      ["Processing", timings.total !== undefined ? `${(Number(timings.total) / 1000).toFixed(1)} s on the worker` : null],
      ["SHA-256", v.sha256],
    ];
    for (const [name, value] of rows) {
      if (value === null || value === undefined || value === "") continue;
      const dd = el("dd", { class: name === "SHA-256" ? "mono hash" : "" }, String(value));
      dl.append(el("div", {}, el("dt", {}, name), dd));
    }
  }

  function shellQuote(text) {
    return `'${String(text).replace(/'/g, "'\\''")}'`;
  }

  function curlCommand(fileName, target) {
    // curl -F: a file name with ; , or " must be quoted inside the form value.
    const name = /[;,"\\]/.test(fileName) ? `"${fileName.replace(/["\\]/g, "\\$&")}"` : fileName;
    const parts = ["curl -s"];
    if (state.config.auth_required) parts.push(`-H "Authorization: Bearer $DFDETECT_API_KEY"`);
    parts.push(`-F ${shellQuote(`file=@${name}`)}`);
    // The target's JSON, as a form value: --form-string, so curl reads no @ or < in it.
    if (target) parts.push(`--form-string ${shellQuote(`target=${target}`)}`);
    parts.push(shellQuote(`${location.origin}/detect`));
    return parts.join(" ");
  }

  function showScripting(job) {
    const link = $("json-link");
    link.href = `/jobs/${encodeURIComponent(job.job_id)}`;
    link.textContent = state.config.auth_required
      ? `/jobs/${job.job_id} (JSON; needs the key header, so open it with curl)`
      : `/jobs/${job.job_id} (the full result as JSON)`;
    const target = job.result && job.result.target && job.result.target.box ? job.result.target.box : null;
    const targetJson = target ? JSON.stringify({ t: target.t, box: target.box }) : null;
    $("curl").textContent = curlCommand(job.filename || state.jobFile || "video.mp4", targetJson);
    $("copy-status").textContent = "";
  }

  $("copy-curl").addEventListener("click", async () => {
    const text = $("curl").textContent;
    const status = $("copy-status");
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied.";
    } catch (_) {
      // No clipboard (plain http on another host): select the text for a manual copy.
      const range = document.createRange();
      range.selectNodeContents($("curl"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = "Selected; press Ctrl+C to copy.";
    }
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (state.result && !ui.result.hidden) {
        drawChart(state.result);
        showPeople(state.result);
      }
    }, 150);
  });

  // ---- start ------------------------------------------------------------------------------------

  async function init() {
    loadKey();
    try {
      const response = await fetch("/ui/config", { cache: "no-store" });
      if (response.ok) state.config = await response.json();
    } catch (_) {
      showError("The service does not answer.", "network_error", "Reload the page once it runs.");
    }
    ui.keyRow.hidden = !state.config.auth_required;
    if (state.config.max_upload_bytes) ui.sizeLimit.textContent = `, up to ${fmtBytes(state.config.max_upload_bytes)}`;
    document.body.dataset.ready = "true";
    // Reload of a page that followed a job: follow it again.
    const match = /^#job=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
    if (match) {
      state.generation += 1;
      state.fromLink = true;
      startClock();
      followJob(match[1], "");
    }
  }

  init();
})();
