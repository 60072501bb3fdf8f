"""The benchmark's summary: medians per stage, speed-ups, cost against length, face agreement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.records import BenchClip, BenchRun, median, ratio
from contract.result import Box, DetectionResult

STAGES = ("decode", "detect_faces", "crop", "score", "postprocess", "total")
"""The pipeline's stages, in order (DetectionPipeline.detect's timings_ms)."""
MATCH_IOU = 0.5
"""Boxes overlapping at least this much are the same face."""


def summarise(clips: Sequence[BenchClip], runs: Sequence[BenchRun]) -> dict[str, Any]:
    """Medians per clip and configuration, speed-ups, length scaling, agreement."""
    summary: list[dict[str, Any]] = []
    for clip in clips:
        for config in dict.fromkeys(run.config for run in runs):
            mine = [run for run in runs if run.clip == clip.name and run.config == config]
            if not mine:
                continue
            stages = {s: median([r.timings_ms.get(s, 0.0) for r in mine]) for s in STAGES}
            members = {
                k: median([r.members_ms.get(k, 0.0) for r in mine]) for k in mine[0].members_ms
            }
            gpu = [r.peak_gpu_mb for r in mine if r.peak_gpu_mb is not None]
            summary.append(
                {
                    "clip": clip.name,
                    "config": config,
                    "runs": len(mine),
                    "stages_ms": stages,
                    "members_ms": members,
                    "cpu_s": median([r.cpu_s for r in mine]),
                    "videos_per_minute": ratio(60_000, stages["total"]),
                    "peak_rss_mb": max(r.peak_rss_mb for r in mine),
                    "peak_gpu_mb": max(gpu) if gpu else None,
                }
            )
    totals = {(row["clip"], row["config"]): row["stages_ms"]["total"] for row in summary}
    scoring = {(row["clip"], row["config"]): row["stages_ms"]["score"] for row in summary}
    paired = [
        clip.name
        for clip in clips
        if (clip.name, "reference") in totals and (clip.name, "fast") in totals
    ]
    return {
        "summary": summary,
        "speedup": {c: ratio(totals[(c, "reference")], totals[(c, "fast")]) for c in paired},
        # The most any faster decode or detection could give: the fast path's scoring alone
        # against the whole reference. A target above it needs cheaper scoring, not plumbing.
        "speedup_ceiling": {
            c: ratio(totals[(c, "reference")], scoring[(c, "fast")]) for c in paired
        },
        "length_scaling": length_scaling(clips, totals),
        "face_agreement": [face_agreement(clip.name, runs) for clip in clips],
        "score_difference": [score_difference(clip.name, runs) for clip in clips],
    }


def length_scaling(clips: Sequence[BenchClip], totals: dict[tuple[str, str], float]) -> dict:
    """Each generated clip's total over the 10-s generated clip's, per configuration."""
    generated = sorted((c for c in clips if c.source == "generated"), key=lambda c: c.seconds)
    out: dict[str, dict[str, float | None]] = {}
    if len(generated) < 2:
        return out
    shortest = generated[0]
    for config in ("reference", "fast"):
        if (shortest.name, config) not in totals:
            continue
        base = totals[(shortest.name, config)]
        out[config] = {
            clip.name: ratio(totals[(clip.name, config)], base)
            for clip in generated[1:]
            if (clip.name, config) in totals
        }
    return out


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    width = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    height = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = width * height
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def compare_faces(reference: DetectionResult, other: DetectionResult) -> dict[str, Any]:
    """Faces kept in each sampled frame by two runs: counts, matched pairs and their IoU."""
    frames = {frame.index: frame for frame in other.frames}
    found_ref = found_other = matched = 0
    ious: list[float] = []
    for frame in reference.frames:
        theirs = list(frames[frame.index].faces) if frame.index in frames else []
        found_ref += len(frame.faces)
        found_other += len(theirs)
        for face in frame.faces:
            best = max(theirs, key=lambda t: box_iou(face.box, t.box), default=None)
            if best is not None and box_iou(face.box, best.box) >= MATCH_IOU:
                ious.append(box_iou(face.box, best.box))
                theirs.remove(best)
                matched += 1
    return {
        "faces_reference": found_ref,
        "faces_fast": found_other,
        "matched": matched,
        "mean_iou": round(sum(ious) / len(ious), 4) if ious else None,
        "min_iou": round(min(ious), 4) if ious else None,
    }


def face_agreement(clip: str, runs: Sequence[BenchRun]) -> dict[str, Any]:
    """Full-size (reference) against fast detection on one clip's first repeat."""
    pair = _first_pair(clip, runs)
    return {"clip": clip, **(compare_faces(*pair) if pair else {})}


