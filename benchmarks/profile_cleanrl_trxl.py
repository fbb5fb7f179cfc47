"""Where the time of one PPO update of CleanRL's ``ppo_trxl.py`` goes (issue 20), measured from
outside: the script is run unchanged (``runpy``) with timers wrapped around what it calls.

Run it with CleanRL's interpreter (see ``benchmarks/cleanrl_trxl.py`` for that venv), after
extracting ``cleanrl/ppo_trxl`` from a CleanRL checkout; everything after the script's path is
passed to the script::

    git --git-dir=/work/.mirror/vwxyzjn+cleanrl/repo archive HEAD cleanrl/ppo_trxl \\
        | tar -x -C /tmp/cleanrl_x
    cd /tmp && taskset -c 1 /work/cleanrl-venv/bin/python \\
        /work/main/benchmarks/profile_cleanrl_trxl.py --out /tmp/cleanrl_profile.json \\
        --torch-profile-update 4 /tmp/cleanrl_x/cleanrl/ppo_trxl/ppo_trxl.py \\
        --env-id MortarMayhem-Grid-v0 --no-cuda --norm-adv --num-envs 16 --num-steps 128 \\
        --num-minibatches 8 --update-epochs 3 --total-timesteps 8192 --trxl-num-layers 3 \\
        --trxl-dim 384 --trxl-num-heads 4 --trxl-memory-length 119

What is wrapped (nothing of the script is edited): ``SyncVectorEnv.step`` (the original
Memory Gym), ``torch.Tensor.backward``, ``torch.nn.utils.clip_grad_norm_``,
``torch.optim.AdamW.step``, ``torch.randperm`` (called at the start of each epoch: the learning
phase starts at the first), ``print`` (the line ``<update> SPS=...`` ends an update), the
script's ``Agent.get_action_and_value`` and ``get_value`` (found in ``__main__`` when the
optimiser is built), and global module forward hooks timing the encoder (the CNN and its
``Linear(3136, dim)``) and the ``Transformer``. While learning, a gradient hook on the outputs
of both splits each backward pass into heads + loss / Transformer / CNN (autograd runs them in
that order on the calling thread). With ``--torch-profile-update N`` the learning phase of
update ``N`` runs under ``torch.profiler`` (its op table goes to ``OUT.ops.txt``; that update
and the ones after it are slower and are left out of the mean).

Prints, per update after the first (the first includes start-up), the split and, at the end,
the mean over those updates; writes the raw timers to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import builtins
import collections
import json
import os
import runpy
import sys
import time

import gymnasium as gym
import torch

clock = time.perf_counter
current = {"update": 1}  # the update running now, 1-based as the script counts
timers = collections.defaultdict(lambda: collections.defaultdict(float))
marks = collections.defaultdict(dict)
windows = collections.defaultdict(set)
state: dict = {"profiler": None, "profile_update": 0, "out": ""}


def add(key: str, seconds: float) -> None:
    timers[current["update"]][key] += seconds


def timed(key: str, fn):
    def wrapper(*args, **kwargs):
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            add(key, clock() - start)

    return wrapper


def install() -> None:
    """Wrap what the script calls; see the module docstring."""
    gym.vector.SyncVectorEnv.step = timed("env_step", gym.vector.SyncVectorEnv.step)
    torch.nn.utils.clip_grad_norm_ = timed("clip_grad", torch.nn.utils.clip_grad_norm_)
    torch.optim.AdamW.step = timed("adamw", torch.optim.AdamW.step)
    backward, randperm, print_ = torch.Tensor.backward, torch.randperm, builtins.print

    def timed_backward(self, *args, **kwargs):
        state["bw"] = bw = {"start": clock()}
        backward(self, *args, **kwargs)
        end = clock()
        add("backward", end - bw["start"])
        if "transformer" in bw and "encoder" in bw:
            add("bw_heads_loss", bw["transformer"] - bw["start"])
            add("bw_transformer", bw["encoder"] - bw["transformer"])
            add("bw_cnn", end - bw["encoder"])

    def marked_randperm(*args, **kwargs):
        marks[current["update"]].setdefault("learn_start", clock())
        if current["update"] == state["profile_update"] and state["profiler"] is None:
            activities = [torch.profiler.ProfilerActivity.CPU]
            state["profiler"] = torch.profiler.profile(activities=activities)
            state["profiler"].start()
        return randperm(*args, **kwargs)

    def marked_print(*args, **kwargs):
        if "SPS=" in " ".join(str(a) for a in args):
            marks[current["update"]]["end"] = clock()
            prof = state["profiler"]
            if prof is not None and prof != "done":
                prof.stop()
                table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40)
                with open(state["out"] + ".ops.txt", "w") as f:
                    f.write(table)
                state["profiler"] = "done"
            current["update"] += 1
            marks[current["update"]]["start"] = clock()  # after the profiler's table
        return print_(*args, **kwargs)

    torch.Tensor.backward = timed_backward
    torch.randperm = marked_randperm
    builtins.print = marked_print

    started = {}

    def part(module) -> str | None:
        if type(module).__name__ == "Transformer":
            return "transformer"
        first = next(iter(module.children()), None)
        if isinstance(module, torch.nn.Sequential) and isinstance(first, torch.nn.Conv2d):
            return "encoder"
        return None

    def pre_hook(module, inputs):
        if part(module):
            started[id(module)] = clock()

    def post_hook(module, inputs, output):
        name = part(module)
        if not name:
            return
        phase = "learn" if torch.is_grad_enabled() else "act"
        add(f"fw_{phase}_{name}", clock() - started.pop(id(module)))
        if name == "transformer":
            windows[phase].add(tuple(inputs[1].shape))  # (batch, window, layers, dim)
        if phase == "learn":
            tensor = output[0] if name == "transformer" else output

            def arrived(grad, name=name):
                state["bw"].setdefault(name, clock())

            tensor.register_hook(arrived)

    torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
    torch.nn.modules.module.register_module_forward_hook(post_hook)

    adamw_init = torch.optim.AdamW.__init__

    def wrap_agent(self, *args, **kwargs):
        agent = sys.modules["__main__"].__dict__["Agent"]
        if not getattr(agent, "_timed", False):
            act, value = agent.get_action_and_value, agent.get_value

            def get_action_and_value(self_, *a, **k):
                start = clock()
                out = act(self_, *a, **k)
                add("fw_learn" if torch.is_grad_enabled() else "fw_act", clock() - start)
                return out

            def get_value(self_, *a, **k):
                marks[current["update"]]["bootstrap"] = start = clock()
                out = value(self_, *a, **k)
                add("fw_bootstrap", clock() - start)
                return out

            agent.get_action_and_value, agent.get_value = get_action_and_value, get_value
            agent._timed = True
        adamw_init(self, *args, **kwargs)

    torch.optim.AdamW.__init__ = wrap_agent


def split(update: int) -> dict:
    """Seconds of one update's parts (the rollout from the previous update's line)."""
    m, t = marks[update], timers[update]
    prev = m.get("start", marks[update - 1]["end"])
    learn = m["end"] - m["learn_start"]
    rollout = m["bootstrap"] - prev
    fw_learn, bw = t["fw_learn"], t["backward"]
    return {
        "update": m["end"] - prev,
        "rollout": rollout,
        "  env_step (SyncVectorEnv.step)": t["env_step"],
        "  forward (act)": t["fw_act"],
        "    CNN + Linear(3136, dim)": t["fw_act_encoder"],
        "    Transformer": t["fw_act_transformer"],
        "  rollout bookkeeping (rest)": rollout - t["env_step"] - t["fw_act"],
        "bootstrap value, GAE, flattening": m["learn_start"] - m["bootstrap"],
        "learning": learn,
        "  forward": fw_learn,
        "    CNN + Linear(3136, dim) (fw)": t["fw_learn_encoder"],
        "    Transformer (fw)": t["fw_learn_transformer"],
        "  backward": bw,
        "    heads + loss (bw)": t["bw_heads_loss"],
        "    Transformer (bw)": t["bw_transformer"],
        "    CNN + Linear(3136, dim) (bw)": t["bw_cnn"],
        "  clip_grad_norm_ + AdamW.step": t["clip_grad"] + t["adamw"],
        "  learning rest (minibatch gathers, loss, .item())": learn
        - fw_learn
        - bw
        - t["clip_grad"]
        - t["adamw"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="cleanrl_profile.json", help="raw timers (JSON)")
    parser.add_argument("--torch-profile-update", type=int, default=0, help="0: none")
    parser.add_argument("script", help="CleanRL's ppo_trxl.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    args = parser.parse_args()
    state["out"], state["profile_update"] = args.out, args.torch_profile_update
    sys.argv = [args.script, *args.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)
    install()
    runpy.run_path(args.script, run_name="__main__")
    done = [u for u in sorted(marks) if u > 1 and "end" in marks[u] and "bootstrap" in marks[u]]
    # The profiled update is slower, and so are the ones after it (the profiler leaves its
    # observers behind): the mean is over the updates before it.
    profiled = args.torch_profile_update
    timed_updates = [u for u in done if not profiled or u < profiled]
    rows = {u: split(u) for u in done}
    for u in done:
        total = rows[u]["update"]
        note = " (under torch.profiler)" if u == args.torch_profile_update else ""
        print(f"update {u}{note}: {total:.2f} s, learning window {sorted(windows['learn'])}")
    if timed_updates:
        print(f"mean of updates {timed_updates}:")
        total = sum(rows[u]["update"] for u in timed_updates) / len(timed_updates)
        for key in rows[timed_updates[0]]:
            mean = sum(rows[u][key] for u in timed_updates) / len(timed_updates)
            print(f"  {key:<52} {mean:8.2f} s  {100 * mean / total:5.1f} %")
    with open(args.out, "w") as f:
        raw = {
            "timers": timers,
            "marks": marks,
            "windows": {k: sorted(v) for k, v in windows.items()},
        }
        json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
