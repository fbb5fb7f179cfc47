"""What a run reports: TensorBoard scalars under CleanRL's names, and Weights & Biases
(opt-in, synced from the TensorBoard events)."""

from __future__ import annotations

from pathlib import Path


def log_update(writer, m: dict, step: int, sps: float, has_success: bool) -> None:
    """One update's metrics of one seed, under CleanRL's names."""
    if m.get("trials"):
        writer.add_scalar("charts/trial_return", m["trial_return_sum"] / m["trials"], step)
    if m["episodes"]:
        writer.add_scalar("charts/episodic_return", m["return_sum"] / m["episodes"], step)
        writer.add_scalar("charts/episodic_length", m["length_sum"] / m["episodes"], step)
        if has_success:
            writer.add_scalar("charts/success", m["success_sum"] / m["episodes"], step)
        for k in m:
            if k.startswith("task/"):
                writer.add_scalar(f"charts/{k[5:]}", m[k] / m["episodes"], step)
    writer.add_scalar("charts/SPS", sps, step)
    writer.add_scalar("charts/learning_rate", m["learning_rate"], step)
    writer.add_scalar("charts/entropy_coef", m["ent_coef"], step)
    for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "loss"):
        writer.add_scalar(f"losses/{k}", m[k], step)
    for k in ("reconstruction_loss", "ground_truth_loss"):
        if k in m:
            writer.add_scalar(f"losses/{k}", m[k], step)


def log_eval(writer, summary: dict, step: int) -> None:
    """An evaluation summary (:func:`engram.evaluation.evaluate`) under ``eval/``."""
    writer.add_scalar("eval/episodic_return", summary["mean_return"], step)
    writer.add_scalar("eval/episodic_length", summary["mean_length"], step)
    if summary["success_rate"] is not None:
        writer.add_scalar("eval/success", summary["success_rate"], step)


def start_wandb(c, run: Path):
    """Start (or, for a resumed run, continue) the Weights & Biases run of ``run``; the
    TensorBoard events are synced to it, so both show the same metrics."""
    try:
        import wandb
    except ImportError:
        raise ImportError('--track needs wandb: pip install "engram[track]"') from None
    return wandb.init(
        project=c.wandb_project,
        entity=c.wandb_entity,
        name=run.name,
        id=run.name.replace(":", "-"),
        resume="allow",
        config=c.resolved(),
        dir=str(run),
        sync_tensorboard=True,
    )