def score_difference(clip: str, runs: Sequence[BenchRun]) -> dict[str, Any]:
    """|fast - reference| of each member's video score and of the combined probability.

    With detection at a different scale the crops differ, so this is not the 0.01 check
    (tests/test_bench.py makes that one at full-size detection).
    """
    pair = _first_pair(clip, runs)
    if pair is None:
        return {"clip": clip}
    reference, fast = pair
    members = {m.name: m.score for m in fast.models}
    return {
        "clip": clip,
        "fake_probability": round(abs(fast.fake_probability - reference.fake_probability), 5),
        "members": {m.name: _difference(members[m.name], m.score) for m in reference.models},
    }


def _difference(a: float | None, b: float | None) -> float | None:
    """|a - b|; None when a member scored nothing (no face) in either run."""
    return None if a is None or b is None else round(abs(a - b), 5)


def _first_pair(
    clip: str, runs: Sequence[BenchRun]
) -> tuple[DetectionResult, DetectionResult] | None:
    found = {r.config: r.result for r in runs if r.clip == clip and r.repeat == 0}
    if "reference" in found and "fast" in found:
        return found["reference"], found["fast"]
    return None


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table: one row per clip and configuration, then ratios."""
    facts, work = report["machine"], report["workload"]
    device = facts.get("gpu") or f"{facts['cpu']}, {facts['torch_threads']} threads"
    lines = [
        f"dfdetect bench: {len(work['members'])} x {work['backbone']} at {work['image_size']}, "
        f"{work['sequences']} x {work['sequence_length']} frames, {work['precision']}, "
        f"{facts['device']} ({device}), allocator {facts['allocator']}; "
        f"median of {work['repeats']} run(s), seconds",
    ]
    member_keys = sorted({k for row in report["summary"] for k in row["members_ms"]})
    header = ["clip", "config", "decode", "detect", "crop", "score", "post", "total"]
    header += ["cpu_s", "videos/min", "RSS MB", "GPU MB", "members"]
    rows = [header]
    for row in report["summary"]:
        s = row["stages_ms"]
        members = " ".join(
            f"{k}={row['members_ms'][k] / 1000:.2f}" for k in member_keys if k in row["members_ms"]
        )
        rows.append(
            [
                row["clip"],
                row["config"],
                *(f"{s[k] / 1000:.2f}" for k in ("decode", "detect_faces", "crop", "score")),
                f"{s['postprocess'] / 1000:.3f}",
                f"{s['total'] / 1000:.2f}",
                f"{row['cpu_s']:.1f}",
                f"{row['videos_per_minute']}",
                f"{row['peak_rss_mb']:.0f}",
                "-" if row["peak_gpu_mb"] is None else f"{row['peak_gpu_mb']:.0f}",
                members,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    for clip, value in report["speedup"].items():
        ceiling = report["speedup_ceiling"][clip]
        lines.append(
            f"speed-up (reference / fast) on {clip}: x{value} "
            f"(at most x{ceiling} with decode and detection free: reference / fast scoring)"
        )
    for config, scaling in report["length_scaling"].items():
        for clip, value in scaling.items():
            lines.append(f"cost of {clip} over the 10-s generated clip, {config}: x{value}")
    for agreement in report["face_agreement"]:
        if "matched" in agreement:
            lines.append(
                f"faces on {agreement['clip']}: reference {agreement['faces_reference']}, "
                f"fast {agreement['faces_fast']}, matched {agreement['matched']}, "
                f"IoU mean {agreement['mean_iou']} min {agreement['min_iou']}"
            )
    if "throughput" in report:
        t = report["throughput"]
        lines.append(
            f"throughput, fast path, {t['decode_workers']} decode threads ahead: "
            f"{t['videos_per_s']} videos/s ({t['videos']} videos in {t['seconds']} s)"
        )
    return "\n".join(lines)
