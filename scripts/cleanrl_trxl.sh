#!/usr/bin/env bash
# CleanRL's ppo_trxl.py (the Memory Gym paper's Transformer-XL PPO) on an engram id, with
# only its memory_gym import and the env id changed: a check that engram is a drop-in for
# memory-gym's clients. CleanRL's code is not part of engram: pass a checkout of it.
#
#   bash scripts/cleanrl_trxl.sh CLEANRL_DIR [VENV_DIR] [extra ppo_trxl.py arguments]
#
# CLEANRL_DIR: a checkout of github.com/vwxyzjn/cleanrl (its cleanrl/ppo_trxl/ppo_trxl.py
# and pom_env.py are copied to a temporary folder and run from there).
# VENV_DIR (default .venv-cleanrl): made if missing, with what CleanRL's ppo_trxl pins
# where it matters (gymnasium 0.29, as memory-gym), CPU PyTorch and engram.
# By default a few updates: 2 environments x 64 steps, 2 iterations, CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
cleanrl=${1:?usage: scripts/cleanrl_trxl.sh CLEANRL_DIR [VENV_DIR] [args]}
venv=$(realpath -m "${2:-.venv-cleanrl}")
shift $(( $# >= 2 ? 2 : 1 ))
src="$cleanrl/cleanrl/ppo_trxl"
[ -f "$src/ppo_trxl.py" ] || { echo "no $src/ppo_trxl.py" >&2; exit 2; }
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "torch==2.13.0" "gymnasium==0.29.1" tyro einops tensorboard minigrid
    "$venv/bin/pip" install -q -e .
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/ppo_trxl.py" "$src/pom_env.py" "$work/"
# The only change to CleanRL's script: the import (the env id is an argument).
grep -q '^import memory_gym' "$work/ppo_trxl.py" || { echo "ppo_trxl.py has no 'import memory_gym'" >&2; exit 2; }
sed -i 's/^import memory_gym/import engram/' "$work/ppo_trxl.py"
diff "$src/ppo_trxl.py" "$work/ppo_trxl.py" || true
cd "$work"
"$venv/bin/python" ppo_trxl.py --env-id engram/MortarMayhem-Grid-v0 --no-cuda \
    --num-envs 2 --num-steps 64 --total-timesteps 256 --num-minibatches 2 \
    --update-epochs 1 "$@"
