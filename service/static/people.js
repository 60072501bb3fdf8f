// dfdetect's page: the people (face tracks) of a result as rows under the timeline.
// Loaded before app.js, which calls `window.dfdetectPeople(helpers)` with its DOM helpers and
// gets back `render`. Every string from the server goes in as text (the helpers' el / svg);
// positions are set through the CSSOM (node.style), which the page's CSP allows, never as a
// style attribute, which it does not.
"use strict";

window.dfdetectPeople = function (h) {
  const { el, svg, clear } = h;
  const GAP = 4; // px between thumbnails
  const MAX_SIDE = 44; // px, a thumbnail's largest side
  const MIN_SIDE = 18; // px; narrower than this, thumbnails go on more tiers
  const LEADER = 12; // px between the thumbnails and the exact-time ticks
  const TICK = 8; // px, the exact-time ticks under the leaders

  // Left edges for thumbnails of `side` px whose centres want to be at `centres` (sorted), on a
  // lane `width` px wide, none overlapping: overlapping thumbnails merge into a run centred on
  // the mean of their wishes, pushed back inside the lane (the classic label-placement pass).
  function spread(centres, width, side) {
    const runs = [];
    for (const c of centres) {
      runs.push({ count: 1, sum: c });
      for (;;) {
        const last = runs[runs.length - 1];
        const prev = runs[runs.length - 2];
        if (!prev || runLeft(prev, width, side) + prev.count * (side + GAP) <= runLeft(last, width, side)) break;
        prev.count += last.count;
        prev.sum += last.sum;
        runs.pop();
      }
    }
    const lefts = [];
    for (const run of runs) {
      const left = runLeft(run, width, side);
      for (let i = 0; i < run.count; i += 1) lefts.push(left + i * (side + GAP));
    }
    return lefts;
  }

  function runLeft(run, width, side) {
    const span = run.count * (side + GAP) - GAP;
    const left = run.sum / run.count - span / 2;
    return Math.max(0, Math.min(width - span, left));
  }

  // Thumbnail side and tiers so that `n` of them fit on `width` px.
  function sizing(n, width) {
    const fit = (tiers) => Math.floor((width + GAP) / Math.ceil(n / tiers) - GAP);
    let tiers = 1;
    while (fit(tiers) < MIN_SIDE && tiers < n) tiers += 1;
    return { side: Math.max(8, Math.min(MAX_SIDE, fit(tiers))), tiers };
  }

  function pct(p) {
    return typeof p === "number" && Number.isFinite(p) ? `${(p * 100).toFixed(1)} %` : "n/a";
  }

  // One person's row: its header (name, score, verdict, button) and its lane on the time axis.
  function personRow(person, ctx) {
    const id = Number(person.id);
    const faces = (Array.isArray(person.faces) ? person.faces : [])
      .map((f) => ({ ...f, t: Number(f.timestamp_s) }))
      .sort((a, b) => a.t - b.t || Number(a.face) - Number(b.face));
    const selected = ctx.selected === id;
    const pending = ctx.pending === id;
    const p = Number(person.fake_probability);
    const label = typeof person.verdict === "string" ? person.verdict : null;
    const row = el("li", {
      class: `person-row${selected ? " selected" : ""}${pending ? " pending" : ""}`,
      "data-testid": "person-row",
      "data-person": id,
      "data-selected": selected ? "true" : "false",
      "aria-current": selected ? "true" : null,
      "aria-labelledby": `person-${id}-name`,
    });
    const check = el(
      "button",
      {
        type: "button",
        class: "secondary small",
        "data-testid": "check-person",
        "aria-describedby": `person-${id}-name`,
        disabled: faces.length === 0 || ctx.busy,
      },
      "Check this person",
    );
    check.addEventListener("click", () => ctx.onPick(id, largestFace(faces)));
    row.append(
      el(
        "div",
        { class: "person-head" },
        el("strong", { id: `person-${id}-name`, class: "person-name", "data-testid": "person-name" }, `Person ${id}`),
        el("span", { class: `person-score num ${p >= ctx.threshold ? "above" : "below"}`, "data-testid": "person-score", "data-p": p }, pct(p)),
        el(
          "span",
          { class: `person-verdict chip ${label ? label.toLowerCase() : "none"}`, "data-testid": "person-verdict", title: label ? null : "no verdict bands for this model" },
          label || "no verdict",
        ),
        el(
          "span",
          { class: "person-facts hint" },
          `${faces.length} face${faces.length === 1 ? "" : "s"}, median ${Math.round(Number(person.face_px) || 0)} px`,
        ),
        selected ? el("span", { class: "chip answered", "data-testid": "person-answered" }, "this answer") : null,
        pending ? el("span", { class: "chip checking" }, "checking…") : null,
        check,
      ),
    );
    row.append(lane(id, faces, ctx));
    row.addEventListener("mouseenter", () => ctx.onHover(id));
    row.addEventListener("mouseleave", () => ctx.onHover(null));
    row.addEventListener("focusin", () => ctx.onHover(id));
    row.addEventListener("focusout", () => ctx.onHover(null));
    return row;
  }

  // The face whose box is largest: the surest to find the same track again.
  function largestFace(faces) {
    let best = null;
    let area = -1;
    for (const f of faces) {
      const [x1, y1, x2, y2] = f.box.map(Number);
      if ((x2 - x1) * (y2 - y1) > area) {
        area = (x2 - x1) * (y2 - y1);
        best = f;
      }
    }
    return best;
  }

  function lane(id, faces, ctx) {
    const axis = ctx.axis;
    const width = Math.max(40, axis.iw);
    const x = (t) => axis.x(t) - axis.left; // the lane starts where the chart's plot does
    const { side, tiers } = sizing(Math.max(1, faces.length), width);
    const thumbsHeight = tiers * (side + GAP);
    const height = thumbsHeight + LEADER + TICK;
    const host = el("div", { class: "person-lane", "data-testid": "person-lane" });
    host.style.marginLeft = `${axis.left - 1}px`; // the row's 1 px border: align with the chart
    host.style.width = `${width}px`;
    host.style.height = `${height}px`;

    const under = svg("svg", { class: "lane-lines", width, height, viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true", focusable: "false" });
    for (const t of axis.ticks) under.append(svg("line", { x1: x(t), x2: x(t), y1: 0, y2: height, class: "lane-grid" }));
    under.append(svg("line", { x1: 0, x2: width, y1: height - TICK / 2, y2: height - TICK / 2, class: "lane-base" }));
    host.append(under);

    const centres = faces.map((f) => x(f.t));
    const byTier = Array.from({ length: tiers }, () => []);
    faces.forEach((f, i) => byTier[i % tiers].push(i));
    byTier.forEach((indices, tier) => {
      const lefts = spread(indices.map((i) => centres[i]), width, side);
      indices.forEach((i, k) => {
        const f = faces[i];
        const left = lefts[k];
        const top = tier * (side + GAP);
        under.append(svg("line", { x1: left + side / 2, y1: top + side, x2: centres[i], y2: thumbsHeight + LEADER, class: "leader" }));
        under.append(svg("line", { x1: centres[i], x2: centres[i], y1: thumbsHeight + LEADER, y2: height, class: "lane-tick", "data-n": f.face }));
        host.append(faceButton(id, f, { left, top, side }, ctx));
      });
    });
    if (!faces.length) host.append(el("span", { class: "hint lane-empty" }, "no faces"));
    return host;
  }

  function faceButton(id, f, pos, ctx) {
    const n = Number(f.face);
    const scored = ctx.faces[n];
    const [x1, y1, x2, y2] = f.box.map(Number);
    const w = Math.max(1, Math.round(x2 - x1));
    const hgt = Math.max(1, Math.round(y2 - y1));
    const where = ctx.axis.image ? "in the image" : `at ${h.fmtSeconds(f.t)} (frame ${f.frame})`;
    const score = scored ? `, scored ${h.fmtProb(Number(scored.fake_probability))}` : "";
    const button = el("button", {
      type: "button",
      class: `person-face${scored && Number(scored.fake_probability) >= ctx.threshold ? " above" : ""}`,
      "data-testid": "person-face",
      "data-person": id,
      "data-n": n,
      "data-frame": f.frame,
      "data-t": f.t,
      "aria-label": `Check person ${id}: its face ${where}${score}`,
      title: `Person ${id}, face ${where}${score}; click to check this person`,
      disabled: ctx.busy,
    });
    button.style.left = `${pos.left}px`;
    button.style.top = `${pos.top}px`;
    button.style.width = `${pos.side}px`;
    button.style.height = `${pos.side}px`;
    const src = scored && typeof scored.image_url === "string" ? h.sameOriginPath(scored.image_url) : null;
    if (src) {
      const img = el("img", { alt: "", width: pos.side, height: pos.side, decoding: "async", "data-testid": "person-face-image" });
      h.setImage(img, src);
      button.append(img);
    } else {
      // No stored image: the face box itself, at its aspect ratio.
      const marker = el("span", { class: "box-marker", "data-testid": "person-face-box" });
      const scale = (pos.side - 6) / Math.max(w, hgt);
      marker.style.width = `${Math.max(4, Math.round(w * scale))}px`;
      marker.style.height = `${Math.max(4, Math.round(hgt * scale))}px`;
      button.append(marker);
    }
    button.addEventListener("click", () => ctx.onPick(id, f));
    return button;
  }

  // Draws the rows into `host`. ctx: axis (left, iw, x(t), ticks, image), faces (the result's
  // FaceScores in frame order), threshold, selected / pending (person ids or null), busy,
  // onPick(personId, personBox), onHover(personId | null).
  function render(host, result, ctx) {
    clear(host);
    const people = Array.isArray(result.people) ? result.people : [];
    for (const person of people) host.append(personRow(person, ctx));
    return people.length;
  }

  return { render, spread, sizing };
};
